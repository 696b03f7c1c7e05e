// Encoding and decoding of envelopes to ZeroMQ frames, with hard size limits. Decoding never
// traps: any malformed, oversized or foreign input throws a DecodeError naming the problem.

public enum WireCodec {
    public static let magic: [UInt8] = Array("DGT1".utf8)
    public static let version: UInt16 = 2
    public static let headerSize = 40
    /// Limits (bytes) on bodies and payloads.
    public static let maxBody = 1 << 20
    public static let maxPayloadFrame = 64 << 20
    public static let maxFloats = maxPayloadFrame / 4
    public static let maxInt64s = maxPayloadFrame / 8
    public static let maxMicroBatches = 1 << 16

    /// Frames: header, body, then payload frames (tensors or raw data).
    public static func encode(_ e: Envelope) -> [[UInt8]] {
        var body = ByteWriter()
        var payload: [[UInt8]] = []
        switch e.message {
        case .hello(let m):
            body.u8(m.role.rawValue)
            body.string(m.name)
            body.string(m.host)
            body.u32(m.pid)
            body.u32(m.workerID)
            body.string(m.localDataSHA256)
            body.string(m.endpoint)
            body.string(m.numerics)
        case .welcome(let m):
            body.u32(m.workerID)
            body.blob(m.config)
            body.u32(UInt32(m.serverEndpoints.count))
            for s in m.serverEndpoints { body.string(s) }
            body.u32(m.heartbeatMilliseconds)
            body.bool(m.shipsData)
            body.string(m.dataSHA256)
            body.u32(m.trainCount)
            body.u32(m.rows)
            body.u32(m.cols)
        case .dataChunk(let m):
            body.u8(m.kind.rawValue)
            body.u64(m.offset)
            body.u64(m.total)
            body.u64(UInt64(m.bytes.count))
            payload = [m.bytes]
        case .ready(let m):
            body.u32(m.workerID)
        case .assignment(let m):
            body.u32(m.epoch)
            body.u32(m.stepInEpoch)
            body.u32(m.view)
            body.u32Array(m.microBatches)
        case .weights(let m):
            body.u64(m.offset)
            body.u64(UInt64(m.values.count))
            payload = [TensorFrame.encode(m.values)]
        case .gradientPush(let m):
            m.values.withUnsafeBufferPointer { writeGradientPush(m, values: $0, body: &body, payload: &payload) }
        case .gradientSum(let m):
            m.values.withUnsafeBufferPointer { writeGradientSum(m, values: $0, body: &body, payload: &payload) }
        case .heartbeat(let m):
            body.u32(m.workerID)
            body.u64(m.computed)
        case .shutdown(let m):
            body.string(m.reason)
        case .reject(let m):
            body.string(m.reason)
        case .shardInit(let m):
            body.u32(m.shard)
            body.u32(m.shards)
            body.u64(m.offset)
            body.u64(m.optimizerStep)
            body.blob(m.optimizer)
            body.u64(UInt64(m.parameters.count))
            body.u64(UInt64(m.first.count))
            body.u64(UInt64(m.second.count))
            payload = [TensorFrame.encode(m.parameters), TensorFrame.encode(m.first), TensorFrame.encode(m.second)]
        case .beginStep(let m):
            body.u32(m.microBatches)
            body.u32(m.learningRate.bitPattern)
            body.bool(m.wantState)
            body.u32Array(m.workers)
        case .stepDone(let m):
            body.u32(m.shard)
            body.f64(m.loss)
            body.u64(m.correct)
            body.u64(m.samples)
            body.f64(m.computeSeconds)
            body.u64(UInt64(m.parameters.count))
            body.bool(m.first != nil)
            payload = [TensorFrame.encode(m.parameters)]
            if let f = m.first, let sec = m.second {
                body.u64(UInt64(f.count))
                body.u64(UInt64(sec.count))
                payload += [TensorFrame.encode(f), TensorFrame.encode(sec)]
            }
        }
        return assemble(type: e.message.type, jobID: e.jobID, sender: e.sender, step: e.step, body: body, payload: payload)
    }

    /// The same frames as `encode` of a `.gradientPush` carrying `values`, read straight from the
    /// caller's buffer (`push.values` is ignored): one copy into the payload frame instead of two.
    public static func encodeGradientPush(
        jobID: UInt64, sender: UInt32, step: UInt64, _ push: GradientPush,
        values: UnsafeBufferPointer<Float>
    ) -> [[UInt8]] {
        var body = ByteWriter()
        var payload: [[UInt8]] = []
        writeGradientPush(push, values: values, body: &body, payload: &payload)
        return assemble(type: .gradientPush, jobID: jobID, sender: sender, step: step, body: body, payload: payload)
    }

    /// The same frames as `encode` of a `.gradientSum` carrying `values`, read straight from the
    /// caller's buffer (`sum.values` is ignored): one copy into the payload frame instead of two.
    public static func encodeGradientSum(
        jobID: UInt64, sender: UInt32, step: UInt64, _ sum: GradientSumPush,
        values: UnsafeBufferPointer<Int64>
    ) -> [[UInt8]] {
        var body = ByteWriter()
        var payload: [[UInt8]] = []
        writeGradientSum(sum, values: values, body: &body, payload: &payload)
        return assemble(type: .gradientSum, jobID: jobID, sender: sender, step: step, body: body, payload: payload)
    }

    static func writeGradientPush(_ m: GradientPush, values: UnsafeBufferPointer<Float>, body: inout ByteWriter, payload: inout [[UInt8]]) {
        body.u32(m.microBatch)
        body.u32(m.samples)
        body.f64(m.loss)
        body.u32(m.correct)
        body.f64(m.computeSeconds)
        body.u64(m.offset)
        body.u64(UInt64(values.count))
        payload = [TensorFrame.encode(values)]
    }

    static func writeGradientSum(_ m: GradientSumPush, values: UnsafeBufferPointer<Int64>, body: inout ByteWriter, payload: inout [[UInt8]])
    {
        body.u32(UInt32(m.parts.count))
        for p in m.parts {
            body.u32(p.microBatch)
            body.u32(p.samples)
            body.f64(p.loss)
            body.u32(p.correct)
        }
        body.f64(m.computeSeconds)
        body.u64(m.offset)
        body.u64(UInt64(values.count))
        payload = [TensorFrame.encode(values)]
    }

    static func assemble(type: MessageType, jobID: UInt64, sender: UInt32, step: UInt64, body: ByteWriter, payload: [[UInt8]]) -> [[UInt8]]
    {
        var header = ByteWriter()
        for b in magic { header.u8(b) }
        header.u16(version)
        header.u16(type.rawValue)
        header.u64(jobID)
        header.u32(sender)
        header.u32(0)
        header.u64(step)
        header.u32(UInt32(body.bytes.count))
        header.u32(UInt32(payload.count))
        return [header.bytes, body.bytes] + payload
    }

    /// Decodes the header only (cheap checks before the body: magic, version, type, sizes).
    public static func decodeHeader(_ frames: [[UInt8]]) throws -> (type: MessageType, jobID: UInt64, sender: UInt32, step: UInt64) {
        guard let first = frames.first else { throw DecodeError("empty message") }
        guard first.count == headerSize else { throw DecodeError("header must be \(headerSize) bytes, found \(first.count)") }
        guard Array(first[0..<4]) == magic else { throw DecodeError("not a Digits message (bad magic)") }
        var r = ByteReader(first)
        _ = try r.take(4, "magic")
        let version = try r.u16("version")
        guard version == self.version else { throw DecodeError("protocol version \(version) is not supported (expected \(self.version))") }
        let rawType = try r.u16("type")
        guard let type = MessageType(rawValue: rawType) else { throw DecodeError("unknown message type \(rawType)") }
        let jobID = try r.u64("job id")
        let sender = try r.u32("sender")
        let flags = try r.u32("flags")
        guard flags == 0 else { throw DecodeError("unknown flags \(flags)") }
        let step = try r.u64("step")
        let bodyLength = Int(try r.u32("body length"))
        let payloadFrames = Int(try r.u32("payload frames"))
        guard bodyLength <= maxBody else { throw DecodeError("body of \(bodyLength) bytes exceeds the limit of \(maxBody)") }
        guard frames.count == 2 + payloadFrames else {
            throw DecodeError("header announces \(2 + payloadFrames) frames, message has \(frames.count)")
        }
        guard frames[1].count == bodyLength else { throw DecodeError("body is \(frames[1].count) bytes, header says \(bodyLength)") }
        for (i, f) in frames.dropFirst(2).enumerated() where f.count > maxPayloadFrame {
            throw DecodeError("payload frame \(i) of \(f.count) bytes exceeds the limit of \(maxPayloadFrame)")
        }
        return (type, jobID, sender, step)
    }

    public static func decode(_ frames: [[UInt8]]) throws -> Envelope {
        let (type, jobID, sender, step) = try decodeHeader(frames)
        var r = ByteReader(frames[1])
        let payload = Array(frames.dropFirst(2))
        func expectPayload(_ n: Int) throws {
            guard payload.count == n else { throw DecodeError("\(type) needs \(n) payload frame(s), found \(payload.count)") }
        }
        let message: Message
        switch type {
        case .hello:
            let rawRole = try r.u8("role")
            guard let role = Role(rawValue: rawRole) else { throw DecodeError("unknown role \(rawRole)") }
            message = .hello(
                Hello(
                    role: role, name: try r.string("name", max: 256), host: try r.string("host", max: 256),
                    pid: try r.u32("pid"), workerID: try r.u32("worker id"),
                    localDataSHA256: try r.string("data sha256", max: 64), endpoint: try r.string("endpoint", max: 512),
                    numerics: try r.string("numerics", max: 128)))
            try expectPayload(0)
        case .welcome:
            let id = try r.u32("worker id")
            let config = try r.blob("config", max: maxBody)
            let n = Int(try r.u32("server count"))
            guard n >= 1 && n <= 64 else { throw DecodeError("server count \(n) outside 1...64") }
            var endpoints: [String] = []
            for _ in 0..<n { endpoints.append(try r.string("server endpoint", max: 512)) }
            message = .welcome(
                Welcome(
                    workerID: id, config: config, serverEndpoints: endpoints, heartbeatMilliseconds: try r.u32("heartbeat"),
                    shipsData: try r.bool("ships data"), dataSHA256: try r.string("data sha256", max: 64),
                    trainCount: try r.u32("train count"), rows: try r.u32("rows"), cols: try r.u32("cols")))
            try expectPayload(0)
        case .dataChunk:
            let rawKind = try r.u8("kind")
            guard let kind = DataChunk.Kind(rawValue: rawKind) else { throw DecodeError("unknown data chunk kind \(rawKind)") }
            let offset = try r.u64("offset")
            let total = try r.u64("total")
            let length = try r.u64("length")
            try expectPayload(1)
            guard UInt64(payload[0].count) == length else {
                throw DecodeError("data chunk announces \(length) bytes, payload has \(payload[0].count)")
            }
            guard offset <= total, UInt64(payload[0].count) <= total - offset else {
                throw DecodeError("data chunk [\(offset), +\(payload[0].count)) runs past its total \(total)")
            }
            message = .dataChunk(DataChunk(kind: kind, offset: offset, total: total, bytes: payload[0]))
        case .ready:
            message = .ready(Ready(workerID: try r.u32("worker id")))
            try expectPayload(0)
        case .assignment:
            let epoch = try r.u32("epoch")
            let stepInEpoch = try r.u32("step in epoch")
            let view = try r.u32("view")
            message = .assignment(
                Assignment(
                    epoch: epoch, stepInEpoch: stepInEpoch,
                    microBatches: try r.u32Array("micro-batches", max: maxMicroBatches), view: view))
            try expectPayload(0)
        case .weights:
            let offset = try r.u64("offset")
            let count = try r.u64("count")
            guard count <= UInt64(maxFloats) else { throw DecodeError("weights count \(count) exceeds the limit") }
            try expectPayload(1)
            message = .weights(Weights(offset: offset, values: try TensorFrame.decode(payload[0], expected: Int(count), what: "weights")))
        case .gradientPush:
            let mb = try r.u32("micro-batch")
            let samples = try r.u32("samples")
            let loss = try r.f64("loss")
            let correct = try r.u32("correct")
            let computeSeconds = try r.f64("compute seconds")
            let offset = try r.u64("offset")
            let count = try r.u64("count")
            guard count <= UInt64(maxFloats) else { throw DecodeError("gradient count \(count) exceeds the limit") }
            try expectPayload(1)
            message = .gradientPush(
                GradientPush(
                    microBatch: mb, samples: samples, loss: loss, correct: correct, computeSeconds: computeSeconds, offset: offset,
                    values: try TensorFrame.decode(payload[0], expected: Int(count), what: "gradient")))
        case .gradientSum:
            let n = try r.u32("parts")
            guard n >= 1, n <= UInt32(maxMicroBatches) else {
                throw DecodeError("gradient sum of \(n) micro-batches (expected 1...\(maxMicroBatches))")
            }
            var parts: [GradientSumPush.Part] = []
            parts.reserveCapacity(Int(n))
            for _ in 0..<n {
                parts.append(
                    GradientSumPush.Part(
                        microBatch: try r.u32("micro-batch"), samples: try r.u32("samples"), loss: try r.f64("loss"),
                        correct: try r.u32("correct")))
            }
            let computeSeconds = try r.f64("compute seconds")
            let offset = try r.u64("offset")
            let count = try r.u64("count")
            guard count <= UInt64(maxInt64s) else { throw DecodeError("gradient sum count \(count) exceeds the limit") }
            try expectPayload(1)
            message = .gradientSum(
                GradientSumPush(
                    parts: parts, computeSeconds: computeSeconds, offset: offset,
                    values: try TensorFrame.decode(payload[0], expected: Int(count), what: "gradient sum")))
        case .heartbeat:
            message = .heartbeat(Heartbeat(workerID: try r.u32("worker id"), computed: try r.u64("computed")))
            try expectPayload(0)
        case .shutdown:
            message = .shutdown(Shutdown(reason: try r.string("reason")))
            try expectPayload(0)
        case .reject:
            message = .reject(Reject(reason: try r.string("reason")))
            try expectPayload(0)
        case .shardInit:
            let shard = try r.u32("shard")
            let shards = try r.u32("shards")
            guard shards >= 1 && shards <= 64 && shard < shards else { throw DecodeError("shard \(shard) of \(shards) is not valid") }
            let offset = try r.u64("offset")
            let step = try r.u64("optimizer step")
            let optimizer = try r.blob("optimizer", max: 65536)
            let n = try r.u64("count")
            let n1 = try r.u64("first count")
            let n2 = try r.u64("second count")
            guard n <= UInt64(maxFloats), n1 == n, n2 == n || n2 == 0 else {
                throw DecodeError("shard arrays of \(n), \(n1), \(n2) values do not fit")
            }
            try expectPayload(3)
            message = .shardInit(
                ShardInit(
                    shard: shard, shards: shards, offset: offset, optimizerStep: step, optimizer: optimizer,
                    parameters: try TensorFrame.decode(payload[0], expected: Int(n), what: "shard parameters"),
                    first: try TensorFrame.decode(payload[1], expected: Int(n1), what: "first moment"),
                    second: try TensorFrame.decode(payload[2], expected: Int(n2), what: "second moment")))
        case .beginStep:
            let mb = try r.u32("micro-batches")
            let lr = Float(bitPattern: try r.u32("learning rate"))
            let want = try r.bool("want state")
            let workers = try r.u32Array("workers", max: 65536)
            guard mb >= 1 && Int(mb) <= maxMicroBatches, lr.isFinite && lr > 0 else {
                throw DecodeError("begin step with \(mb) micro-batches and learning rate \(lr) is not valid")
            }
            message = .beginStep(BeginStep(microBatches: mb, learningRate: lr, wantState: want, workers: workers))
            try expectPayload(0)
        case .stepDone:
            let shard = try r.u32("shard")
            let loss = try r.f64("loss")
            let correct = try r.u64("correct")
            let samples = try r.u64("samples")
            let seconds = try r.f64("compute seconds")
            let n = try r.u64("count")
            let hasState = try r.bool("has state")
            guard n <= UInt64(maxFloats) else { throw DecodeError("step done with \(n) values exceeds the limit") }
            var first: [Float]?
            var second: [Float]?
            if hasState {
                let n1 = try r.u64("first count")
                let n2 = try r.u64("second count")
                guard n1 == n, n2 == n || n2 == 0 else { throw DecodeError("moment arrays of \(n1) and \(n2) values do not match \(n)") }
                try expectPayload(3)
                first = try TensorFrame.decode(payload[1], expected: Int(n1), what: "first moment")
                second = try TensorFrame.decode(payload[2], expected: Int(n2), what: "second moment")
            } else {
                try expectPayload(1)
            }
            message = .stepDone(
                StepDone(
                    shard: shard, loss: loss, correct: correct, samples: samples, computeSeconds: seconds,
                    parameters: try TensorFrame.decode(payload[0], expected: Int(n), what: "shard parameters"),
                    first: first, second: second))
        }
        try r.finish("\(type) body")
        return Envelope(jobID: jobID, sender: sender, step: step, message: message)
    }
}
