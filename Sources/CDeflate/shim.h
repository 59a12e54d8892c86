#ifndef STAVE_CDEFLATE_SHIM_H
#define STAVE_CDEFLATE_SHIM_H
#include <libdeflate.h>
#endif
