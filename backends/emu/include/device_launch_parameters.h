// portkern CPU emulator: stands in for <device_launch_parameters.h>.
#pragma once
#include "portkern_emu/runtime.h"
