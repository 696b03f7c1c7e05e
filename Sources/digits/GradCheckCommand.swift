// `digits gradcheck`: finite-difference check of every layer and the loss.
import ArgumentParser
import NeuralNet

struct GradCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcheck",
        abstract: "Check every layer's backward pass against central finite differences; exits non-zero on failure.")

    func run() throws {
        let results = GradientCheck.all()
        for r in results { print(r) }
        let failed = results.filter { !$0.passed }
        print(failed.isEmpty ? "all \(results.count) checks passed" : "\(failed.count) of \(results.count) checks FAILED")
        if !failed.isEmpty { throw ExitCode(1) }
    }
}
