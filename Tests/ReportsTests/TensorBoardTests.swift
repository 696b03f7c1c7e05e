import Foundation
import Logging
import Training
import XCTest

@testable import Reports

final class TensorBoardTests: XCTestCase {
    /// Known answers: RFC 3720 appendix B.4 and the common "123456789" check value.
    func testCRC32CKnownVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }), 0x113F_DB5C)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
    }

    func testMaskIsRotateRight15PlusConstant() {
        XCTAssertEqual(CRC32C.masked(0), 0xA282_EAD8)
        XCTAssertEqual(CRC32C.masked(0x0000_8000), 0x0000_0001 &+ 0xA282_EAD8)
        XCTAssertEqual(CRC32C.masked(0x0000_0001), 0x0002_0000 &+ 0xA282_EAD8)
    }

    /// The Event bytes written out by hand from event.proto / summary.proto field numbers.
    func testScalarEventMatchesHandEncodedProtobuf() {
        let bytes = TensorBoardEvent.scalars(wallTime: 0, step: 1, values: [(tag: "a", value: 1)])
        let value: [UInt8] = [0x0A, 0x01, 0x61, 0x15, 0x00, 0x00, 0x80, 0x3F]  // tag "a", simple_value 1.0f
        let summary: [UInt8] = [0x0A, UInt8(value.count)] + value  // repeated Value value = 1
        let event: [UInt8] = [0x09] + [UInt8](repeating: 0, count: 8) + [0x10, 0x01] + [0x2A, UInt8(summary.count)] + summary
        XCTAssertEqual(bytes, event)

        let version = TensorBoardEvent.fileVersion(wallTime: 1.5)
        XCTAssertEqual(Array(version[0..<9]), [0x09] + TFRecord.littleEndian((1.5).bitPattern))
        XCTAssertEqual(Array(version[9..<11]), [0x1A, 13])
        XCTAssertEqual(String(decoding: version[11...], as: UTF8.self), "brain.Event:2")

        // Steps beyond 127 take several varint bytes.
        let big = TensorBoardEvent.scalars(wallTime: 0, step: 300, values: [])
        XCTAssertEqual(Array(big[9..<12]), [0x10, 0xAC, 0x02])
    }

    func testRecordFramingRoundTripsAndDetectsCorruption() {
        let payloads: [[UInt8]] = [[], [1, 2, 3], [UInt8](repeating: 7, count: 300)]
        var file: [UInt8] = []
        for p in payloads { file += TFRecord.frame(p) }
        XCTAssertEqual(TFRecord.records(file), payloads)
        XCTAssertEqual(Array(TFRecord.frame([1, 2, 3])[0..<8]), [3, 0, 0, 0, 0, 0, 0, 0])
        var corrupt = file
        corrupt[14] ^= 1
        XCTAssertNil(TFRecord.records(corrupt))
        XCTAssertNil(TFRecord.records(Array(file.dropLast())))
    }

    func testLoggerWritesStepAndEpochScalars() throws {
        let dir = NSTemporaryDirectory() + "digits-tb-\(UUID().uuidString)"
        let logger = try TensorBoardLogger(directory: dir, stepInterval: 2, logger: Logger(label: "test"))
        for s in 1...4 {
            logger.trainingCompleted(
                step: StepRecord(
                    epoch: 1, globalStep: s, lossSum: Double(s) * 10, correct: 5, samples: 10, seconds: 0.5,
                    learningRate: 0.001))
        }
        let epoch = Fixtures.epoch(
            1, step: 4, trainLoss: 0.5, trainAccuracy: 0.9, valLoss: 0.4, valAccuracy: 0.95, epochSeconds: 2, imagesPerSecond: 20)
        logger.trainingCompleted(epoch: epoch)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: logger.writer.path)))
        let records = try XCTUnwrap(TFRecord.records(bytes))
        XCTAssertEqual(records.count, 4, "file_version, steps 2 and 4, the epoch")
        // Step 2 averages steps 1-2: loss (10 + 20) / 20 samples = 1.5.
        XCTAssertEqual(
            records[1],
            TensorBoardEvent.scalars(
                wallTime: Self.wallTime(records[1]), step: 2,
                values: [
                    ("step/loss", 1.5), ("step/accuracy", 0.5), ("step/images_per_second", 20), ("step/learning_rate", 0.001)
                ]))
        let tags = TensorBoardLogger.epochScalars(epoch).map(\.tag)
        XCTAssertEqual(
            records[3],
            TensorBoardEvent.scalars(wallTime: Self.wallTime(records[3]), step: 4, values: TensorBoardLogger.epochScalars(epoch)))
        XCTAssertEqual(TensorBoardLogger.epochScalars(epoch).first { $0.tag == "epoch/val_loss" }?.value, 0.4)
        XCTAssertEqual(
            tags,
            [
                "epoch/epoch", "epoch/train_loss", "epoch/train_accuracy", "epoch/val_loss", "epoch/val_accuracy",
                "epoch/learning_rate", "epoch/images_per_second", "epoch/epoch_seconds"
            ])
    }

    static func wallTime(_ event: [UInt8]) -> Double {
        Double(bitPattern: (0..<8).reduce(UInt64(0)) { $0 | UInt64(event[1 + $1]) << (8 * UInt64($1)) })
    }
}
