// Tests of DataLocator precedence (flag > environment > cache > shared, no fall-through from an
// explicit choice), the download path against file:// mirrors, Checksums, and the real MNIST data.
import Foundation
import XCTest

@testable import MNISTData

final class DataLocatorTests: XCTestCase {
    /// root/work/proj is the working directory; root/work/shared/data/mnist is the shared mirror.
    private struct Layout {
        let root: String
        var workingDirectory: String { Fixtures.join(root, "work/proj") }
        var cache: String { Fixtures.join(workingDirectory, "data/mnist") }
        var shared: String { Fixtures.join(root, "work/shared/data/mnist") }
        var flag: String { Fixtures.join(root, "flagdir") }
        var env: String { Fixtures.join(root, "envdir") }
    }

    private func makeLayout() throws -> Layout {
        let layout = Layout(root: try Fixtures.temporaryDirectory(self))
        for directory in [layout.cache, layout.shared, layout.flag, layout.env] {
            try Fixtures.writeFakeMNIST(in: directory)
        }
        return layout
    }

    private func resolve(
        _ layout: Layout, flag: String?, env: String?, workingDirectory: String? = nil,
        executable: String? = nil
    ) throws -> DataLocation {
        try DataLocator.resolve(
            flag: flag, environment: env.map { ["DIGITS_DATA_DIR": $0] } ?? ["HOME": "/nonexistent"],
            workingDirectory: workingDirectory ?? layout.workingDirectory,
            executablePath: executable, allowDownload: false)
    }

    func testPrecedenceFlagEnvironmentCacheShared() throws {
        let layout = try makeLayout()
        var location = try resolve(layout, flag: layout.flag, env: layout.env)
        XCTAssertEqual(location.source, .flag)
        XCTAssertEqual(location.directory, layout.flag)

        location = try resolve(layout, flag: nil, env: layout.env)
        XCTAssertEqual(location.source, .environment)
        XCTAssertEqual(location.directory, layout.env)

        location = try resolve(layout, flag: nil, env: nil)
        XCTAssertEqual(location.source, .cache)
        XCTAssertEqual(location.directory, layout.cache)

        try FileManager.default.removeItem(atPath: layout.cache)
        location = try resolve(layout, flag: nil, env: nil)
        XCTAssertEqual(location.source, .shared)
        XCTAssertEqual(location.directory, layout.shared)

        try FileManager.default.removeItem(atPath: layout.shared)
        XCTAssertThrowsError(try resolve(layout, flag: nil, env: nil)) { error in
            XCTAssertEqual((error as? DataError)?.path, layout.cache)
            let text = "\(error)"
            XCTAssertTrue(text.contains("not found and downloading is disabled"), text)
            XCTAssertTrue(text.contains(layout.shared), "the message must list where it looked: \(text)")
            XCTAssertTrue(text.contains("--data"), text)
        }
    }

    func testRelativeFlagAndEmptyValuesIgnored() throws {
        let layout = try makeLayout()
        let location = try resolve(layout, flag: "../../flagdir", env: "", workingDirectory: layout.workingDirectory)
        XCTAssertEqual(location.directory, layout.flag)
        XCTAssertEqual(try resolve(layout, flag: "", env: "").source, .cache)
    }

    func testExplicitFlagLackingFilesIsAnErrorNotAFallThrough() throws {
        let layout = try makeLayout()
        try FileManager.default.removeItem(atPath: Fixtures.join(layout.flag, MNISTFiles.trainLabels + ".gz"))
        XCTAssertThrowsError(try resolve(layout, flag: layout.flag, env: layout.env)) { error in
            XCTAssertEqual((error as? DataError)?.path, layout.flag)
            XCTAssertTrue("\(error)".contains("--data directory lacks train-labels-idx1-ubyte"), "\(error)")
        }
        XCTAssertThrowsError(try resolve(layout, flag: Fixtures.join(layout.root, "nowhere"), env: nil)) { error in
            XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
        }
    }

    func testEnvironmentLackingFilesIsAnError() throws {
        let layout = try makeLayout()
        let empty = Fixtures.join(layout.root, "empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try resolve(layout, flag: nil, env: empty)) { error in
            XCTAssertEqual((error as? DataError)?.path, empty)
            XCTAssertTrue("\(error)".contains("DIGITS_DATA_DIR directory lacks"), "\(error)")
        }
    }

    func testIncompleteCacheFallsThroughToShared() throws {
        let layout = try makeLayout()
        try FileManager.default.removeItem(atPath: Fixtures.join(layout.cache, MNISTFiles.testLabels + ".gz"))
        XCTAssertEqual(try resolve(layout, flag: nil, env: nil).source, .shared)
    }

    func testSharedFoundFromAncestorOfWorkingDirectory() throws {
        let layout = try makeLayout()
        try FileManager.default.removeItem(atPath: layout.cache)
        let deep = Fixtures.join(layout.workingDirectory, "a/b/c")
        try FileManager.default.createDirectory(atPath: deep, withIntermediateDirectories: true)
        let location = try resolve(layout, flag: nil, env: nil, workingDirectory: deep)
        XCTAssertEqual(location.source, .shared)
        XCTAssertEqual(location.directory, layout.shared)
    }

    func testSharedFoundFromExecutablePath() throws {
        let layout = try makeLayout()
        let elsewhere = Fixtures.join(layout.root, "elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        XCTAssertThrowsError(try resolve(layout, flag: nil, env: nil, workingDirectory: elsewhere))
        for executable in [".build/debug/digits", ".build/x86_64-unknown-linux-gnu/release/digits"] {
            let path = Fixtures.join(layout.workingDirectory, executable)
            let location = try resolve(layout, flag: nil, env: nil, workingDirectory: elsewhere, executable: path)
            XCTAssertEqual(location.source, .shared, executable)
            XCTAssertEqual(location.directory, layout.shared, executable)
        }
    }

    // MARK: - Download (file:// mirrors, no network)

    private func fakeMirror() throws -> (url: String, hashes: [String: String]) {
        let mirror = Fixtures.join(try Fixtures.temporaryDirectory(self), "mirror")
        let contents = try Fixtures.writeFakeMNIST(in: mirror)
        return ("file://" + mirror + "/", contents.mapValues { Checksums.sha256Hex($0) })
    }

    /// curl comes with scripts/install-test-deps.sh; without it the download tests fail and say so.
    private func curl() throws -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else {
            throw DataError(path: "/usr/bin/curl", message: "the download tests need curl: run scripts/install-test-deps.sh")
        }
        return "/usr/bin/curl"
    }

    func testDownloadTriesMirrorsInOrderAndVerifiesContent() throws {
        let curl = try curl()
        let (mirror, hashes) = try fakeMirror()
        let target = Fixtures.join(try Fixtures.temporaryDirectory(self), "data/mnist")
        try DataLocator.download(into: target, mirrors: ["file:///nonexistent-mirror/", mirror], curl: curl, expected: hashes)
        let (train, test) = try MNISTFiles.load(directory: target)
        XCTAssertEqual(train.count, 6)
        XCTAssertEqual(test.count, 4)
        let names = try FileManager.default.contentsOfDirectory(atPath: target).sorted()
        XCTAssertEqual(names, MNISTFiles.all.map { $0 + ".gz" }.sorted(), "no temporary files may remain")
    }

    func testDownloadRejectsWrongContent() throws {
        let curl = try curl()
        let (mirror, hashes) = try fakeMirror()
        var wrong = hashes
        wrong[MNISTFiles.testImages] = String(repeating: "0", count: 64)
        let target = Fixtures.join(try Fixtures.temporaryDirectory(self), "mnist")
        XCTAssertThrowsError(try DataLocator.download(into: target, mirrors: [mirror], curl: curl, expected: wrong)) { error in
            XCTAssertEqual((error as? DataError)?.path, Fixtures.join(target, MNISTFiles.testImages + ".gz"))
            XCTAssertTrue("\(error)".contains("content SHA-256"), "\(error)")
        }
        XCTAssertNil(
            MNISTFiles.existingPath(of: MNISTFiles.testImages, in: target), "a file with the wrong content must not be moved into place")
    }

    func testDownloadWithoutCurlExplains() throws {
        let target = Fixtures.join(try Fixtures.temporaryDirectory(self), "mnist")
        XCTAssertThrowsError(try DataLocator.download(into: target, mirrors: [], curl: "/nonexistent/curl")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/curl not found"), "\(error)")
        }
    }

    // MARK: - Checksums

    private func writeSums(_ directory: String, tamper: String? = nil) throws {
        var lines: [String] = []
        for name in MNISTFiles.all {
            let file = name + ".gz"
            var hash = Checksums.sha256Hex([UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.join(directory, file)))))
            if file == tamper { hash = String(hash.reversed()) }
            lines.append("\(hash)  \(file)")
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: Fixtures.join(directory, "SHA256SUMS"), atomically: true, encoding: .utf8)
    }

    func testChecksumsGoodAndTamperedSums() throws {
        let directory = try Fixtures.temporaryDirectory(self)
        try Fixtures.writeFakeMNIST(in: directory)

        try writeSums(directory)
        var statuses = try Checksums.verify(directory: directory)
        XCTAssertEqual(statuses.count, 8)
        // The fake files are not MNIST: the content checks must say so.
        XCTAssertEqual(statuses.prefix(4).map(\.ok), [false, false, false, false])
        XCTAssertEqual(statuses.prefix(4).map(\.file), MNISTFiles.all)
        XCTAssertEqual(statuses.suffix(4).map(\.ok), [true, true, true, true])

        try writeSums(directory, tamper: MNISTFiles.trainLabels + ".gz")
        statuses = try Checksums.verify(directory: directory)
        let bad = statuses.suffix(4).filter { $0.ok != true }
        XCTAssertEqual(bad.map(\.file), ["SHA256SUMS: train-labels-idx1-ubyte.gz"])
    }

    func testMalformedSumsRejected() throws {
        let directory = try Fixtures.temporaryDirectory(self)
        try Fixtures.writeFakeMNIST(in: directory)
        try "not a checksum line\n".write(toFile: Fixtures.join(directory, "SHA256SUMS"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Checksums.verify(directory: directory)) { error in
            XCTAssertTrue("\(error)".contains("line 1"), "\(error)")
        }
    }

    func testSHA256KnownVector() {
        XCTAssertEqual(Checksums.sha256Hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    // MARK: - Real data

    /// Real MNIST is always at ../shared/data/mnist (beside the package) for developers and CI: its
    /// absence is a failure.
    func testRealMNISTLoadsWithItsKnownCountsAndChecksums() throws {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let directory = DataLocator.absolute("../shared/data/mnist", relativeTo: packageRoot)
        let missing = MNISTFiles.missing(in: directory)
        guard missing.isEmpty else {
            return XCTFail("real MNIST is required at \(directory) (../shared/data/mnist); missing: \(missing)")
        }
        let (train, test) = try MNISTFiles.load(directory: directory)
        XCTAssertEqual(train.count, 60_000)
        XCTAssertEqual(test.count, 10_000)
        XCTAssertEqual(train.rows, 28)
        XCTAssertEqual(train.cols, 28)
        XCTAssertEqual(train.labels.first, 5)
        XCTAssertEqual(test.labels.first, 7)
        XCTAssertEqual(train.classCounts().reduce(0, +), 60_000)
        let statuses = try Checksums.verify(directory: directory)
        XCTAssertGreaterThanOrEqual(statuses.count, 4)
        for status in statuses {
            XCTAssertEqual(status.ok, true, "\(status.file): expected \(status.expected ?? "?"), found \(status.actual)")
        }
    }
}
