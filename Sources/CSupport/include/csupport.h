// Small POSIX/Linux helpers that Swift cannot call directly (variadic C functions).
#ifndef DIGITS_CSUPPORT_H
#define DIGITS_CSUPPORT_H

/// Asks the kernel to send `sig` to this process when its parent dies (Linux; no-op elsewhere).
/// Returns 0 on success.
int digits_set_parent_death_signal(int sig);

#endif
