// portkern CPU emulator: stands in for <cuda_bf16.h>.
#pragma once
#include "portkern_emu/runtime.h"
