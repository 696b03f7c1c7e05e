// Small POSIX/Linux helpers that Swift cannot call directly (variadic C functions).
#ifndef DIGITS_CSUPPORT_H
#define DIGITS_CSUPPORT_H

/// Asks the kernel to send `sig` to this process when its parent dies (Linux; no-op elsewhere).
/// Returns 0 on success.
int digits_set_parent_death_signal(int sig);

/// glibc: serve blocks below `mmap_threshold` bytes from the heap and trim the heap only beyond
/// `trim_threshold` free bytes (mallopt; no-op elsewhere).
void digits_keep_large_blocks_in_heap(int mmap_threshold, int trim_threshold);

#endif
