// portkern CPU emulator: stands in for <cooperative_groups/scan.h>.
#pragma once
#include "../portkern_emu/runtime.h"
