// NVRTC stand-in for <stdint.h>: see portkern_nvrtc_std.h.
#pragma once
#include "portkern_nvrtc_std.h"
