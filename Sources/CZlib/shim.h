#ifndef STAVE_CZLIB_SHIM_H
#define STAVE_CZLIB_SHIM_H
#include <zlib.h>

/* inflateInit2 is a macro that passes the library's version and the size of
   z_stream; Swift cannot call a macro, so this wrapper does. */
static inline int stave_inflate_init(z_stream *stream, int window_bits) {
    return inflateInit2(stream, window_bits);
}
#endif
