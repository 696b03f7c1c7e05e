// libFuzzer entry point for the model file and checkpoint readers, compiled by scripts/fuzz.sh
// with the Training sources (instrumented) against the debug build of their dependencies. The
// target is the binary's name (model or checkpoint) or DIGITS_FUZZ_TARGET. Each input is decoded
// as it is, again with a valid SHA-256 trailer appended (random bytes never carry one, which
// would keep the fuzzer at the checksum), and again with its header length field fixed up: the
// decoder must return a value or throw FileFormatError, never trap, hang or allocate without bound.
import Foundation
import Training

private let target: String = {
    if let name = ProcessInfo.processInfo.environment["DIGITS_FUZZ_TARGET"], !name.isEmpty { return name }
    return URL(fileURLWithPath: CommandLine.arguments.first ?? "").lastPathComponent
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelFiles(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    func seal(_ b: [UInt8]) -> [UInt8] { b + b.withUnsafeBytes { SHA256Hex.digest($0) } }
    var inputs = [bytes, seal(bytes)]
    // Inserting or deleting bytes in the JSON header leaves the header length field wrong, so
    // also try the input with that field set to the length of the JSON object that starts at
    // byte 12, when there is one.
    if let length = FuzzSupport.jsonObjectLength(bytes, from: 12), length != FuzzSupport.le32(bytes, at: 8) {
        var fixed = bytes
        for i in 0..<4 { fixed[8 + i] = UInt8(truncatingIfNeeded: length >> (8 * i)) }
        inputs.append(seal(fixed))
    }
    for input in inputs {
        do {
            switch target {
            case "model":
                let (file, model) = try ModelFile.decode(input, path: "fuzz.digits")
                guard file.weights.count == model.parameterCount else {
                    fatalError("model file accepted with \(file.weights.count) weights for \(model.parameterCount) parameters")
                }
            case "checkpoint":
                let checkpoint = try Checkpoint.decode(input, path: "fuzz.ckpt")
                // Adam keeps two moments of the weights' size; SGD one (the second is empty). Best
                // weights are empty until an epoch has been evaluated.
                let n = checkpoint.parameters.count
                guard checkpoint.optimizer.first.count == n, [0, n].contains(checkpoint.optimizer.second.count),
                    [0, n].contains(checkpoint.bestParameters.count)
                else {
                    fatalError(
                        """
                        checkpoint accepted with \(n) weights, moments of \(checkpoint.optimizer.first.count) and \
                        \(checkpoint.optimizer.second.count), \(checkpoint.bestParameters.count) best weights
                        """
                    )
                }
            default:
                fatalError("unknown fuzz target '\(target)': expected model or checkpoint")
            }
        } catch is FileFormatError {
        } catch {
            fatalError("\(target) decoder threw \(type(of: error)), not FileFormatError: \(error)")
        }
    }
    return 0
}
