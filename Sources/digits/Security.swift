// The security flags every cluster role shares, and `digits keys generate`. The key directory and
// the CURVE/ZAP policy themselves live in ClusterRuntime.
import ArgumentParser
import ClusterRuntime
import Training

struct SecurityOptions: ParsableArguments {
    @Option(
        help:
            """
            Directory made by `digits keys generate`: CURVE encryption and an allow-list of worker keys (default: [security] keys of \
            the cluster file).
            """
    )
    var keys: String?
    @Flag(help: "Allow plaintext on non-loopback endpoints (trusted networks only).")
    var insecure = false

    func keyDirectory(_ file: ClusterConfig?) -> KeyDirectory? {
        (keys ?? file?.keys).map { KeyDirectory(path: $0) }
    }

    func allowInsecure(_ file: ClusterConfig?) -> Bool { insecure || (file?.insecure ?? false) }

    /// Coordinator and parameter-server shards.
    func serverSecurity(endpoints: [String], file: ClusterConfig?, role: String) throws -> TransportSecurity {
        try .server(keys: keyDirectory(file), insecure: allowInsecure(file), endpoints: endpoints, role: role)
    }

    /// Workers (with their own key pair file when given).
    func clientSecurity(endpoint: String, file: ClusterConfig?, keyFile: String?, role: String) throws -> TransportSecurity {
        try .client(keys: keyDirectory(file), insecure: allowInsecure(file), keyFile: keyFile, endpoint: endpoint, role: role)
    }

    /// The same flags for a child process.
    func arguments(_ file: ClusterConfig?) -> [String] {
        (keyDirectory(file).map { ["--keys", $0.path] } ?? []) + (allowInsecure(file) ? ["--insecure"] : [])
    }
}

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make CURVE key pairs for an authenticated, encrypted cluster.",
        subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate",
            abstract: "Write server.key, server.pub, worker.key (+ worker-N.key) and authorized_workers into a new directory.")

        @Option(help: "Directory to create (must not exist or be empty).") var out: String
        @Option(help: "Also make this many per-worker key pairs worker-1.key ... (each listed in authorized_workers).") var workers: Int = 0

        func validate() throws {
            if workers < 0 || workers > 10_000 { throw ValidationError("--workers must be in 0...10000, found \(workers)") }
        }

        func run() throws {
            try KeyDirectory.generate(at: out, workers: workers)
            print(
                """
                keys: wrote \(out)/server.key, server.pub, worker.key\(workers > 0 ? ", worker-1.key ... worker-\(workers).key" : "") \
                and authorized_workers
                """
            )
            print("keys: coordinator and servers use --keys \(out); copy server.pub and a worker key to each worker host")
        }
    }
}
