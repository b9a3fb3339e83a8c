// NVRTC stand-in for <math.h>: see portkern_nvrtc_std.h.
#pragma once
#include "portkern_nvrtc_std.h"
#ifdef PORTKERN_NVRTC_HAVE_LIBCUDACXX
#include <cuda/std/cmath>
#endif
