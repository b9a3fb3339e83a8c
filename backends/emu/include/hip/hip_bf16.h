// portkern CPU emulator: stands in for <hip/hip_bf16.h>.
#pragma once
#include "../portkern_emu/runtime.h"
