// Transport security for the cluster: the key directory `digits keys generate` writes, and the
// rule every role applies: CURVE with a ZAP allow-list when keys are given; plaintext only on
// loopback, or anywhere when the user says the network is trusted (--insecure).
import Foundation
import Logging
import ZeroMQ

/// The files of a key directory, as `digits keys generate` writes them.
///
///     server.key          coordinator and parameter-server key pair (secret, mode 0600)
///     server.pub          the server public key every client needs
///     worker.key          the workers' key pair (secret, mode 0600)
///     worker-N.key        optional per-worker key pairs (--workers N)
///     authorized_workers  the client public keys allowed in (remove a line to revoke one)
public struct KeyDirectory: Sendable {
    public let path: String
    public init(path: String) { self.path = path }

    public var serverKeyFile: String { path + "/server.key" }
    public var serverPublicFile: String { path + "/server.pub" }
    public var workerKeyFile: String { path + "/worker.key" }
    public var authorizedFile: String { path + "/authorized_workers" }

    /// `name = "Z85"` lines; # comments and blank lines ignored. Names a line that is neither.
    public static func parse(_ text: String, file: String) throws -> [(name: String, key: String)] {
        var entries: [(String, String)] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, parts[1].count == 42, parts[1].hasPrefix("\""), parts[1].hasSuffix("\"") else {
                throw RuntimeError("\(file):\(n + 1): expected name = \"<40-character Z85 key>\", found '\(line)'")
            }
            let key = String(parts[1].dropFirst().dropLast())
            guard Curve.decode(key) != nil else { throw RuntimeError("\(file):\(n + 1): '\(key)' is not a Z85 CURVE key") }
            entries.append((parts[0], key))
        }
        return entries
    }

    public static func read(_ file: String) throws -> [(name: String, key: String)] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw RuntimeError("\(file): cannot read the key file (make one with: digits keys generate --out DIR)")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: file)
    }

    public static func readKeyPair(_ file: String) throws -> CurveKeyPair {
        let entries = try read(file)
        guard let pub = entries.first(where: { $0.name == "public" })?.key, let sec = entries.first(where: { $0.name == "secret" })?.key
        else {
            throw RuntimeError("\(file): expected a key pair (public = ... and secret = ...), found \(entries.map(\.name))")
        }
        let pair = CurveKeyPair(publicKey: pub, secretKey: sec)
        guard pair.isConsistent else { throw RuntimeError("\(file): the public key does not belong to the secret key") }
        return pair
    }

    public static func readPublicKey(_ file: String) throws -> String {
        guard let key = try read(file).first(where: { $0.name == "public" })?.key else {
            throw RuntimeError("\(file): expected public = \"<Z85 key>\"")
        }
        return key
    }

    public func serverKeys() throws -> CurveKeyPair { try Self.readKeyPair(serverKeyFile) }
    public func serverPublicKey() throws -> String { try Self.readPublicKey(serverPublicFile) }
    public func workerKeys() throws -> CurveKeyPair { try Self.readKeyPair(workerKeyFile) }
    public func authorizedKeys() throws -> [String] {
        let keys = try Self.read(authorizedFile).map(\.key)
        if keys.isEmpty { throw RuntimeError("\(authorizedFile): no authorised keys: no worker could join") }
        return keys
    }

    static func keyPairText(_ pair: CurveKeyPair, comment: String) -> String {
        "# \(comment)\n# Secret: keep this file private.\npublic = \"\(pair.publicKey)\"\nsecret = \"\(pair.secretKey)\"\n"
    }

    /// Makes a new key directory at `out` (absent or empty): the server pair, its public key, the
    /// shared worker pair, `workers` per-worker pairs and the allow-list. Written into a private
    /// sibling first and renamed into place, so there is never a half-made key directory.
    public static func generate(at out: String, workers: Int) throws {
        let fm = FileManager.default
        if let existing = try? fm.contentsOfDirectory(atPath: out), !existing.isEmpty {
            throw RuntimeError(
                "\(out): directory is not empty (found \(existing.sorted().prefix(3).joined(separator: ", "))); refusing to overwrite keys")
        }
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: out, isDirectory: &isDir), !isDir.boolValue {
            throw RuntimeError("\(out): exists and is not a directory")
        }
        let staging = out + ".partial-\(getpid())"
        try? fm.removeItem(atPath: staging)
        do {
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw RuntimeError("\(out): cannot create the key directory: \(error.localizedDescription)")
        }
        do {
            let dir = KeyDirectory(path: staging)
            let server = try CurveKeyPair.generate()
            let worker = try CurveKeyPair.generate()
            func write(_ text: String, _ path: String, secret: Bool) throws {
                guard fm.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: secret ? 0o600 : 0o644]) else {
                    throw RuntimeError("\(path): cannot write")
                }
            }
            try write(
                keyPairText(server, comment: "Digits CURVE key pair of the coordinator and parameter servers."), dir.serverKeyFile,
                secret: true)
            try write(
                "# Digits server public key: every worker needs it.\npublic = \"\(server.publicKey)\"\n", dir.serverPublicFile,
                secret: false)
            try write(
                keyPairText(worker, comment: "Digits CURVE key pair shared by workers (digits worker --keys DIR)."), dir.workerKeyFile,
                secret: true)
            var authorized =
                """
                # Public keys of the clients allowed to join (name = \"key\"). Remove a line to revoke one.\nworker = \
                \"\(worker.publicKey)\"\n
                """
            if workers > 0 {
                for i in 1...workers {
                    let pair = try CurveKeyPair.generate()
                    try write(
                        keyPairText(
                            pair, comment: "Digits CURVE key pair of worker-\(i) (digits worker --keys DIR --key worker-\(i).key)."),
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
    }
}

/// How one process secures its sockets.
public enum TransportSecurity: Sendable {
    case plaintext
    /// CURVE servers (and, for parameter-server shards, a CURVE client of the coordinator).
    case server(keys: CurveKeyPair, authorized: [String])
    case client(serverKey: String, keys: CurveKeyPair)

    public var isCurve: Bool { if case .plaintext = self { return false } else { return true } }

    /// Plaintext is allowed only on loopback or when `insecure`; otherwise keys are required.
    public static func requireKeys(for endpoints: [String], insecure: Bool, role: String) throws {
        guard !insecure, let open = endpoints.first(where: { !((try? Endpoint($0))?.isLoopback ?? false) }) else { return }
        throw RuntimeError(
            """
            \(role) on \(open) is not loopback, so it needs CURVE keys: give --keys DIR (make them with `digits keys generate --out \
            DIR`) or, on a trusted network, --insecure
            """
        )
    }

    /// Coordinator and parameter-server shards: CURVE servers with the worker allow-list. The
    /// server key is also allowed, so parameter-server shards can register with the coordinator.
    public static func server(keys: KeyDirectory?, insecure: Bool, endpoints: [String], role: String) throws -> TransportSecurity {
        guard let keys else {
            try requireKeys(for: endpoints, insecure: insecure, role: role)
            return .plaintext
        }
        let pair = try keys.serverKeys()
        return .server(keys: pair, authorized: try keys.authorizedKeys() + [pair.publicKey])
    }

    /// Workers: CURVE clients with the worker key pair (or `keyFile`).
    public static func client(keys: KeyDirectory?, insecure: Bool, keyFile: String?, endpoint: String, role: String) throws
        -> TransportSecurity
    {
        guard let keys else {
            try requireKeys(for: [endpoint], insecure: insecure, role: role)
            return .plaintext
        }
        let pair = try keyFile.map(KeyDirectory.readKeyPair) ?? keys.workerKeys()
        return .client(serverKey: try keys.serverPublicKey(), keys: pair)
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
