// See include/csupport.h.
#include "csupport.h"
#ifdef __linux__
#include <malloc.h>
#include <sys/prctl.h>
int digits_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, sig); }
void digits_keep_large_blocks_in_heap(int mmap_threshold, int trim_threshold) {
    mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    mallopt(M_TRIM_THRESHOLD, trim_threshold);
}
#else
int digits_set_parent_death_signal(int sig) { (void)sig; return 0; }
void digits_keep_large_blocks_in_heap(int mmap_threshold, int trim_threshold) { (void)mmap_threshold; (void)trim_threshold; }
#endif
