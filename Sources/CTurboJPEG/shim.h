// libjpeg-turbo's TurboJPEG API (Debian: libturbojpeg0-dev). It reports errors by return code,
// unlike the libjpeg API, whose default error handler exits the process.
#include <turbojpeg.h>
