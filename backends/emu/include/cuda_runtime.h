// portkern CPU emulator: stands in for <cuda_runtime.h>.
#pragma once
#include "portkern_emu/runtime.h"
