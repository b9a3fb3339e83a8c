// NVRTC stand-in for <float.h>: see portkern_nvrtc_std.h.
#pragma once
#include "portkern_nvrtc_std.h"
#ifdef PORTKERN_NVRTC_HAVE_LIBCUDACXX
#include <cuda/std/cfloat>
#endif
