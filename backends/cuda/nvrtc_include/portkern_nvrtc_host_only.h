// NVRTC stand-in for host-only C headers (<cstdio>, <cstdlib>): device code gets printf, malloc
// and free from NVRTC's built-ins; host-side helpers that use stdio/exit are not compiled by NVRTC
// when they are only named inside macros that device code does not expand.
#pragma once
#include "portkern_nvrtc_std.h"
#ifndef EXIT_SUCCESS
#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1
#endif
