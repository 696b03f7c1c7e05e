// See include/csupport.h.
#include "csupport.h"
#ifdef __linux__
#include <sys/prctl.h>
int digits_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, sig); }
#else
int digits_set_parent_death_signal(int sig) { (void)sig; return 0; }
#endif
