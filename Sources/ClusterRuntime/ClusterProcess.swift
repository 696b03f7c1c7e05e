// What every cluster process (coordinator, worker, parameter-server shard) does first.
import CSupport
import Foundation

public enum ClusterProcess {
    /// Exits with the launcher when asked (PR_SET_PDEATHSIG), keeps tensor buffers mapped, and
    /// turns SIGINT/SIGTERM into `StopSignal`.
    public static func begin(exitWithParent: Bool) {
        if exitWithParent { _ = digits_set_parent_death_signal(SIGTERM) }
        keepTensorBuffersMapped()
        StopSignal.install()
    }

    /// Tensor messages (140 KB and up) are allocated and freed every step. glibc serves blocks from
    /// 128 KB up with fresh mmap()s and trims the heap top after frees, so each step faulted in new
    /// zeroed pages. Blocks under 4 MB now stay in the heap (warm pages reused) and up to 8 MB of
    /// free heap is kept; larger blocks (shipped data chunks) still go back to the system.
    public static func keepTensorBuffersMapped() {
        digits_keep_large_blocks_in_heap(4 << 20, 8 << 20)
    }
}
