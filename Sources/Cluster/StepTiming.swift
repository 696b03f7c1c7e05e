// Where step time goes, as the coordinator accounts it.
import Foundation

/// Where step time goes: compute on the critical path (the busiest worker's compute) versus
/// communication and waiting (everything else between opening a step and completing it).
public struct StepTiming: Equatable, Sendable {
    public var steps = 0
    public var wallSeconds = 0.0
    public var computeSeconds = 0.0

    mutating func add(wall: Double, compute: Double) {
        steps += 1
        wallSeconds += wall
        computeSeconds += min(compute, wall)
    }

    public var communicationAndWaitSeconds: Double { wallSeconds - computeSeconds }

    public var report: String {
        guard steps > 0 else { return "no steps" }
        let ms = 1000 / Double(steps)
        return String(
            format: "%.2f ms/step = compute %.2f ms + communication/waiting %.2f ms (%.1f%%)",
            wallSeconds * ms, computeSeconds * ms, communicationAndWaitSeconds * ms,
            100 * communicationAndWaitSeconds / max(wallSeconds, 1e-12))
    }
}
