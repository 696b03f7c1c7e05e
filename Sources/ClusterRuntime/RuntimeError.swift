// The one error type of the cluster runtime: a sentence naming the file, endpoint or peer, what
// was expected and what was found. The CLI prints it as it is.

/// A failure of the cluster runtime, reported to the user as one line.
public struct RuntimeError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// How a worker or parameter-server shard ended: its exit status (0 done or stopped, 1 error,
/// 2 refused by the coordinator: do not retry) and why.
public struct ProcessExit: Equatable {
    public let code: Int32
    public let reason: String
}
