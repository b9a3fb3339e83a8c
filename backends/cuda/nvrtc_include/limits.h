// NVRTC stand-in for <limits.h>: see portkern_nvrtc_std.h.
#pragma once
#include "portkern_nvrtc_std.h"
