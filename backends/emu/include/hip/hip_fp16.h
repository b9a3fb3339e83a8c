// portkern CPU emulator: stands in for <hip/hip_fp16.h>.
#pragma once
#include "../portkern_emu/runtime.h"
