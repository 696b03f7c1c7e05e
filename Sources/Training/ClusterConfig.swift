// Cluster settings (Config/cluster.toml): endpoints, expected workers and deadlines. A cluster
// file names its training recipe with `train_config`, so `--config Config/cluster.toml` works
// for `digits coordinator`, `digits cluster` and `digits train` alike.
import Foundation
import TOMLKit

public struct ClusterConfig: Codable, Equatable, Sendable {
    /// Path of the training config (resolved relative to the cluster file), nil = built-in defaults.
    public var trainConfig: String?
    public var bind: String?
    public var dataBind: String?
    public var workers: Int?
    public var coordinator: String?
    public var heartbeatMilliseconds: Int?
    public var heartbeatDeadline: Double?
    public var joinDeadline: Double?
    public var stepDeadline: Double?
    /// Key directory from `digits keys generate` (resolved relative to the cluster file).
    public var keys: String?
    /// Allow plaintext on non-loopback endpoints.
    public var insecure: Bool?
    /// Where the coordinator serves its status page ([status] bind): "HOST:PORT" or "off" (checked at load).
    public var statusBind: String?

    public init() {}

    /// Where the keys of a cluster file go: section -> key -> property ("" is the top level).
    static let layout: KeyValuePairs<String, [String: String]> = [
        "": ["train_config": "trainConfig"],
        "coordinator": ["bind": "bind", "data_bind": "dataBind", "workers": "workers"],
        "worker": ["coordinator": "coordinator"],
        "timing": [
            "heartbeat_ms": "heartbeatMilliseconds", "heartbeat_deadline": "heartbeatDeadline",
            "join_deadline": "joinDeadline", "step_deadline": "stepDeadline"
        ],
        "security": ["keys": "keys", "insecure": "insecure"],
        "status": ["bind": "statusBind"]
    ]
    static let sections = layout.map(\.key).filter { !$0.isEmpty }

    /// True if the TOML table looks like a cluster file rather than a training config.
    static func isClusterFile(_ table: TOMLTable) -> Bool {
        table.keys.contains("train_config") || table.keys.contains { sections.contains($0) }
    }

    public static func isClusterFile(path: String) -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let table = try? TOMLTable(string: text) else { return false }
        return isClusterFile(table)
    }

    public static func load(path: String) throws -> ClusterConfig {
        var file = try TOMLSection.file(path, what: "cluster config")
        var c = ClusterConfig()
        for (name, keys) in layout {
            if name.isEmpty {
                c = try file.decode(over: c, keys: keys)
            } else if var section = try file.section(name) {
                c = try section.decode(over: c, keys: keys)
                try section.finish()
            }
        }
        try file.finish()
        // Paths are relative to the cluster file.
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        func resolve(_ p: String?) -> String? { p.map { $0.hasPrefix("/") ? $0 : base.appendingPathComponent($0).path } }
        c.trainConfig = resolve(c.trainConfig)
        c.keys = resolve(c.keys)
        if let b = c.statusBind {
            do { _ = try StatusAddress.parse(b) } catch let e as ConfigError {
                throw ConfigError("\(path): status.bind: \(e.message)")
            }
        }
        if let w = c.workers, w < 1 { throw ConfigError("\(path): coordinator.workers must be at least 1, found \(w)") }
        if let h = c.heartbeatMilliseconds, h < 10 { throw ConfigError("\(path): timing.heartbeat_ms must be at least 10, found \(h)") }
        for (name, v) in [("heartbeat_deadline", c.heartbeatDeadline), ("join_deadline", c.joinDeadline), ("step_deadline", c.stepDeadline)]
        {
            if let v, !(v > 0) { throw ConfigError("\(path): timing.\(name) must be positive, found \(v)") }
        }
        return c
    }
}
