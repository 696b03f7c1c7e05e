// Cluster settings (Config/cluster.toml): endpoints, expected workers and deadlines. A cluster
// file names its training recipe with `train_config`, so `--config Config/cluster.toml` works
// for `digits coordinator`, `digits cluster` and `digits train` alike.
import Foundation
import TOMLKit

public struct ClusterConfig: Equatable, Sendable {
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

    static let sections = ["coordinator", "worker", "timing", "security", "status"]

    /// True if the TOML table looks like a cluster file rather than a training config.
    static func isClusterFile(_ table: TOMLTable) -> Bool {
        table.keys.contains("train_config") || table.keys.contains { sections.contains($0) }
    }

    public static func isClusterFile(path: String) -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let table = try? TOMLTable(string: text) else { return false }
        return isClusterFile(table)
    }

    public static func load(path: String) throws -> ClusterConfig {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError("\(path): cannot read the cluster config file")
        }
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw ConfigError("\(path): \(e.description) (\(e.source))")
        }
        var c = ClusterConfig()
        var top = TOMLReader(table: table, section: "", path: path)
        if let t = try top.string("train_config") {
            c.trainConfig = t.hasPrefix("/") ? t : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(t).path
        }
        func section(_ name: String) throws -> TOMLReader? {
            top.consumed.insert(name)
            guard let v = table[name] else { return nil }
            guard let t = v.table else { throw ConfigError("\(path): '\(name)' must be a section") }
            return TOMLReader(table: t, section: name, path: path)
        }
        if var r = try section("coordinator") {
            c.bind = try r.string("bind")
            c.dataBind = try r.string("data_bind")
            c.workers = try r.int("workers")
            try r.finish()
        }
        if var r = try section("worker") {
            c.coordinator = try r.string("coordinator")
            try r.finish()
        }
        if var r = try section("timing") {
            c.heartbeatMilliseconds = try r.int("heartbeat_ms")
            c.heartbeatDeadline = try r.double("heartbeat_deadline")
            c.joinDeadline = try r.double("join_deadline")
            c.stepDeadline = try r.double("step_deadline")
            try r.finish()
        }
        if var r = try section("security") {
            if let k = try r.string("keys") {
                c.keys = k.hasPrefix("/") ? k : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(k).path
            }
            c.insecure = try r.bool("insecure")
            try r.finish()
        }
        if var r = try section("status") {
            if let b = try r.string("bind") {
                c.statusBind = b
                do { _ = try StatusAddress.parse(b) } catch let e as ConfigError {
                    throw ConfigError("\(path): status.bind: \(e.message)")
                }
            }
            try r.finish()
        }
        try top.finish()
        if let w = c.workers, w < 1 { throw ConfigError("\(path): coordinator.workers must be at least 1, found \(w)") }
        if let h = c.heartbeatMilliseconds, h < 10 { throw ConfigError("\(path): timing.heartbeat_ms must be at least 10, found \(h)") }
        for (name, v) in [("heartbeat_deadline", c.heartbeatDeadline), ("join_deadline", c.joinDeadline), ("step_deadline", c.stepDeadline)] {
            if let v, !(v > 0) { throw ConfigError("\(path): timing.\(name) must be positive, found \(v)") }
        }
        return c
    }
}
