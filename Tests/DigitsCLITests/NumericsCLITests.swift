import Foundation
import TestSupport
import XCTest

/// Same bits on every machine: the golden run, OpenBLAS's per-CPU kernel choice left out of the training
/// path, and the numerics fingerprint checked at the coordinator's door (real processes).
final class NumericsCLITests: XCTestCase {
    /// The golden run: the first 4,000 training images of real MNIST (first 1,000 test images), keras-example,
    /// 2 epochs of batch 32 (226 steps), built-in defaults otherwise. Its weights_sha256 must be this on every
    /// x86-64-v3 machine; a change of any kernel's operation order changes it (and NumericsFingerprint.kernelSet).
    static let goldenRecipe = [
        "--epochs", "2", "--batch", "32", "--micro-batch", "8", "--model", "keras-example", "--seed", "15",
        "--no-early-stopping", "--threads", "2"
    ]
    static let goldenSHA256 = "20a478dce4617a7fb91048dd8a9f26dc351c967016b0d7bd599c3445ecf9425c"

    /// The canonical fingerprint (NumericsFingerprint) of this build's kernels on any x86-64-v3 machine.
    static let goldenFingerprint = "ks2-x86-64-v3-fma/bec2f3d4a8b09ac9"

    /// Written once per test process; without real MNIST each test that needs it fails with the reason
    /// (a `try!` here crashed the whole test run instead).
    static let subsetResult = Result { try RealMNIST.writeSubset(train: 4000, test: 1000, packageRoot: CLI.packageRoot.path) }
    static func subset() throws -> String { try subsetResult.get() }

    func summary(_ dir: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as! [String: Any]
    }

    func train(_ out: String, environment: [String: String] = [:]) throws -> [String: Any] {
        // In a directory without Config/: the built-in defaults, whatever Config/train.toml says.
        let r = try CLI.run(
            ["train", "--data", try Self.subset(), "--out", out] + Self.goldenRecipe, in: CLI.tempDirectory("golden-cwd"),
            environment: environment)
        XCTAssertEqual(r.status, 0, r.stderr)
        return try summary(out)
    }

    func testGoldenRunGivesTheGoldenHashWhateverOpenBLASWouldPick() throws {
        let dir = CLI.tempDirectory("golden")
        let plain = try train(dir + "/plain")
        XCTAssertEqual(
            plain["weights_sha256"] as? String, Self.goldenSHA256,
            "the golden run's weights differ on this machine (numerics fingerprint \(plain["numerics_fingerprint"] ?? "?"))")
        XCTAssertEqual(plain["numerics_fingerprint"] as? String, Self.goldenFingerprint)
        // OpenBLAS picks its kernels by CPU (or by OPENBLAS_CORETYPE); none of them may reach the weights. On an
        // AVX2-only host the AVX-512 kernel sets would crash if they ran at all.
        for core in ["Haswell", "Zen", "SkylakeX", "Cooperlake"] {
            let s = try train(dir + "/\(core)", environment: ["OPENBLAS_CORETYPE": core, "OPENBLAS_NUM_THREADS": "2"])
            XCTAssertEqual(s["weights_sha256"] as? String, Self.goldenSHA256, "OPENBLAS_CORETYPE=\(core)")
        }
    }

    func doctor(_ environment: [String: String] = [:]) throws -> [String: Any] {
        let r = try CLI.run(
            ["doctor", "--json", "--data", RealMNIST.directory(packageRoot: CLI.packageRoot.path)], environment: environment)
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
    }

    func testDoctorPrintsTheFingerprintAndNoticesAPerturbedKernel() throws {
        let plain = try doctor()
        XCTAssertEqual(plain["numerics_fingerprint"] as? String, Self.goldenFingerprint)
        XCTAssertEqual(plain["x86_64_v3"] as? Bool, true)
        XCTAssertEqual(plain["curve"] as? Bool, true)
        let checks = try XCTUnwrap(plain["checksums"] as? [String: String])
        XCTAssertFalse(checks.isEmpty)
        XCTAssertTrue(checks.values.allSatisfy { $0 == "ok" }, "\(checks)")
        XCTAssertNotNil(plain["libzmq"] as? String)
        let perturbed = try doctor(["DIGITS_TEST_PERTURB_NUMERICS": "1"])
        XCTAssertNotEqual(
            perturbed["numerics_fingerprint"] as? String, Self.goldenFingerprint,
            "reversing one kernel's summation order must change the fingerprint")
        let human = try CLI.run(["doctor"])
        XCTAssertEqual(human.status, 0, human.stderr)
        XCTAssertTrue(human.stdout.contains("numerics fingerprint: \(Self.goldenFingerprint)"), human.stdout)
    }

    func spawn(_ args: [String], environment: [String: String] = [:]) throws -> (Process, String) {
        try CLI.spawn(args, environment: environment)
    }

    func wait(_ p: Process, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return !p.isRunning
    }

    /// Starts a coordinator on loopback TCP (port 0) and returns it with its control endpoint.
    func startCoordinator(_ dir: String, _ extra: [String], recipe: [String]) throws -> (Process, String, String) {
        let (p, log) = try spawn(
            [
                "coordinator", "--bind", "tcp://127.0.0.1:0", "--workers", "2", "--endpoint-file", dir + "/ep.json",
                "--data", try Self.subset(), "--out", dir + "/run", "--join-deadline", "120"
            ] + extra + recipe)
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: dir + "/ep.json") && p.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let ep = try XCTUnwrap(
            try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/ep.json"))) as? [String: String],
            "the coordinator did not listen: \(text)")
        return (p, log, try XCTUnwrap(ep["control"]))
    }

    static let clusterRecipe = [
        "--epochs", "1", "--batch", "64", "--micro-batch", "16", "--model", "keras-example", "--seed", "21",
        "--no-early-stopping"
    ]

    /// A coordinator and two workers, each process under another OPENBLAS_CORETYPE (as on an AVX2 host and an
    /// AVX-512 host): digits train's weights, three runs in a row.
    func testWorkersUnderDifferentOpenBLASCoreTypesGiveTrainsWeights() throws {
        let dir = CLI.tempDirectory("mixed-blas")
        let r = try CLI.run(["train", "--data", try Self.subset(), "--out", dir + "/train", "--threads", "2"] + Self.clusterRecipe)
        XCTAssertEqual(r.status, 0, r.stderr)
        let reference = try XCTUnwrap(try summary(dir + "/train")["weights_sha256"] as? String)
        for run in 1...3 {
            let runDir = dir + "/c\(run)"
            try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
            let (coordinator, log, endpoint) = try startCoordinator(runDir, [], recipe: Self.clusterRecipe)
            let workers = try [("Haswell", "w-avx2"), ("Cooperlake", "w-avx512")].map { core, name in
                try spawn(
                    ["worker", "--coordinator", endpoint, "--name", name, "--silence-deadline", "60"],
                    environment: ["OPENBLAS_CORETYPE": core])
            }
            defer { for (w, _) in workers where w.isRunning { kill(w.processIdentifier, SIGKILL) } }
            XCTAssertTrue(wait(coordinator, seconds: 300), "run \(run): the coordinator did not finish")
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            XCTAssertEqual(coordinator.terminationStatus, 0, "run \(run): \(text.suffix(2000))")
            XCTAssertEqual(try summary(runDir + "/run")["weights_sha256"] as? String, reference, "run \(run)")
        }
    }

    /// A worker whose kernels sum in another order (the test switch) is refused with both hosts and both
    /// fingerprints named, and changes nothing; with --allow-mixed-numerics it joins and the summary says so.
    func testAWorkerWithOtherNumericsIsRefusedUnlessMixedNumericsAreAllowed() throws {
        let dir = CLI.tempDirectory("numerics-door")
        let r = try CLI.run(["train", "--data", try Self.subset(), "--out", dir + "/train", "--threads", "2"] + Self.clusterRecipe)
        XCTAssertEqual(r.status, 0, r.stderr)
        let reference = try XCTUnwrap(try summary(dir + "/train")["weights_sha256"] as? String)
        let perturbedFingerprint = try XCTUnwrap(try doctor(["DIGITS_TEST_PERTURB_NUMERICS": "1"])["numerics_fingerprint"] as? String)
        let perturb = ["DIGITS_TEST_PERTURB_NUMERICS": "1"]

        // Refused: the odd worker exits 2 with the reason; two good workers then train to train's weights.
        let strict = dir + "/strict"
        try FileManager.default.createDirectory(atPath: strict, withIntermediateDirectories: true)
        let (coordinator, log, endpoint) = try startCoordinator(strict, [], recipe: Self.clusterRecipe)
        defer { if coordinator.isRunning { kill(coordinator.processIdentifier, SIGKILL) } }
        let (odd, oddLog) = try spawn(
            ["worker", "--coordinator", endpoint, "--name", "odd", "--silence-deadline", "60"], environment: perturb)
        XCTAssertTrue(wait(odd, seconds: 60), "the refused worker must exit")
        let oddText = (try? String(contentsOfFile: oddLog, encoding: .utf8)) ?? ""
        XCTAssertEqual(odd.terminationStatus, 2, oddText)
        let host = ProcessInfo.processInfo.hostName
        for needle in ["refused", "odd@\(host)", perturbedFingerprint, Self.goldenFingerprint, "--allow-mixed-numerics"] {
            XCTAssertTrue(oddText.contains(needle), "the worker's error names \(needle): \(oddText)")
        }
        let good = try (1...2).map { try spawn(["worker", "--coordinator", endpoint, "--name", "good\($0)", "--silence-deadline", "60"]) }
        defer { for (w, _) in good where w.isRunning { kill(w.processIdentifier, SIGKILL) } }
        XCTAssertTrue(wait(coordinator, seconds: 300))
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        XCTAssertEqual(coordinator.terminationStatus, 0, text.suffix(2000).description)
        XCTAssertTrue(
            text.contains("numerics fingerprint \(perturbedFingerprint)"), "the coordinator logs the refusal: \(text.prefix(3000))")
        let s = try summary(strict + "/run")
        XCTAssertEqual(s["weights_sha256"] as? String, reference, "a refused worker changes nothing")
        XCTAssertEqual(s["numerics_fingerprint"] as? String, Self.goldenFingerprint)
        XCTAssertEqual(s["allow_mixed_numerics"] as? Bool, false)
        XCTAssertEqual((s["mixed_numerics_peers"] as? [String])?.count, 0)

        // Allowed: the odd worker joins and the summary names it.
        let mixed = dir + "/mixed"
        try FileManager.default.createDirectory(atPath: mixed, withIntermediateDirectories: true)
        let (c2, log2, endpoint2) = try startCoordinator(mixed, ["--allow-mixed-numerics"], recipe: Self.clusterRecipe)
        defer { if c2.isRunning { kill(c2.processIdentifier, SIGKILL) } }
        let pair = try [("odd", perturb), ("even", [:])].map { name, env in
            try spawn(["worker", "--coordinator", endpoint2, "--name", name, "--silence-deadline", "60"], environment: env)
        }
        defer { for (w, _) in pair where w.isRunning { kill(w.processIdentifier, SIGKILL) } }
        XCTAssertTrue(wait(c2, seconds: 300))
        let text2 = (try? String(contentsOfFile: log2, encoding: .utf8)) ?? ""
        XCTAssertEqual(c2.terminationStatus, 0, text2.suffix(2000).description)
        let m = try summary(mixed + "/run")
        XCTAssertEqual(m["allow_mixed_numerics"] as? Bool, true)
        XCTAssertEqual(m["mixed_numerics_peers"] as? [String], ["odd@\(host) \(perturbedFingerprint)"])
        XCTAssertTrue(text2.contains("admitted (--allow-mixed-numerics"), text2.prefix(3000).description)
    }
}
