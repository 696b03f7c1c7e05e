// Writing to stdout and stderr without ever crashing: a launcher that went away closes our pipes,
// and Foundation's FileHandle.write traps on EPIPE. These write through stdio and drop what a
// closed stream cannot take.
import Foundation

public enum Console {
    /// Writes `text` to stderr as it is (add the newline yourself).
    public static func error(_ text: String) {
        fputs(text, stderr)
    }

    /// Writes `text` to stdout as it is, through the same buffer `print` uses.
    public static func output(_ text: String) {
        fputs(text, stdout)
    }
}
