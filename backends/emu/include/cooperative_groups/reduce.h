// portkern CPU emulator: stands in for <cooperative_groups/reduce.h>.
#pragma once
#include "../portkern_emu/runtime.h"
