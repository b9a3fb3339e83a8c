// portkern CPU emulator: stands in for <cuda_runtime_api.h>.
#pragma once
#include "portkern_emu/runtime.h"
