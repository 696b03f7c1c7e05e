// The SCHED_IDLE switch a worker uses while it polls for the next weights (digits worker
// --idle-while-polling): per thread, and reversible when the process may raise its priority back.
import CSupport
import Foundation
import XCTest

final class IdleSchedulingTests: XCTestCase {
    final class Observations: @unchecked Sendable {
        var enter: Int32 = -1, idleInside: Int32 = -1, leave: Int32 = -1, idleAfter: Int32 = -1
    }

    func testIdleSchedulingIsPerThreadAndReversible() throws {
        // Root without CAP_SYS_NICE (a default container) may enter SCHED_IDLE but not leave it.
        try XCTSkipUnless(digits_idle_scheduling_reversible() == 1, "leaving SCHED_IDLE needs CAP_SYS_NICE or RLIMIT_NICE >= 20")
        let seen = Observations()
        let entered = DispatchSemaphore(value: 0)
        let checked = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            seen.enter = digits_set_idle_scheduling(1)
            seen.idleInside = digits_current_scheduling_is_idle()
            entered.signal()
            _ = checked.wait(timeout: .now() + 10)
            seen.leave = digits_set_idle_scheduling(0)
            seen.idleAfter = digits_current_scheduling_is_idle()
            finished.signal()
        }
        thread.start()
        XCTAssertEqual(entered.wait(timeout: .now() + 10), .success)
        // The other thread is at SCHED_IDLE; this one is not.
        XCTAssertEqual(digits_current_scheduling_is_idle(), 0)
        checked.signal()
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(seen.enter, 0)
        XCTAssertEqual(seen.idleInside, 1)
        XCTAssertEqual(seen.leave, 0)
        XCTAssertEqual(seen.idleAfter, 0)
    }

    /// The probe leaves the calling thread at normal priority (a worker computes on it next), and
    /// runs elsewhere: a caller already at SCHED_IDLE stays there (a probe on the caller's own
    /// thread would end by setting it back to SCHED_OTHER).
    func testProbeLeavesTheCallerAlone() throws {
        _ = digits_idle_scheduling_reversible()
        XCTAssertEqual(digits_current_scheduling_is_idle(), 0)
        try XCTSkipUnless(digits_idle_scheduling_reversible() == 1, "leaving SCHED_IDLE needs CAP_SYS_NICE or RLIMIT_NICE >= 20")
        let seen = Observations()
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            seen.enter = digits_set_idle_scheduling(1)
            _ = digits_idle_scheduling_reversible()
            seen.idleAfter = digits_current_scheduling_is_idle()
            seen.leave = digits_set_idle_scheduling(0)
            finished.signal()
        }
        thread.start()
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(seen.enter, 0)
        XCTAssertEqual(seen.idleAfter, 1, "the probe changed the calling thread's scheduling")
        XCTAssertEqual(seen.leave, 0)
    }
}
