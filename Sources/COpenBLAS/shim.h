// OpenBLAS (Debian libopenblas-dev): CBLAS plus the thread-count controls.
#include <cblas.h>
