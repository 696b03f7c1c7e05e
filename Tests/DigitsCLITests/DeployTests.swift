import Foundation
import TestSupport
import XCTest

/// Deploy/ is checked statically (no Docker engine or Kubernetes here): the YAML parses into the
/// expected objects and every `digits` command line uses real subcommands and flags.
final class DeployTests: XCTestCase {
    func testDeployFilesParseAndUseOnlyRealCommandsAndFlags() throws {
        let script = CLI.packageRoot.path + "/Tests/DigitsCLITests/python/check_deploy.py"
        let r = try ExternalTools.run(try ExternalTools.python(), [script, CLI.binary, CLI.packageRoot.path], timeout: 300)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("no problems"), r.stdout)
        XCTAssertGreaterThanOrEqual(r.stdout.components(separatedBy: "\nok ").count, 8, r.stdout)
    }

    /// The checker itself fails on a flag that does not exist.
    func testTheCheckerCatchesAnUnknownFlag() throws {
        let copy = CLI.tempDirectory("deploy")
        try FileManager.default.copyItem(atPath: CLI.packageRoot.path + "/Deploy", toPath: copy + "/Deploy")
        let unit = copy + "/Deploy/systemd/digits-serve.service"
        let text = try String(contentsOfFile: unit, encoding: .utf8).replacingOccurrences(
            of: "--port 8080", with: "--port 8080 --no-such-flag")
        try text.write(toFile: unit, atomically: true, encoding: .utf8)
        let script = CLI.packageRoot.path + "/Tests/DigitsCLITests/python/check_deploy.py"
        let r = try ExternalTools.run(try ExternalTools.python(), [script, CLI.binary, copy], timeout: 300)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("has no flag --no-such-flag"), r.stdout + r.stderr)
    }
}
