// Progress for a terminal (one redrawn line per epoch: images/s, loss, accuracy, ETA) or plain
// log lines when stderr is not a TTY, in CI ($CI set) or on a dumb terminal.
import Foundation

public final class ProgressBar {
    let enabled: Bool
    var lastDraw: UInt64 = 0

    public init(enabled: Bool = ProgressBar.terminalWantsBars()) { self.enabled = enabled }

    /// Bars only on an interactive terminal: stderr is a TTY, $CI is unset and $TERM is not "dumb".
    public static func terminalWantsBars(
        isTTY: Bool = isatty(STDERR_FILENO) == 1,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Bool {
        isTTY && (environment["CI"] ?? "").isEmpty && environment["TERM"] != "dumb"
    }

    public func update(epoch: Int, epochs: Int, step: Int, steps: Int, imagesPerSecond: Double, loss: Double, accuracy: Double) {
        guard enabled else { return }
        let now = Stopwatch.now()
        guard step == steps || now &- lastDraw > 100_000_000 else { return }
        lastDraw = now
        let width = 24
        let filled = steps == 0 ? width : width * step / steps
        let bar =
            String(repeating: "=", count: filled) + (filled < width ? ">" : "") + String(repeating: " ", count: max(0, width - filled - 1))
        let remaining = Double(steps - step) * lastStepSeconds
        let line = String(
            format: "\repoch %d/%d [%@] %d/%d  %.0f img/s  loss %.4f  acc %.4f  ETA %.0fs ",
            epoch, epochs, bar, step, steps, imagesPerSecond, loss, accuracy, remaining)
        Console.error(line)
    }

    /// Seconds per step, smoothed, for the ETA.
    public var lastStepSeconds: Double = 0

    public func finishLine() {
        guard enabled else { return }
        Console.error("\r\u{1B}[K")
    }
}
