// Small POSIX/Linux helpers that Swift cannot call directly (variadic C functions).
#ifndef DIGITS_CSUPPORT_H
#define DIGITS_CSUPPORT_H

/// Asks the kernel to send `sig` to this process when its parent dies (Linux; no-op elsewhere).
/// Returns 0 on success.
int digits_set_parent_death_signal(int sig);

/// Moves the calling thread (only it) to SCHED_IDLE (idle != 0) or back to SCHED_OTHER (Linux).
/// Returns 0 on success, -1 on error (errno set; always -1 elsewhere).
int digits_set_idle_scheduling(int idle);
/// 1 if the calling thread runs under SCHED_IDLE.
int digits_current_scheduling_is_idle(void);
/// 1 if a thread of this process may enter SCHED_IDLE and come back to SCHED_OTHER (coming back
/// needs CAP_SYS_NICE, as root usually has, or RLIMIT_NICE >= 20): tried once on a throwaway thread.
int digits_idle_scheduling_reversible(void);

/// glibc: serve blocks below `mmap_threshold` bytes from the heap and trim the heap only beyond
/// `trim_threshold` free bytes (mallopt; no-op elsewhere).
void digits_keep_large_blocks_in_heap(int mmap_threshold, int trim_threshold);

#endif
