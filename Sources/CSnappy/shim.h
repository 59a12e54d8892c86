#ifndef STAVE_CSNAPPY_SHIM_H
#define STAVE_CSNAPPY_SHIM_H
#include <snappy-c.h>
#endif
