// portkern CPU emulator: stands in for <hip/hip_runtime_api.h>.
#pragma once
#include "../portkern_emu/runtime.h"
