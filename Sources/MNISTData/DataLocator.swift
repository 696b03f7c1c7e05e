// Where the MNIST files come from: --data flag, DIGITS_DATA_DIR, the data/mnist cache, the shared
// mirror ../shared/data/mnist, else a download from public mirrors checked by SHA-256.
// Checksums verifies a directory against the embedded content hashes and any SHA256SUMS file.
import Crypto
import Foundation

/// A directory holding the four MNIST files, and how it was found.
public struct DataLocation: Sendable {
    public enum Source: String, Sendable {
        /// The `--data DIR` flag.
        case flag
        /// The `DIGITS_DATA_DIR` environment variable.
        case environment
        /// `data/mnist` under the working directory.
        case cache
        /// The organisation's mirror, `../shared/data/mnist`.
        case shared
        /// Downloaded into `data/mnist` under the working directory.
        case downloaded
    }

    /// Absolute path of the directory.
    public let directory: String
    public let source: Source

    public init(directory: String, source: Source) {
        self.directory = directory
        self.source = source
    }
}

/// Finds (or downloads) the MNIST data.
public enum DataLocator {
    /// Name of the environment variable that points at a data directory.
    public static let environmentVariable = "DIGITS_DATA_DIR"
    /// The cache directory, relative to the working directory.
    public static let cacheDirectory = "data/mnist"
    /// Public mirrors tried in order; each serves `<name>.gz` for the four file names.
    public static let mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/"
    ]

    /// Resolves the data directory, first match wins:
    /// 1. `flag` (`--data DIR`), relative paths taken from `workingDirectory`;
    /// 2. the `DIGITS_DATA_DIR` environment variable;
    /// 3. `data/mnist` under `workingDirectory` (the download cache);
    /// 4. `../shared/data/mnist` relative to `workingDirectory` or one of its first 4 ancestors, or
    ///    to the repository root inferred from `executablePath` (`<root>/.build/<config>/digits`);
    /// 5. a download into `data/mnist` under `workingDirectory` when `allowDownload` is true.
    ///
    /// A directory counts when it holds all four files, raw or `.gz`.
    /// - Throws: `DataError` when the flag or environment directory lacks the files (no fall-through:
    ///   an explicit choice that is wrong must be fixed), when nothing is found and downloading is
    ///   not allowed (the message lists every place looked in), or when the download fails.
    public static func resolve(
        flag: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String = FileManager.default.currentDirectoryPath,
        executablePath: String? = CommandLine.arguments.first,
        allowDownload: Bool = true
    ) throws -> DataLocation {
        let workingDirectory = absolute(workingDirectory, relativeTo: FileManager.default.currentDirectoryPath)
        if let flag, !flag.isEmpty {
            let directory = absolute(flag, relativeTo: workingDirectory)
            try requireFiles(in: directory, origin: "--data directory")
            return DataLocation(directory: directory, source: .flag)
        }
        if let value = environment[environmentVariable], !value.isEmpty {
            let directory = absolute(value, relativeTo: workingDirectory)
            try requireFiles(in: directory, origin: "\(environmentVariable) directory")
            return DataLocation(directory: directory, source: .environment)
        }
        var looked = ["--data (not given)", "\(environmentVariable) (not set)"]
        let cache = absolute(cacheDirectory, relativeTo: workingDirectory)
        if MNISTFiles.missing(in: cache).isEmpty {
            return DataLocation(directory: cache, source: .cache)
        }
        looked.append(cache)
        for candidate in sharedCandidates(workingDirectory: workingDirectory, executablePath: executablePath) {
            if MNISTFiles.missing(in: candidate).isEmpty {
                return DataLocation(directory: candidate, source: .shared)
            }
            looked.append(candidate)
        }
        guard allowDownload else {
            throw DataError(
                path: cache,
                message:
                    """
                    MNIST data not found and downloading is disabled; looked in: \(looked.joined(separator: ", ")). Pass --data DIR \
                    or set \(environmentVariable) to a directory with \(MNISTFiles.all.joined(separator: ", ")) (raw or .gz), or \
                    allow the download into \(cache)
                    """
            )
        }
        try download(into: cache)
        return DataLocation(directory: cache, source: .downloaded)
    }

    /// Candidate shared-mirror directories, nearest first, without duplicates.
    static func sharedCandidates(workingDirectory: String, executablePath: String?) -> [String] {
        var roots: [String] = []
        var directory = workingDirectory
        for _ in 0...4 {
            roots.append(directory)
            let parent = (directory as NSString).deletingLastPathComponent
            if parent == directory || parent.isEmpty { break }
            directory = parent
        }
        if let executablePath, executablePath.contains("/") {
            let executable = absolute(executablePath, relativeTo: workingDirectory)
            // <root>/.build/<config>/digits: the repository root is three levels up.
            var root = executable
            for _ in 0..<3 { root = (root as NSString).deletingLastPathComponent }
            roots.append(root)
            // .build/<config> is often a symlink to .build/<triple>/<config>: also take the
            // directory that holds the first .build* component.
            let components = (executable as NSString).pathComponents
            if let index = components.firstIndex(where: { $0.hasPrefix(".build") }), index > 0 {
                roots.append(NSString.path(withComponents: Array(components[..<index])))
            }
        }
        var seen = Set<String>()
        return roots.map { absolute("../shared/data/mnist", relativeTo: $0) }.filter { seen.insert($0).inserted }
    }

    private static func requireFiles(in directory: String, origin: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw DataError(
                path: directory,
                message: "\(origin) does not exist; expected a directory with \(MNISTFiles.all.joined(separator: ", ")) (raw or .gz)")
        }
        guard isDirectory.boolValue else {
            throw DataError(
                path: directory,
                message: "\(origin) is a file; expected a directory with \(MNISTFiles.all.joined(separator: ", ")) (raw or .gz)")
        }
        guard access(directory, R_OK | X_OK) == 0 else {
            throw DataError(
                path: directory, message: "\(origin) cannot be read (\(String(cString: strerror(errno)))); check its permissions")
        }
        let missing = MNISTFiles.missing(in: directory)
        guard missing.isEmpty else {
            throw DataError(
                path: directory,
                message:
                    """
                    \(origin) lacks \(missing.map { "\($0)(.gz)" }.joined(separator: ", ")); expected all of \
                    \(MNISTFiles.all.joined(separator: ", ")) (raw or .gz). Fix the path, or drop it to use the cache or download
                    """
            )
        }
    }

    /// `path` made absolute against `base`, with `~` expanded and `.`/`..` removed.
    static func absolute(_ path: String, relativeTo base: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        let joined = expanded.hasPrefix("/") ? expanded : (base as NSString).appendingPathComponent(expanded)
        return URL(fileURLWithPath: joined).standardizedFileURL.path
    }

    /// Downloads whichever of the four files `directory` lacks (or holds with wrong content) from
    /// the public mirrors with `/usr/bin/curl`, checks each file's decompressed SHA-256 against
    /// `Checksums.mnistContentSHA256`, and renames it into place atomically. Creates `directory`.
    /// - Throws: `DataError` naming the file, each mirror's failure, and what to do instead.
    public static func download(into directory: String) throws {
        try download(into: directory, mirrors: mirrors, curl: "/usr/bin/curl")
    }

    /// `download(into:)` with the mirrors and curl binary as parameters (tests use file:// mirrors).
    static func download(
        into directory: String, mirrors: [String], curl: String,
        expected: [String: String] = Checksums.mnistContentSHA256
    ) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw DataError(path: directory, message: "cannot create the download directory: \(error.localizedDescription)")
        }
        guard FileManager.default.isExecutableFile(atPath: curl) else {
            throw DataError(
                path: directory,
                message:
                    """
                    cannot download MNIST: \(curl) not found or not executable; install curl, or download the four files \
                    \(MNISTFiles.all.map { $0 + ".gz" }.joined(separator: ", ")) yourself and pass --data DIR
                    """
            )
        }
        for name in MNISTFiles.all {
            if let existing = MNISTFiles.existingPath(of: name, in: directory),
                let hash = try? Checksums.contentSHA256(path: existing), hash == expected[name]
            {
                continue
            }
            let target = (directory as NSString).appendingPathComponent(name + ".gz")
            var failures: [String] = []
            var done = false
            for mirror in mirrors where !done {
                let url = mirror + name + ".gz"
                let temporary = FileBytes.temporaryPath(for: target)
                defer { try? FileManager.default.removeItem(atPath: temporary) }
                if let failure = runCurl(curl, url: url, output: temporary) {
                    failures.append("\(url): \(failure)")
                    continue
                }
                do {
                    let hash = try Checksums.contentSHA256(path: temporary)
                    guard hash == expected[name] else {
                        failures.append("\(url): content SHA-256 \(hash), expected \(expected[name] ?? "(unknown)")")
                        continue
                    }
                    try FileBytes.rename(temporary, to: target)
                    // The raw file, if any, had the wrong content: the verified .gz replaces it.
                    let raw = (directory as NSString).appendingPathComponent(name)
                    if FileManager.default.fileExists(atPath: raw) { try? FileManager.default.removeItem(atPath: raw) }
                    done = true
                } catch let error as DataError {
                    failures.append("\(url): \(error.message)")
                }
            }
            if !done {
                throw DataError(
                    path: target,
                    message:
                        """
                        download failed from every mirror: \(failures.joined(separator: "; ")). Check the network, or fetch \
                        \(name).gz yourself into \(directory) (or pass --data DIR)
                        """
                )
            }
        }
    }

    /// Runs `curl -fsSL --max-time 120 -o output url`; returns nil on success, else the reason.
    private static func runCurl(_ curl: String, url: String, output: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: curl)
        process.arguments = ["-fsSL", "--max-time", "120", "-o", output, url]
        let errorPipe = Pipe()
        process.standardError = errorPipe
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return "could not run \(curl): \(error.localizedDescription)"
        }
        let errorText = String(decoding: errorPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let detail = errorText.trimmingCharacters(in: .whitespacesAndNewlines)
            return "curl exited with status \(process.terminationStatus)" + (detail.isEmpty ? "" : " (\(detail))")
        }
        return nil
    }
}

/// The result of checking one file against one reference hash.
public struct ChecksumStatus: Sendable {
    /// For content checks, the IDX name (`"train-images-idx3-ubyte"`, whether stored raw or .gz);
    /// for SHA256SUMS entries, `"SHA256SUMS: <name as listed>"`.
    public let file: String
    /// Reference SHA-256 (hex), nil when none is known.
    public let expected: String?
    /// SHA-256 (hex) actually computed.
    public let actual: String
    /// nil when no reference is known.
    public let ok: Bool?

    public init(file: String, expected: String?, actual: String) {
        self.file = file
        self.expected = expected
        self.actual = actual
        self.ok = expected.map { $0.lowercased() == actual.lowercased() }
    }
}

/// SHA-256 checks of MNIST files.
public enum Checksums {
    /// SHA-256 (hex) of the *decompressed* IDX content of each of the four files, so the check does
    /// not depend on which mirror's gzip was used. Keys are the `MNISTFiles` names.
    public static let mnistContentSHA256: [String: String] = [
        MNISTFiles.trainImages: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        MNISTFiles.trainLabels: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        MNISTFiles.testImages: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        MNISTFiles.testLabels: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
    ]

    /// Name of the optional sha256sum-format file checked by `verify`.
    public static let sumsFileName = "SHA256SUMS"

    /// Checks the four MNIST files in `directory` (decompressed content against
    /// `mnistContentSHA256`, in `MNISTFiles` order), then, when `directory/SHA256SUMS` exists, every
    /// file it lists that is present (hashes over the files as stored; absent files are skipped,
    /// like `sha256sum --ignore-missing`).
    /// - Throws: `DataError` when one of the four files is missing or unreadable, or when SHA256SUMS
    ///   has a malformed line.
    public static func verify(directory: String) throws -> [ChecksumStatus] {
        var statuses: [ChecksumStatus] = []
        for name in MNISTFiles.all {
            let path = try MNISTFiles.path(of: name, in: directory)
            statuses.append(ChecksumStatus(file: name, expected: mnistContentSHA256[name], actual: try contentSHA256(path: path)))
        }
        let sumsPath = (directory as NSString).appendingPathComponent(sumsFileName)
        if FileManager.default.fileExists(atPath: sumsPath) {
            let text = String(decoding: try FileBytes.read(path: sumsPath), as: UTF8.self)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let entry = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if entry.isEmpty || entry.hasPrefix("#") { continue }
                let (hash, name) = try parseSumsLine(entry, path: sumsPath, lineNumber: number + 1)
                let filePath = (directory as NSString).appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: filePath) else { continue }
                let actual = sha256Hex(try FileBytes.read(path: filePath))
                statuses.append(ChecksumStatus(file: "\(sumsFileName): \(name)", expected: hash, actual: actual))
            }
        }
        return statuses
    }

    /// `"<64 hex>  name"` or `"<64 hex> *name"` (binary mode marker).
    private static func parseSumsLine(_ line: String, path: String, lineNumber: Int) throws -> (String, String) {
        let hash = String(line.prefix(64))
        let rest = line.dropFirst(64)
        let isHex = hash.count == 64 && hash.allSatisfy { $0.isHexDigit }
        guard isHex, let separator = rest.first, separator == " " || separator == "\t" else {
            throw DataError(
                path: path,
                message: "line \(lineNumber): expected \"<64 hex digits>  <file name>\" (sha256sum format), found \"\(line.prefix(100))\"")
        }
        var name = rest.drop(while: { $0 == " " || $0 == "\t" })
        if name.hasPrefix("*") { name = name.dropFirst() }
        guard !name.isEmpty else {
            throw DataError(path: path, message: "line \(lineNumber): expected a file name after the hash, found \"\(line.prefix(100))\"")
        }
        return (hash.lowercased(), String(name))
    }

    /// SHA-256 of the file's IDX content: decompressed first when it is gzip.
    static func contentSHA256(path: String) throws -> String {
        let bytes = try FileBytes.read(path: path)
        return sha256Hex(Gzip.isGzip(bytes) ? try Gzip.decompress(bytes, path: path) : bytes)
    }

    /// Lower-case hex SHA-256 of `bytes` (swift-crypto).
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        let digits: [Character] = Array("0123456789abcdef")
        var text = ""
        text.reserveCapacity(64)
        for byte in SHA256.hash(data: bytes) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text
    }
}
