// NVRTC stand-in for <stdio.h>: see portkern_nvrtc_host_only.h.
#pragma once
#include "portkern_nvrtc_host_only.h"
