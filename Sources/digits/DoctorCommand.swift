// `digits doctor`: what a user needs when a cluster will not form or a result differs between
// machines (see DoctorReport).
import ArgumentParser
import ClusterRuntime

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print this machine's facts that decide whether it can join a cluster and get the same bits.",
        discussion: """
            Two processes can train together reproducibly when their numerics fingerprints are equal; the \
            coordinator refuses a worker whose fingerprint differs (unless --allow-mixed-numerics). Run \
            `digits doctor` on each host and compare the fingerprint lines.
            """)

    @Option(name: .long, help: "Directory with the four MNIST IDX files (default: as digits train finds it; never downloads).")
    var data: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let report = DoctorReport.gather(version: Digits.configuration.version ?? "", data: data)
        if json { return try writeJSON(report) }
        for line in report.lines { print(line) }
    }
}
