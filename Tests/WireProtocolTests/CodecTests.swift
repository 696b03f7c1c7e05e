import XCTest

@testable import WireProtocol

final class CodecTests: XCTestCase {
    static let samples: [Message] = [
        .hello(
            Hello(
                role: .worker, name: "w1", host: "h", pid: 42, workerID: 0, localDataSHA256: "ab",
                numerics: "ks2-x86-64-v3-fma/0011223344556677")),
        .welcome(
            Welcome(
                workerID: 3, config: Array("{}".utf8), serverEndpoints: ["tcp://a:1", "tcp://b:2"], heartbeatMilliseconds: 500,
                shipsData: true, dataSHA256: "ff", trainCount: 10, rows: 28, cols: 28)),
        .dataChunk(DataChunk(kind: .images, offset: 4, total: 10, bytes: [1, 2, 3])),
        .ready(Ready(workerID: 3)),
        .assignment(Assignment(epoch: 1, stepInEpoch: 2, microBatches: [0, 3, 5], view: 9)),
        .weights(Weights(offset: 0, values: [1.5, -2, .pi])),
        .gradientPush(GradientPush(microBatch: 4, samples: 16, loss: 0.25, correct: 12, offset: 0, values: [0.1, 0.2])),
        .heartbeat(Heartbeat(workerID: 3, computed: 99)),
        .shutdown(Shutdown(reason: "done")),
        .reject(Reject(reason: "nope")),
        .shardInit(
            ShardInit(
                shard: 1, shards: 2, offset: 3, optimizerStep: 9, optimizer: Array("{}".utf8), parameters: [1, 2], first: [3, 4],
                second: [5, 6])),
        .beginStep(BeginStep(microBatches: 8, learningRate: 0.001, wantState: true, workers: [1, 2, 5])),
        .stepDone(
            StepDone(
                shard: 1, loss: 2.5, correct: 7, samples: 16, computeSeconds: 0.01, parameters: [1, 2], first: [3, 4],
                second: [5, 6])),
        .stepDone(
            StepDone(shard: 0, loss: 2.5, correct: 7, samples: 16, computeSeconds: 0.01, parameters: [1, 2], first: nil, second: nil)),
        .gradientSum(
            GradientSumPush(
                parts: [.init(microBatch: 0, samples: 16, loss: 3.5, correct: 14), .init(microBatch: 6, samples: 12, loss: 2, correct: 9)],
                computeSeconds: 0.02, offset: 5, values: [1 << 40, -(1 << 52), 0, .max]))
    ]

    func testEveryMessageRoundTrips() throws {
        XCTAssertEqual(Set(Self.samples.map(\.type.rawValue)), Set(MessageType.allCases.map(\.rawValue)), "a message type lacks a sample")
        for m in Self.samples {
            let e = Envelope(jobID: 0xDEAD_BEEF, sender: 7, step: 123_456_789, message: m)
            XCTAssertEqual(try WireCodec.decode(WireCodec.encode(e)), e)
        }
    }

    /// The workers' one-copy encoders give exactly the frames `encode` gives, for any slice of
    /// a larger buffer (pushes carry one shard's key range), and ignore the message's own values.
    func testBufferEncodersMatchEncode() {
        let floats: [Float] = (0..<37).map { Float($0) * 0.37 - 3 }
        let sums: [Int64] = (0..<37).map { Int64($0) * 1_000_003 - (1 << 45) }
        for range in [0..<37, 5..<19, 36..<37, 0..<0] {
            let push = GradientPush(
                microBatch: 3, samples: 16, loss: 2.25, correct: 11, computeSeconds: 0.004, offset: UInt64(range.lowerBound), values: [])
            var full = push
            full.values = Array(floats[range])
            let fromBuffer = floats.withUnsafeBufferPointer {
                WireCodec.encodeGradientPush(jobID: 9, sender: 2, step: 77, push, values: UnsafeBufferPointer(rebasing: $0[range]))
            }
            XCTAssertEqual(
                fromBuffer, WireCodec.encode(Envelope(jobID: 9, sender: 2, step: 77, message: .gradientPush(full))), "push \(range)")
            XCTAssertEqual(try WireCodec.decode(fromBuffer).message, .gradientPush(full))
            let sum = GradientSumPush(
                parts: [.init(microBatch: 1, samples: 16, loss: 3, correct: 9), .init(microBatch: 4, samples: 16, loss: 1.5, correct: 15)],
                computeSeconds: 0.009, offset: UInt64(range.lowerBound), values: [42])
            var fullSum = sum
            fullSum.values = Array(sums[range])
            let sumFromBuffer = sums.withUnsafeBufferPointer {
                WireCodec.encodeGradientSum(jobID: 9, sender: 2, step: 77, sum, values: UnsafeBufferPointer(rebasing: $0[range]))
            }
            XCTAssertEqual(
                sumFromBuffer, WireCodec.encode(Envelope(jobID: 9, sender: 2, step: 77, message: .gradientSum(fullSum))), "sum \(range)")
            XCTAssertEqual(try WireCodec.decode(sumFromBuffer).message, .gradientSum(fullSum))
        }
    }

    func testEveryTruncationIsRejected() {
        for m in Self.samples {
            let frames = WireCodec.encode(Envelope(jobID: 1, sender: 1, step: 1, message: m))
            for (f, frame) in frames.enumerated() {
                for n in 0..<frame.count {
                    var cut = frames
                    cut[f] = Array(frame[0..<n])
                    XCTAssertThrowsError(try WireCodec.decode(cut), "\(m.type) frame \(f) cut at \(n)")
                }
            }
            XCTAssertThrowsError(try WireCodec.decode(Array(frames.dropLast())), "\(m.type) missing a frame")
            XCTAssertThrowsError(try WireCodec.decode(frames + [[0]]), "\(m.type) with an extra frame")
        }
    }

    func testWrongVersionMagicTypeAndSizesAreRejectedWithAReason() {
        var frames = WireCodec.encode(Envelope(jobID: 1, sender: 1, step: 1, message: .ready(Ready(workerID: 1))))
        var bad = frames
        bad[0][4] = UInt8(WireCodec.version + 1)
        XCTAssertThrowsError(try WireCodec.decode(bad)) {
            XCTAssertEqual("\($0)", "protocol version \(WireCodec.version + 1) is not supported (expected \(WireCodec.version))")
        }
        bad = frames
        bad[0][0] = 0x58
        XCTAssertThrowsError(try WireCodec.decode(bad)) { XCTAssertEqual("\($0)", "not a Digits message (bad magic)") }
        bad = frames
        bad[0][6] = 0xEE
        XCTAssertThrowsError(try WireCodec.decode(bad)) { XCTAssertTrue("\($0)".contains("unknown message type"), "\($0)") }
        frames = WireCodec.encode(Envelope(jobID: 1, sender: 1, step: 1, message: .weights(Weights(offset: 0, values: [1, 2]))))
        bad = frames
        bad[2] += [0, 0, 0, 0]
        XCTAssertThrowsError(try WireCodec.decode(bad)) { XCTAssertTrue("\($0)".contains("expected 2 Float32 values"), "\($0)") }
        XCTAssertThrowsError(try WireCodec.decode([[UInt8](repeating: 0, count: 40)]))
        XCTAssertThrowsError(try WireCodec.decode([]))
    }

    func testOversizedAnnouncementsAreRejectedBeforeAllocation() {
        var w = ByteWriter()
        w.u32(1)
        w.u32(2)
        w.u32(3)
        w.u32(UInt32.max)  // an assignment claiming 4 billion micro-batches
        var header = WireCodec.encode(
            Envelope(jobID: 1, sender: 1, step: 1, message: .assignment(Assignment(epoch: 0, stepInEpoch: 0, microBatches: [], view: 0))))[
                0]
        header[32..<36] = ArraySlice(withUnsafeBytes(of: UInt32(w.bytes.count).littleEndian) { Array($0) })
        XCTAssertThrowsError(try WireCodec.decode([header, w.bytes])) { XCTAssertTrue("\($0)".contains("exceeds the limit"), "\($0)") }
    }

    func testGradientSumLimits() {
        func frames(_ m: GradientSumPush) -> [[UInt8]] {
            WireCodec.encode(Envelope(jobID: 1, sender: 1, step: 1, message: .gradientSum(m)))
        }
        // No micro-batches at all.
        XCTAssertThrowsError(try WireCodec.decode(frames(GradientSumPush(parts: [], offset: 0, values: [1]))))
        // The frame must hold exactly `count` Int64 values.
        var f = frames(GradientSumPush(parts: [.init(microBatch: 0, samples: 1, loss: 0, correct: 0)], offset: 0, values: [1, 2]))
        f[2] = Array(f[2].dropLast(8))
        XCTAssertThrowsError(try WireCodec.decode(f)) { XCTAssertTrue("\($0)".contains("expected 2 Int64 values"), "\($0)") }
    }

    /// A cheap in-test fuzz (libFuzzer runs longer): inputs made from valid messages by flipping
    /// bytes, cutting frames short, growing them, dropping or adding frames, or from pure noise.
    /// Each one either decodes to a message that re-encodes to exactly the input bytes, or throws a
    /// `DecodeError`; nothing traps, and both outcomes occur.
    func testMutatedTruncatedAndRandomInputsEitherRoundTripExactlyOrThrowADecodeError() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        func randomBytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
        let valid = Self.samples.map { WireCodec.encode(Envelope(jobID: 1, sender: 1, step: 1, message: $0)) }
        // Valid messages decode and re-encode to the same bytes.
        for frames in valid { XCTAssertEqual(WireCodec.encode(try WireCodec.decode(frames)), frames) }
        var decoded = 0
        var rejected = 0
        var kinds: [String: (decoded: Int, rejected: Int)] = [:]
        for i in 0..<20_000 {
            var frames = valid[i % valid.count]
            let f = below(frames.count)
            let kind: String
            switch i % 6 {
            case 0, 1:  // flip 1-4 bytes of one frame
                kind = "mutated"
                if !frames[f].isEmpty {
                    for _ in 0..<(1 + below(4)) { frames[f][below(frames[f].count)] = UInt8(truncatingIfNeeded: next()) }
                }
            case 2:  // cut one frame short
                kind = "truncated"
                frames[f] = Array(frames[f].prefix(below(max(frames[f].count, 1))))
            case 3:  // grow one frame by 1-8 random bytes
                kind = "extended"
                frames[f] += randomBytes(1 + below(8))
            case 4:  // drop a frame or add one
                kind = "frame count"
                if next() % 2 == 0 { frames.remove(at: f) } else { frames.insert(randomBytes(below(16)), at: below(frames.count + 1)) }
            default:  // noise: 0-4 frames of random bytes, the first sometimes with a valid magic
                kind = "random"
                frames = (0..<below(5)).map { _ in randomBytes(below(64)) }
                if !frames.isEmpty, next() % 2 == 0, frames[0].count >= 4 { frames[0].replaceSubrange(0..<4, with: valid[0][0][0..<4]) }
            }
            do {
                let envelope = try WireCodec.decode(frames)
                XCTAssertEqual(
                    WireCodec.encode(envelope), frames,
                    "input \(i) (\(kind)) decoded to a \(envelope.message.type) that re-encodes differently")
                decoded += 1
                kinds[kind, default: (0, 0)].decoded += 1
            } catch is DecodeError {
                rejected += 1
                kinds[kind, default: (0, 0)].rejected += 1
            } catch {
                XCTFail("input \(i) (\(kind)): decode threw \(type(of: error)), not a DecodeError: \(error)")
            }
        }
        XCTAssertEqual(decoded + rejected, 20_000)
        XCTAssertGreaterThan(decoded, 0, "no input decoded: \(kinds)")
        XCTAssertGreaterThan(rejected, 0, "no input was rejected: \(kinds)")
        for kind in ["mutated", "truncated", "extended", "frame count", "random"] {
            XCTAssertGreaterThan(kinds[kind]?.rejected ?? 0, 0, "no \(kind) input was rejected: \(kinds)")
        }
    }
}

/// The fuzzing corpus (Fuzz/corpus/wire), in the harness's framing (a 2-byte little-endian length
/// before each frame): `seed-N-TYPE` is one valid message of each type, which must decode to
/// CodecTests.samples[N] and re-encode to the file's exact bytes; `invalid-WHAT` is a near-miss the
/// decoder must reject with a DecodeError. DIGITS_WRITE_FUZZ_CORPUS=1 rewrites both.
final class FuzzCorpusTests: XCTestCase {
    static var corpus: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
            + "/Fuzz/corpus/wire"
    }

    static func framed(_ frames: [[UInt8]]) -> [UInt8] {
        frames.flatMap { f in [UInt8(f.count & 0xFF), UInt8(f.count >> 8)] + f }
    }

    /// Splits an input into frames exactly as Fuzz/WireFuzz.swift does (at most 8 frames; a length
    /// running past the end takes what is left).
    static func harnessFrames(_ bytes: [UInt8]) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var at = 0
        while at + 2 <= bytes.count && frames.count < 8 {
            let n = Int(bytes[at]) | Int(bytes[at + 1]) << 8
            at += 2
            let end = min(bytes.count, at + n)
            frames.append(Array(bytes[at..<end]))
            at = end
        }
        return frames
    }

    /// The samples the harness's 2-byte frame lengths can carry (frames under 64 KiB), by seed number.
    static var validSeeds: [(name: String, envelope: Envelope)] {
        CodecTests.samples.enumerated().compactMap { i, m in
            let e = Envelope(jobID: 1, sender: 1, step: 1, message: m)
            return WireCodec.encode(e).allSatisfy({ $0.count < 65536 }) ? ("seed-\(i)-\(m.type)", e) : nil
        }
    }

    /// Near-misses of valid messages, each wrong in one way the decoder must notice.
    static var invalidSeeds: [(name: String, frames: [[UInt8]])] {
        let ready = WireCodec.encode(Envelope(jobID: 1, sender: 1, step: 1, message: .ready(Ready(workerID: 3))))
        let weights = WireCodec.encode(Envelope(jobID: 1, sender: 1, step: 1, message: .weights(Weights(offset: 0, values: [1.5, -2, 3]))))
        let hello = WireCodec.encode(Envelope(jobID: 1, sender: 1, step: 1, message: CodecTests.samples[0]))
        var badMagic = ready
        var badVersion = ready
        var unknownType = ready
        var shortValues = weights
        var trailing = ready
        badMagic[0][0] ^= 0xFF
        badVersion[0][4] = UInt8(WireCodec.version + 1)
        unknownType[0][6] = 0xEE
        shortValues[2].removeLast(4)
        trailing[1].append(0)
        return [
            ("invalid-bad-magic", badMagic),
            ("invalid-version", badVersion),
            ("invalid-unknown-type", unknownType),
            ("invalid-short-values", shortValues),
            ("invalid-trailing-body-byte", trailing),
            ("invalid-missing-payload-frame", Array(weights.dropLast())),
            ("invalid-cut-header", [Array(hello[0].prefix(hello[0].count / 2))] + hello.dropFirst())
        ]
    }

    func testEveryCorpusSeedDecodesAsItsNameSays() throws {
        let valid = Self.validSeeds
        let invalid = Self.invalidSeeds
        if ProcessInfo.processInfo.environment["DIGITS_WRITE_FUZZ_CORPUS"] == "1" {
            try FileManager.default.createDirectory(atPath: Self.corpus, withIntermediateDirectories: true)
            for (name, envelope) in valid {
                try Data(Self.framed(WireCodec.encode(envelope))).write(to: URL(fileURLWithPath: Self.corpus + "/" + name))
            }
            for (name, frames) in invalid {
                try Data(Self.framed(frames)).write(to: URL(fileURLWithPath: Self.corpus + "/" + name))
            }
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus).sorted()
        XCTAssertEqual(files, (valid.map(\.name) + invalid.map(\.name)).sorted(), "the corpus holds exactly the expected seeds")
        func read(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.corpus + "/" + name))) }

        for (name, expected) in valid where files.contains(name) {
            let bytes = try read(name)
            let frames = Self.harnessFrames(bytes)
            XCTAssertEqual(Self.framed(frames), bytes, "\(name): the harness reads every byte of it")
            let decoded: Envelope
            do { decoded = try WireCodec.decode(frames) } catch {
                XCTFail("\(name) is meant to be valid but does not decode: \(error)")
                continue
            }
            XCTAssertEqual(decoded, expected, "\(name) decodes to its sample")
            XCTAssertEqual(Self.framed(WireCodec.encode(decoded)), bytes, "\(name) re-encodes to the same bytes")
        }
        for (name, frames) in invalid where files.contains(name) {
            let bytes = try read(name)
            XCTAssertEqual(bytes, Self.framed(frames), "\(name) holds the near-miss it is named for")
            XCTAssertThrowsError(try WireCodec.decode(Self.harnessFrames(bytes)), "\(name) is meant to be rejected") { error in
                XCTAssertTrue(error is DecodeError, "\(name): \(type(of: error)) \(error)")
            }
        }
    }
}
