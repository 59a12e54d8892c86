#ifndef STAVE_CZSTD_SHIM_H
#define STAVE_CZSTD_SHIM_H
#include <zstd.h>
#endif
