// The cluster's timing knobs resolved once: flags over the cluster file over the defaults.
import Cluster
import Training

public struct ClusterTiming: Equatable, Sendable {
    public var heartbeatMilliseconds = 500
    public var heartbeatDeadlineSeconds = 5.0
    public var joinDeadlineSeconds = 120.0
    public var stepDeadlineSeconds = 120.0

    /// Each value from its flag if given, else from the cluster file, else the default.
    public init(heartbeatMilliseconds: Int?, heartbeatDeadline: Double?, joinDeadline: Double?, stepDeadline: Double?, file: ClusterConfig?)
    {
        self.heartbeatMilliseconds = heartbeatMilliseconds ?? file?.heartbeatMilliseconds ?? self.heartbeatMilliseconds
        heartbeatDeadlineSeconds = heartbeatDeadline ?? file?.heartbeatDeadline ?? heartbeatDeadlineSeconds
        joinDeadlineSeconds = joinDeadline ?? file?.joinDeadline ?? joinDeadlineSeconds
        stepDeadlineSeconds = stepDeadline ?? file?.stepDeadline ?? stepDeadlineSeconds
    }

    /// The same timing as flags for a child process.
    public var arguments: [String] {
        [
            "--heartbeat-ms", "\(heartbeatMilliseconds)", "--heartbeat-deadline", "\(heartbeatDeadlineSeconds)",
            "--join-deadline", "\(joinDeadlineSeconds)", "--step-deadline", "\(stepDeadlineSeconds)"
        ]
    }

    /// Sets the coordinator's deadlines and heartbeat interval.
    public func apply(to settings: inout CoordinatorSettings) {
        settings.heartbeatMilliseconds = UInt32(heartbeatMilliseconds)
        settings.heartbeatDeadlineSeconds = heartbeatDeadlineSeconds
        settings.joinDeadlineSeconds = joinDeadlineSeconds
        settings.stepDeadlineSeconds = stepDeadlineSeconds
    }
}

extension ClusterConfig {
    /// The cluster file at `path`, or nil when `path` is absent or names a training config instead.
    public static func loadIfClusterFile(_ path: String?) throws -> ClusterConfig? {
        guard let path, isClusterFile(path: path) else { return nil }
        return try load(path: path)
    }
}
