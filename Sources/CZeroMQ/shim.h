// libzmq (Debian libzmq3-dev 4.3.4), stable API only (no DRAFT: zmq_poll, not zmq_poller).
#include <zmq.h>
#include <errno.h>
#include <signal.h>

// zmq_msg_t must never be copied by Swift: keep it on the heap and pass pointers.
static inline zmq_msg_t *czmq_msg_new(void) { return (zmq_msg_t *)malloc(sizeof(zmq_msg_t)); }
static inline void czmq_msg_free(zmq_msg_t *m) { free(m); }
