// What `digits doctor` reports: the facts that decide whether this machine can join a cluster and
// compute the same bits (CPU features, kernel set, numerics fingerprint, the transport library and
// CURVE, the data and its checksums).
import Foundation
import MNISTData
import NeuralNet
import TensorKit
import ZeroMQ

public struct DoctorReport: Encodable {
    public var version: String
    public var cpuModel: String
    public var cpuFlags: [String: Bool]
    public var isX86Level3: Bool
    public var kernelSet: String
    public var numericsFingerprint: String
    public var fingerprintMilliseconds: Double
    public var openblasCore: String
    public var libzmq: String
    public var curve: Bool
    public var dataDirectory: String?
    public var dataSource: String?
    public var dataError: String?
    public var checksums: [String: String]
    enum CodingKeys: String, CodingKey {
        case version
        case cpuModel = "cpu_model"
        case cpuFlags = "cpu_flags"
        case isX86Level3 = "x86_64_v3"
        case kernelSet = "kernel_set"
        case
            numericsFingerprint = "numerics_fingerprint"
        case fingerprintMilliseconds = "fingerprint_ms"
        case
            openblasCore = "openblas_core"
        case libzmq, curve
        case dataDirectory = "data_dir"
        case dataSource = "data_source"
        case
            dataError = "data_error"
        case checksums
    }

    /// CPU flags shown in the report.
    public static let shownFlags = ["sse4_2", "avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512bw", "avx512vl"]

    /// Gathers the report; `data` is a directory flag as `digits train` takes it (never downloads).
    public static func gather(version: String, data: String?) -> DoctorReport {
        let (model, flags) = cpuInfo()
        // x86-64-v3 (what the kernels are built for): AVX, AVX2, BMI1/2, F16C, FMA, LZCNT (abm), MOVBE, XSAVE.
        let v3 = ["avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"].allSatisfy(flags.contains)
        let start = DispatchTime.now().uptimeNanoseconds
        let fingerprint = NumericsFingerprint.compute()
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        var report = DoctorReport(
            version: version, cpuModel: model,
            cpuFlags: Dictionary(uniqueKeysWithValues: shownFlags.map { ($0, flags.contains($0)) }), isX86Level3: v3,
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
        return report
    }

    /// The CPU model name and flags of the first processor in /proc/cpuinfo ("unknown" and [] elsewhere).
    static func cpuInfo() -> (model: String, flags: Set<String>) {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return ("unknown", []) }
        var model = "unknown"
        var flags = Set<String>()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0] == "model name", model == "unknown" { model = parts[1] }
            if parts[0] == "flags", flags.isEmpty { flags = Set(parts[1].split(separator: " ").map(String.init)) }
        }
        return (model, flags)
    }

    /// The report as lines for a person.
    public var lines: [String] {
        let yes = { (b: Bool) in b ? "yes" : "no" }
        var out = [
            "digits \(version)", "cpu: \(cpuModel)",
            "cpu features: " + Self.shownFlags.map { "\($0) \(yes(cpuFlags[$0] ?? false))" }.joined(separator: ", "),
            "x86-64-v3 (AVX2 + FMA, what the kernels need): \(yes(isX86Level3))",
            "kernel set: \(kernelSet)",
            "numerics fingerprint: \(numericsFingerprint) (computed in \(String(format: "%.1f", fingerprintMilliseconds)) ms)",
            "  hosts with the same fingerprint compute the same bits; a coordinator refuses a worker whose fingerprint differs",
            "openblas core: \(openblasCore) (benchmarks only: the training path does not use OpenBLAS)",
            "libzmq: \(libzmq), CURVE \(curve ? "available" : "NOT available (install libzmq built with libsodium)")"
        ]
        if let dir = dataDirectory {
            out.append("data: \(dir) (\(dataSource ?? ""))")
            for (file, status) in checksums.sorted(by: { $0.key < $1.key }) { out.append("  \(file): \(status)") }
        } else {
            out.append("data: not found: \(dataError ?? "")")
        }
        if !isX86Level3 { out.append("warning: this CPU lacks x86-64-v3 features; Digits' kernels need AVX2 and FMA") }
        return out
    }
}
