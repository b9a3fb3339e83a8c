// portkern CPU emulator: stands in for <cuda.h>.
#pragma once
#include "portkern_emu/runtime.h"
