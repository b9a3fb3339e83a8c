// portkern CPU emulator: stands in for <hip/hip_cooperative_groups.h>.
#pragma once
#include "../portkern_emu/runtime.h"
