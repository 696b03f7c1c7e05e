// The real `digits serve` over loopback: real MNIST test digits as PNG upload, raw PNG, JPEG,
// JSON and a batch get the right class and the same probabilities as `digits predict`; malformed
// uploads get 4xx JSON errors and the server keeps serving; /healthz, /metrics; SIGTERM stops it.
import Foundation
import MNISTData
import Serving
import TestSupport
import XCTest

final class ServeCLITests: XCTestCase {
    /// Test-set indices 0, 1, 2, 3 (digits 7, 2, 1, 0): classified right by any trained model.
    let indices = [0, 1, 2, 3]

    private func image(_ test: Dataset, _ i: Int) -> GrayImage {
        GrayImage(width: 28, height: 28, pixels: Array(test.images[(i * 784)..<((i + 1) * 784)]))
    }

    private func write(_ bytes: [UInt8], _ name: String, in directory: String) throws -> String {
        let path = directory + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testPredictsRealMNISTDigitsInEveryInputForm() throws {
        let (model, test) = try TrainedModel.path()
        let server = try ServerProcess(model: model)
        defer { server.stop() }
        let dir = CLI.tempDirectory("serve-digits")
        let predict = server.baseURL + "/v1/predict"
        for i in indices {
            let label = Int(test.labels[i])
            let digit = image(test, i)
            let png = try write(PNG.encode(digit), "test-\(i).png", in: dir)
            // curl -F image=@file (multipart/form-data).
            let form = try HTTP.curl(predict, ["-F", "image=@\(png)"])
            XCTAssertEqual(form.status, 200, form.text)
            let answer = try form.json()
            XCTAssertEqual(answer["digit"] as? Int, label, "test image \(i) uploaded as PNG")
            XCTAssertNotNil(answer["latency_ms"] as? Double)
            let probabilities = try XCTUnwrap(answer["probabilities"] as? [Double])
            XCTAssertEqual(probabilities.count, 10)
            // The 28x28 the model saw is the MNIST image itself (already centred, light on dark).
            let seen = try PNG.decodeGray(Array(Data(base64Encoded: answer["input_png"] as! String)!), path: "input_png")
            XCTAssertEqual(seen.pixels, digit.pixels)
            // Same probabilities as the offline `digits predict`.
            let offline = try CLI.run(["predict", "--model", model, png, "--json"])
            XCTAssertEqual(offline.status, 0, offline.stderr)
            let expected = try XCTUnwrap(
                (JSONSerialization.jsonObject(with: Data(offline.stdout.utf8)) as? [[String: Any]])?.first?["probabilities"] as? [Double])
            for k in 0..<10 { XCTAssertEqual(probabilities[k], expected[k], accuracy: 1e-6, "class \(k) of image \(i)") }

            // Raw image/png body.
            let raw = try HTTP.post(predict, file: png, contentType: "image/png")
            XCTAssertEqual(try raw.json()["digit"] as? Int, label, raw.text)
            // JPEG, dark ink on light paper, 3x larger and off-centre: the server inverts, crops, scales, centres.
            var page = [UInt8](repeating: 255, count: 120 * 100)
            for y in 0..<84 { for x in 0..<84 { page[(y + 10) * 120 + x + 30] = 255 - digit.pixels[(y / 3) * 28 + x / 3] } }
            let jpeg = try write(JPEG.encodeGray(GrayImage(width: 120, height: 100, pixels: page), quality: 92), "page-\(i).jpg", in: dir)
            let fromJPEG = try HTTP.curl(predict, ["-F", "image=@\(jpeg);type=image/jpeg"])
            XCTAssertEqual(fromJPEG.status, 200, fromJPEG.text)
            XCTAssertEqual(try fromJPEG.json()["digit"] as? Int, label, "dark-on-light JPEG of test image \(i)")
            // JSON: 784 values, and 28 rows of 28.
            let flat = digit.pixels.map(Int.init)
            let flatFile = try write(Array(try JSONSerialization.data(withJSONObject: flat)), "flat-\(i).json", in: dir)
            let fromFlat = try HTTP.post(predict, file: flatFile, contentType: "application/json")
            XCTAssertEqual(try fromFlat.json()["digit"] as? Int, label, fromFlat.text)
            let rows = (0..<28).map { Array(flat[($0 * 28)..<($0 * 28 + 28)]) }
            let rowsFile = try write(Array(try JSONSerialization.data(withJSONObject: rows)), "rows-\(i).json", in: dir)
            XCTAssertEqual(try HTTP.post(predict, file: rowsFile, contentType: "application/json").json()["digit"] as? Int, label)
        }
        // A batch: a JSON array of 784-value arrays.
        let batch = indices.map { image(test, $0).pixels.map(Int.init) }
        let batchFile = try write(Array(try JSONSerialization.data(withJSONObject: batch)), "batch.json", in: dir)
        let fromBatch = try HTTP.post(predict, file: batchFile, contentType: "application/json")
        XCTAssertEqual(fromBatch.status, 200, fromBatch.text)
        let items = try XCTUnwrap(try fromBatch.json()["predictions"] as? [[String: Any]])
        XCTAssertEqual(items.map { $0["digit"] as? Int }, indices.map { Int(test.labels[$0]) })

        // The page, health and metrics.
        let page = try HTTP.curl(server.baseURL + "/")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.text.contains("<canvas id=\"pad\""), "drawing page")
        XCTAssertFalse(page.text.contains("http://") || page.text.contains("https://"), "the page loads nothing from the network")
        let health = try HTTP.curl(server.baseURL + "/healthz")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(try health.json()["status"] as? String, "ok")
        let metrics = try HTTP.curl(server.baseURL + "/metrics")
        XCTAssertEqual(metrics.status, 200)
        let expectedPredicts = indices.count * 5 + 1
        XCTAssertTrue(
            metrics.text.contains("digits_http_requests_total{route=\"/v1/predict\",method=\"POST\",status=\"200\"} \(expectedPredicts)")
                || metrics.text.split(separator: "\n").contains {
                    $0.hasPrefix("digits_http_requests_total{") && $0.contains("route=\"/v1/predict\"")
                        && $0.contains("status=\"200\"") && $0.hasSuffix(" \(expectedPredicts)")
                }, metrics.text)
        XCTAssertTrue(metrics.text.contains("digits_predict_latency_seconds_count \(expectedPredicts)"), metrics.text)

        XCTAssertEqual(server.stop(signal: SIGTERM), 0, "SIGTERM stops the server cleanly\n\(server.stderr)")
        XCTAssertTrue(server.stdout.contains("server stopped"), server.stdout)
    }

    func testMalformedUploadsGet4xxJSONErrorsAndTheServerKeepsServing() throws {
        let (model, test) = try TrainedModel.path()
        let server = try ServerProcess(model: model)
        defer { server.stop() }
        let dir = CLI.tempDirectory("serve-bad")
        let predict = server.baseURL + "/v1/predict"
        let good = try write(PNG.encode(image(test, 0)), "good.png", in: dir)
        let png = PNG.encode(image(test, 0))
        let empty = try write([], "empty.png", in: dir)
        let truncated = try write(Array(png.prefix(png.count / 2)), "truncated.png", in: dir)
        var corruptBytes = png
        corruptBytes[png.count / 2] ^= 0x5A
        let corrupt = try write(corruptBytes, "corrupt.png", in: dir)
        var big = [UInt8](repeating: 0x41, count: 10 << 20)
        big.replaceSubrange(0..<8, with: png.prefix(8))
        let tenMB = try write(big, "ten-mb.png", in: dir)
        let badJSON = try write(Array("{\"image\": [1, 2, 3".utf8), "bad.json", in: dir)
        let shortJSON = try write(Array("[1, 2, 3]".utf8), "short.json", in: dir)
        let text = try write(Array("hello".utf8), "hello.txt", in: dir)
        let truncatedJPEG = try write(Array(JPEG.encodeGray(image(test, 0)).prefix(100)), "truncated.jpg", in: dir)

        let cases: [(String, () throws -> HTTPResult, Int)] = [
            ("empty body", { try HTTP.post(predict, file: empty, contentType: "image/png") }, 400),
            ("empty upload", { try HTTP.curl(predict, ["-F", "image=@\(empty)"]) }, 400),
            ("truncated PNG", { try HTTP.post(predict, file: truncated, contentType: "image/png") }, 400),
            ("truncated PNG upload", { try HTTP.curl(predict, ["-F", "image=@\(truncated)"]) }, 400),
            ("corrupt PNG", { try HTTP.post(predict, file: corrupt, contentType: "image/png") }, 400),
            ("truncated JPEG", { try HTTP.post(predict, file: truncatedJPEG, contentType: "image/jpeg") }, 400),
            ("10 MB body", { try HTTP.post(predict, file: tenMB, contentType: "image/png") }, 413),
            ("10 MB upload", { try HTTP.curl(predict, ["-F", "image=@\(tenMB)"]) }, 413),
            (
                "10 MB chunked body",
                {
                    try HTTP.curl(
                        predict,
                        ["-X", "POST", "-H", "Content-Type: image/png", "-H", "Transfer-Encoding: chunked", "--data-binary", "@\(tenMB)"])
                }, 413
            ),
            ("wrong content type", { try HTTP.post(predict, file: good, contentType: "text/plain") }, 415),
            ("no content type", { try HTTP.curl(predict, ["-X", "POST", "-H", "Content-Type:", "--data-binary", "@\(good)"]) }, 415),
            ("text as PNG", { try HTTP.post(predict, file: text, contentType: "image/png") }, 400),
            ("bad JSON", { try HTTP.post(predict, file: badJSON, contentType: "application/json") }, 400),
            ("JSON of the wrong shape", { try HTTP.post(predict, file: shortJSON, contentType: "application/json") }, 400),
            ("form without an image field", { try HTTP.curl(predict, ["-F", "file=@\(good)"]) }, 400),
            ("unknown route", { try HTTP.curl(server.baseURL + "/v2/nothing") }, 404),
            ("GET on predict", { try HTTP.curl(predict) }, 405)
        ]
        for (what, send, expected) in cases {
            let r = try send()
            XCTAssertEqual(r.status, expected, "\(what): \(r.text.prefix(300))")
            let message = (try? r.json())?["error"] as? String
            XCTAssertFalse(message?.isEmpty ?? true, "\(what): expected {\"error\": \"...\"}, got \(r.text.prefix(300))")
            // Still serving, and still right.
            let after = try HTTP.curl(predict, ["-F", "image=@\(good)"])
            XCTAssertEqual(after.status, 200, "after \(what): \(after.text.prefix(300))")
            XCTAssertEqual(try after.json()["digit"] as? Int, Int(test.labels[0]), "after \(what)")
        }
        let metrics = try HTTP.curl(server.baseURL + "/metrics").text
        for (status, count) in [("413", 3), ("415", 2)] {
            XCTAssertTrue(
                metrics.split(separator: "\n").contains {
                    $0.hasPrefix("digits_http_requests_total{") && $0.contains("route=\"/v1/predict\"")
                        && $0.contains("status=\"\(status)\"") && $0.hasSuffix(" \(count)")
                }, "\(count) requests with status \(status)\n\(metrics)")
        }
        XCTAssertEqual(server.stop(signal: SIGINT), 0, "SIGINT stops the server cleanly\n\(server.stderr)")
    }

    func testBadServeArgumentsGiveOneErrorLine() throws {
        let missing = try CLI.run(["serve", "--model", "/nonexistent/model.digits", "--port", "0"], timeout: 60)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("Error:") && missing.stderr.contains("/nonexistent/model.digits"), missing.stderr)
        let port = try CLI.run(["serve", "--model", "/nonexistent/model.digits", "--port", "70000"], timeout: 60)
        XCTAssertNotEqual(port.status, 0)
        XCTAssertTrue(port.stderr.contains("--port"), port.stderr)

        let (model, _) = try TrainedModel.path()
        let first = try ServerProcess(model: model)
        defer { first.stop() }
        let busyPort = String(first.baseURL.split(separator: ":").last!)
        let second = try CLI.run(["serve", "--model", model, "--port", busyPort], timeout: 60)
        XCTAssertNotEqual(second.status, 0, "a second server on a busy port fails")
        XCTAssertTrue(second.stderr.contains("Error:") && second.stderr.contains(busyPort), second.stderr)
    }
}
