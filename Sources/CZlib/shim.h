// zlib (Debian zlib1g-dev): gzip for IDX files and deflate for PNG.
#include <zlib.h>
