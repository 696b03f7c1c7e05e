// See include/csupport.h.
#include "csupport.h"
#ifdef __linux__
#define _GNU_SOURCE 1
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
int digits_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, sig); }
void digits_keep_large_blocks_in_heap(int mmap_threshold, int trim_threshold) {
    mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    mallopt(M_TRIM_THRESHOLD, trim_threshold);
}
int digits_set_idle_scheduling(int idle) {
    struct sched_param p = { .sched_priority = 0 };
    return sched_setscheduler(0, idle ? SCHED_IDLE : SCHED_OTHER, &p);
}
int digits_current_scheduling_is_idle(void) { return sched_getscheduler(0) == SCHED_IDLE; }
static void *probe_idle_scheduling(void *result) {
    *(int *)result = digits_set_idle_scheduling(1) == 0 && digits_set_idle_scheduling(0) == 0;
    return NULL;
}
int digits_idle_scheduling_reversible(void) {
    pthread_t thread;
    int result = 0;
    if (pthread_create(&thread, NULL, probe_idle_scheduling, &result) != 0) return 0;
    pthread_join(thread, NULL);
    return result;
}
#else
int digits_set_idle_scheduling(int idle) { (void)idle; return -1; }
int digits_current_scheduling_is_idle(void) { return 0; }
int digits_idle_scheduling_reversible(void) { return 0; }
int digits_set_parent_death_signal(int sig) { (void)sig; return 0; }
void digits_keep_large_blocks_in_heap(int mmap_threshold, int trim_threshold) { (void)mmap_threshold; (void)trim_threshold; }
#endif
