// `digits doctor`: what a user needs when a cluster will not form or a result differs between
// machines: version, CPU features, kernel set, numerics fingerprint, libzmq and CURVE, the data.
import ArgumentParser
import Foundation
import MNISTData
import NeuralNet
import TensorKit
import ZeroMQ

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

    struct Report: Encodable {
        var version: String
        var cpuModel: String
        var cpuFlags: [String: Bool]
        var x86_64_v3: Bool
        var kernelSet: String
        var numericsFingerprint: String
        var fingerprintMilliseconds: Double
        var openblasCore: String
        var libzmq: String
        var curve: Bool
        var dataDirectory: String?
        var dataSource: String?
        var dataError: String?
        var checksums: [String: String]
        enum CodingKeys: String, CodingKey {
            case version, cpuModel = "cpu_model", cpuFlags = "cpu_flags", x86_64_v3 = "x86_64_v3", kernelSet = "kernel_set",
                 numericsFingerprint = "numerics_fingerprint", fingerprintMilliseconds = "fingerprint_ms",
                 openblasCore = "openblas_core", libzmq, curve, dataDirectory = "data_dir", dataSource = "data_source",
                 dataError = "data_error", checksums
        }
    }

    /// The CPU model name and flags of the first processor in /proc/cpuinfo ("" and [] elsewhere).
    static func cpuInfo() -> (model: String, flags: Set<String>) {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return ("unknown", []) }
        var model = "unknown", flags = Set<String>()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0] == "model name", model == "unknown" { model = parts[1] }
            if parts[0] == "flags", flags.isEmpty { flags = Set(parts[1].split(separator: " ").map(String.init)) }
        }
        return (model, flags)
    }

    func run() throws {
        let (model, flags) = Self.cpuInfo()
        // x86-64-v3 (what the kernels are built for): AVX, AVX2, BMI1/2, F16C, FMA, LZCNT (abm), MOVBE, XSAVE.
        let v3 = ["avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"].allSatisfy(flags.contains)
        let shown = ["sse4_2", "avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512bw", "avx512vl"]
        let start = DispatchTime.now().uptimeNanoseconds
        let fingerprint = NumericsFingerprint.compute()
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        var report = Report(
            version: Digits.configuration.version, cpuModel: model,
            cpuFlags: Dictionary(uniqueKeysWithValues: shown.map { ($0, flags.contains($0)) }), x86_64_v3: v3,
            kernelSet: fingerprint.kernelSet, numericsFingerprint: fingerprint.description, fingerprintMilliseconds: ms,
            openblasCore: BLAS.coreName, libzmq: ZMQContext.version, curve: Curve.isAvailable, checksums: [:])
        do {
            let location = try DataLocator.resolve(flag: data, allowDownload: false)
            report.dataDirectory = location.directory
            report.dataSource = location.source.rawValue
            for c in try Checksums.verify(directory: location.directory) {
                report.checksums[c.file] = c.ok.map { $0 ? "ok" : "MISMATCH (sha256 \(c.actual))" } ?? "no reference"
            }
        } catch {
            report.dataError = "\(error)"
        }
        if json { return try writeJSON(report) }
        let yes = { (b: Bool) in b ? "yes" : "no" }
        print("digits \(report.version)")
        print("cpu: \(model)")
        print("cpu features: " + shown.map { "\($0) \(yes(flags.contains($0)))" }.joined(separator: ", "))
        print("x86-64-v3 (AVX2 + FMA, what the kernels need): \(yes(v3))")
        print("kernel set: \(fingerprint.kernelSet)")
        print("numerics fingerprint: \(fingerprint) (computed in \(String(format: "%.1f", ms)) ms)")
        print("  hosts with the same fingerprint compute the same bits; a coordinator refuses a worker whose fingerprint differs")
        print("openblas core: \(report.openblasCore) (benchmarks only: the training path does not use OpenBLAS)")
        print("libzmq: \(report.libzmq), CURVE \(report.curve ? "available" : "NOT available (install libzmq built with libsodium)")")
        if let dir = report.dataDirectory {
            print("data: \(dir) (\(report.dataSource ?? ""))")
            for (file, status) in report.checksums.sorted(by: { $0.key < $1.key }) { print("  \(file): \(status)") }
        } else {
            print("data: not found: \(report.dataError ?? "")")
        }
        if !v3 { print("warning: this CPU lacks x86-64-v3 features; Digits' kernels need AVX2 and FMA") }
    }
}
