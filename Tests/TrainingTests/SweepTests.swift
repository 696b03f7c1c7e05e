import Foundation
import XCTest

@testable import Training

final class SweepTests: XCTestCase {
    func write(_ text: String) -> String {
        let path = NSTemporaryDirectory() + "digits-sweep-\(UUID().uuidString).toml"
        FileManager.default.createFile(atPath: path, contents: text.data(using: .utf8))
        return path
    }

    var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    func testShippedSweepConfigIsAnEightTrialGrid() throws {
        let s = try SweepConfig.load(path: packageRoot + "/Config/sweep.toml")
        XCTAssertEqual(s.trialList().count, 8)
        XCTAssertEqual(s.base, packageRoot + "/Config/train.toml")
    }

    func testGridOrderAndCap() throws {
        let s = try SweepConfig.load(
            path: write(
                """
                [sweep]
                method = "grid"
                [space]
                learning_rate = [0.001, 0.01]
                model = ["a.toml", "b"]
                augment = [false, true]
                """))
        let t = s.trialList()
        XCTAssertEqual(t.count, 8)
        XCTAssertEqual(t[0].name, "t01-a-lr0.001-noaug")
        XCTAssertEqual(t[1].name, "t02-a-lr0.001-aug")
        XCTAssertEqual(t[7].name, "t08-b-lr0.01-aug")
        XCTAssertEqual(t[3].arguments, ["--model", "a.toml", "--lr", "0.01", "--augment"])
        var capped = s
        capped.trials = 3
        XCTAssertEqual(capped.trialList().count, 3)
    }

    func testRandomSearchIsSeeded() throws {
        let text =
            """
            [sweep]\nmethod = \"random\"\ntrials = 6\nseed = %d\n[space]\nlearning_rate = [0.001, 0.002, 0.003]\ndropout = [0.1, 0.2, \
            0.3]\n
            """
        let a = try SweepConfig.load(path: write(String(format: text, 1))).trialList()
        XCTAssertEqual(a, try SweepConfig.load(path: write(String(format: text, 1))).trialList())
        XCTAssertNotEqual(a, try SweepConfig.load(path: write(String(format: text, 2))).trialList())
        XCTAssertEqual(a.count, 6)
    }

    func testBadSweepFilesAreNamed() {
        XCTAssertThrowsError(try SweepConfig.load(path: write("[space]\nlearning_rates = [0.1]\n"))) {
            XCTAssertTrue("\($0)".contains("unknown key 'space.learning_rates'"), "\($0)")
        }
        XCTAssertThrowsError(try SweepConfig.load(path: write("[space]\nbatch_size = [0]\n"))) {
            XCTAssertTrue("\($0)".contains("space.batch_size"), "\($0)")
        }
        XCTAssertThrowsError(try SweepConfig.load(path: write("[sweep]\nmethod = \"random\"\n[space]\ndropout = [0.1]\n"))) {
            XCTAssertTrue("\($0)".contains("sweep.trials"), "\($0)")
        }
    }

    func testTablesAreSortedByValidationAccuracy() {
        func row(_ n: Int, _ val: Double?) -> SweepResult {
            var r = SweepResult(trial: SweepTrial(number: n, learningRate: 0.001 * Double(n)), status: val == nil ? "failed: x" : "ok")
            r.valAccuracy = val
            r.testAccuracy = val.map { $0 - 0.001 }
            return r
        }
        let rows = [row(1, 0.97), row(2, nil), row(3, 0.99), row(4, 0.98)]
        let csv = SweepReport.csv(rows).split(separator: "\n")
        XCTAssertEqual(csv.count, 5)
        XCTAssertTrue(csv[1].hasPrefix("1,t03-"), String(csv[1]))
        XCTAssertTrue(csv[2].hasPrefix("2,t04-"), String(csv[2]))
        XCTAssertTrue(csv[4].hasPrefix("4,t02-"), String(csv[4]))
        let html = SweepReport.html(rows, title: "x<y")
        XCTAssertTrue(html.contains("<svg"))
        XCTAssertTrue(html.contains("x&lt;y"))
        XCTAssertLessThan(html.range(of: "t03-")!.lowerBound, html.range(of: "t01-")!.lowerBound)
    }

    func testShippedRecipesLoad() throws {
        for name in ["best", "fast", "fashion"] {
            let c = try TrainConfig.load(path: packageRoot + "/Config/\(name).toml")
            XCTAssertNoThrow(try c.validate(), name)
        }
    }
}
