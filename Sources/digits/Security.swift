// Transport security for the cluster: `digits keys generate`, the key directory it writes, and
// the rule every role applies: CURVE with a ZAP allow-list when keys are given; plaintext only on
// loopback, or anywhere with an explicit --insecure.
import ArgumentParser
import Foundation
import Logging
import Training
import ZeroMQ

/// The files of a key directory, as `digits keys generate` writes them.
///
///     server.key          coordinator and parameter-server key pair (secret, mode 0600)
///     server.pub          the server public key every client needs
///     worker.key          the workers' key pair (secret, mode 0600)
///     worker-N.key        optional per-worker key pairs (--workers N)
///     authorized_workers  the client public keys allowed in (remove a line to revoke one)
struct KeyDirectory {
    let path: String
    var serverKeyFile: String { path + "/server.key" }
    var serverPublicFile: String { path + "/server.pub" }
    var workerKeyFile: String { path + "/worker.key" }
    var authorizedFile: String { path + "/authorized_workers" }

    /// `name = "Z85"` lines; # comments and blank lines ignored. Names a line that is neither.
    static func parse(_ text: String, file: String) throws -> [(name: String, key: String)] {
        var entries: [(String, String)] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, parts[1].count == 42, parts[1].hasPrefix("\""), parts[1].hasSuffix("\"") else {
                throw CLIError("\(file):\(n + 1): expected name = \"<40-character Z85 key>\", found '\(line)'")
            }
            let key = String(parts[1].dropFirst().dropLast())
            guard Curve.decode(key) != nil else { throw CLIError("\(file):\(n + 1): '\(key)' is not a Z85 CURVE key") }
            entries.append((parts[0], key))
        }
        return entries
    }

    static func read(_ file: String) throws -> [(name: String, key: String)] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CLIError("\(file): cannot read the key file (make one with: digits keys generate --out DIR)")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: file)
    }

    static func readKeyPair(_ file: String) throws -> CurveKeyPair {
        let entries = try read(file)
        guard let pub = entries.first(where: { $0.name == "public" })?.key, let sec = entries.first(where: { $0.name == "secret" })?.key else {
            throw CLIError("\(file): expected a key pair (public = ... and secret = ...), found \(entries.map(\.name))")
        }
        let pair = CurveKeyPair(publicKey: pub, secretKey: sec)
        guard pair.isConsistent else { throw CLIError("\(file): the public key does not belong to the secret key") }
        return pair
    }

    static func readPublicKey(_ file: String) throws -> String {
        guard let key = try read(file).first(where: { $0.name == "public" })?.key else {
            throw CLIError("\(file): expected public = \"<Z85 key>\"")
        }
        return key
    }

    func serverKeys() throws -> CurveKeyPair { try Self.readKeyPair(serverKeyFile) }
    func serverPublicKey() throws -> String { try Self.readPublicKey(serverPublicFile) }
    func workerKeys() throws -> CurveKeyPair { try Self.readKeyPair(workerKeyFile) }
    func authorizedKeys() throws -> [String] {
        let keys = try Self.read(authorizedFile).map(\.key)
        if keys.isEmpty { throw CLIError("\(authorizedFile): no authorised keys: no worker could join") }
        return keys
    }

    static func keyPairText(_ pair: CurveKeyPair, comment: String) -> String {
        "# \(comment)\n# Secret: keep this file private.\npublic = \"\(pair.publicKey)\"\nsecret = \"\(pair.secretKey)\"\n"
    }
}

/// How one process secures its sockets.
enum TransportSecurity {
    case plaintext
    /// CURVE servers (and, for parameter-server shards, a CURVE client of the coordinator).
    case server(keys: CurveKeyPair, authorized: [String])
    case client(serverKey: String, keys: CurveKeyPair)

    var isCurve: Bool { if case .plaintext = self { return false } else { return true } }

    /// Loopback and in-process endpoints never leave the machine.
    static func isLoopback(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        var host = String(endpoint.dropFirst(6))
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        return host == "localhost" || host.hasPrefix("127.") || host == "[::1]" || host == "::1"
    }

    /// Plaintext is allowed only on loopback or with --insecure; otherwise keys are required.
    static func requireKeys(for endpoints: [String], insecure: Bool, role: String) throws {
        guard !insecure, let open = endpoints.first(where: { !isLoopback($0) }) else { return }
        throw CLIError("\(role) on \(open) is not loopback, so it needs CURVE keys: give --keys DIR (make them with `digits keys generate --out DIR`) or, on a trusted network, --insecure")
    }

    /// Starts the ZAP allow-list for a server context (before any bind).
    func startZAP(_ context: ZMQContext, logger: Logger) throws -> ZAPHandler? {
        guard case .server(_, let authorized) = self else { return nil }
        return try ZAPHandler(context: context, authorizedKeys: authorized) { reason in
            logger.warning("security: \(reason)")
        }
    }

    func secureServer(_ socket: ZMQSocket) throws {
        if case .server(let keys, _) = self { try socket.makeCurveServer(keys) }
    }

    func secureClient(_ socket: ZMQSocket) throws {
        switch self {
        case .plaintext: break
        case .client(let serverKey, let keys): try socket.makeCurveClient(serverKey: serverKey, keys: keys)
        case .server(let keys, _): try socket.makeCurveClient(serverKey: keys.publicKey, keys: keys)
        }
    }
}

struct SecurityOptions: ParsableArguments {
    @Option(help: "Directory made by `digits keys generate`: CURVE encryption and an allow-list of worker keys (default: [security] keys of the cluster file).")
    var keys: String?
    @Flag(help: "Allow plaintext on non-loopback endpoints (trusted networks only).")
    var insecure = false

    func keyDirectory(_ file: ClusterConfig?) -> KeyDirectory? {
        (keys ?? file?.keys).map { KeyDirectory(path: $0) }
    }

    func allowInsecure(_ file: ClusterConfig?) -> Bool { insecure || (file?.insecure ?? false) }

    /// Coordinator and parameter-server shards: CURVE servers with the worker allow-list. The
    /// server key is also allowed, so parameter-server shards can register with the coordinator.
    func serverSecurity(endpoints: [String], file: ClusterConfig?, role: String) throws -> TransportSecurity {
        guard let dir = keyDirectory(file) else {
            try TransportSecurity.requireKeys(for: endpoints, insecure: allowInsecure(file), role: role)
            return .plaintext
        }
        let keys = try dir.serverKeys()
        return .server(keys: keys, authorized: try dir.authorizedKeys() + [keys.publicKey])
    }

    /// Workers: CURVE clients with the worker key pair (or --key FILE).
    func clientSecurity(endpoint: String, file: ClusterConfig?, keyFile: String?, role: String) throws -> TransportSecurity {
        guard let dir = keyDirectory(file) else {
            try TransportSecurity.requireKeys(for: [endpoint], insecure: allowInsecure(file), role: role)
            return .plaintext
        }
        let keys = try keyFile.map(KeyDirectory.readKeyPair) ?? dir.workerKeys()
        return .client(serverKey: try dir.serverPublicKey(), keys: keys)
    }

    /// The same flags for a child process.
    func arguments(_ file: ClusterConfig?) -> [String] {
        (keyDirectory(file).map { ["--keys", $0.path] } ?? []) + (allowInsecure(file) ? ["--insecure"] : [])
    }
}

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys",
        abstract: "Make CURVE key pairs for an authenticated, encrypted cluster.",
        subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "generate",
            abstract: "Write server.key, server.pub, worker.key (+ worker-N.key) and authorized_workers into a new directory.")

        @Option(help: "Directory to create (must not exist or be empty).") var out: String
        @Option(help: "Also make this many per-worker key pairs worker-1.key ... (each listed in authorized_workers).") var workers: Int = 0

        func validate() throws {
            if workers < 0 || workers > 10_000 { throw ValidationError("--workers must be in 0...10000, found \(workers)") }
        }

        func run() throws {
            let fm = FileManager.default
            if let existing = try? fm.contentsOfDirectory(atPath: out), !existing.isEmpty {
                throw CLIError("\(out): directory is not empty (found \(existing.sorted().prefix(3).joined(separator: ", "))); refusing to overwrite keys")
            }
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: out, isDirectory: &isDir), !isDir.boolValue {
                throw CLIError("\(out): exists and is not a directory")
            }
            // Write everything into a private sibling first, then rename: no half-made key directory.
            let staging = out + ".partial-\(getpid())"
            try? fm.removeItem(atPath: staging)
            do {
                try fm.createDirectory(atPath: staging, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw CLIError("\(out): cannot create the key directory: \(error.localizedDescription)")
            }
            do {
                let dir = KeyDirectory(path: staging)
                let server = try CurveKeyPair.generate()
                let worker = try CurveKeyPair.generate()
                func write(_ text: String, _ path: String, secret: Bool) throws {
                    guard fm.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: secret ? 0o600 : 0o644]) else {
                        throw CLIError("\(path): cannot write")
                    }
                }
                try write(KeyDirectory.keyPairText(server, comment: "Digits CURVE key pair of the coordinator and parameter servers."), dir.serverKeyFile, secret: true)
                try write("# Digits server public key: every worker needs it.\npublic = \"\(server.publicKey)\"\n", dir.serverPublicFile, secret: false)
                try write(KeyDirectory.keyPairText(worker, comment: "Digits CURVE key pair shared by workers (digits worker --keys DIR)."), dir.workerKeyFile, secret: true)
                var authorized = "# Public keys of the clients allowed to join (name = \"key\"). Remove a line to revoke one.\nworker = \"\(worker.publicKey)\"\n"
                if workers > 0 {
                    for i in 1...workers {
                        let pair = try CurveKeyPair.generate()
                        try write(KeyDirectory.keyPairText(pair, comment: "Digits CURVE key pair of worker-\(i) (digits worker --keys DIR --key worker-\(i).key)."),
                                  staging + "/worker-\(i).key", secret: true)
                        authorized += "worker-\(i) = \"\(pair.publicKey)\"\n"
                    }
                }
                try write(authorized, dir.authorizedFile, secret: false)
                if fm.fileExists(atPath: out) { try fm.removeItem(atPath: out) }  // empty, checked above
                try fm.moveItem(atPath: staging, toPath: out)
            } catch {
                try? fm.removeItem(atPath: staging)
                throw error
            }
            print("keys: wrote \(out)/server.key, server.pub, worker.key\(workers > 0 ? ", worker-1.key ... worker-\(workers).key" : "") and authorized_workers")
            print("keys: coordinator and servers use --keys \(out); copy server.pub and a worker key to each worker host")
        }
    }
}
