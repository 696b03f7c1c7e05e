import Foundation
import XCTest

/// `digits loadtest`: a real coordinator under simulated workers over loopback.
final class LoadTestCLITests: XCTestCase {
    func report(_ r: CLI.Result) throws -> [String: Any] {
        let object = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
        return try XCTUnwrap(object as? [String: Any], "stdout is not one JSON object:\n\(r.stdout)\n\(r.stderr)")
    }

    func int(_ report: [String: Any], _ key: String) throws -> Int {
        try XCTUnwrap((report[key] as? NSNumber)?.intValue, "\(key) missing in \(report)")
    }

    func testLoadTestPushesEveryMicroBatchOnceAndLeaksNoDescriptors() throws {
        let r = try CLI.run(["loadtest", "--workers", "8", "--seconds", "2", "--json"], timeout: 180)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let report = try report(r)
        XCTAssertGreaterThan(try int(report, "pushes_accepted"), 0)
        XCTAssertGreaterThan(try int(report, "steps"), 0)
        XCTAssertEqual(try int(report, "pushes_rejected"), 0)
        XCTAssertEqual(try int(report, "pushes_duplicated"), 0)
        XCTAssertEqual(report["exactly_once"] as? Bool, true, report["exactly_once_detail"] as? String ?? "")
        XCTAssertEqual(try int(report, "workers_dropped"), 0)
        let slack = 4
        XCTAssertLessThanOrEqual(try int(report, "coordinator_fds_end"), try int(report, "coordinator_fds_start") + slack)
        XCTAssertLessThanOrEqual(try int(report, "loadtest_fds_end"), try int(report, "loadtest_fds_start") + slack)
        XCTAssertGreaterThan(try int(report, "coordinator_fds_start"), 0, "the coordinator's /proc entry was read")
        let raw = try XCTUnwrap(report["raw"] as? [[String: Any]])
        XCTAssertEqual(raw.count, 2, "push-size and 4.8 MB round trips")
        XCTAssertTrue(raw.allSatisfy { (($0["mb_per_second"] as? NSNumber)?.doubleValue ?? 0) > 0 })
    }

    /// The exactly-once check is not vacuous: pushing some micro-batches twice fails the run.
    func testInjectedDuplicatePushesAreCaught() throws {
        let r = try CLI.run(
            ["loadtest", "--workers", "4", "--seconds", "2", "--raw-seconds", "0", "--inject-duplicates", "10", "--json"],
            timeout: 180)
        XCTAssertNotEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("double-counted"), r.stderr)
        let report = try report(r)
        XCTAssertEqual(report["exactly_once"] as? Bool, false)
        XCTAssertGreaterThan(try int(report, "pushes_duplicated") + int(report, "pushes_rejected"), 0)
    }
}
