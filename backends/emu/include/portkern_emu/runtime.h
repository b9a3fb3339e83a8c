// portkern CPU emulator runtime: everything device code written for CUDA or HIP needs to compile
// with g++/clang++ and run on the CPU. Every shim header (hip/hip_runtime.h, cuda_runtime.h, ...)
// includes this one. Warp width: -DPORTKERN_EMU_WAVE=32|64.
#pragma once

// Standard headers first: config.h defines CUDA's qualifier macros (e.g. __noinline__) that would
// clash with spellings inside the standard library.
#include <algorithm>
#include <array>
#include <atomic>
#include <cfloat>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "config.h"
#include "types.h"
#include "intrinsics.h"
#include "half.h"
#include "scheduler.h"
#include "warp.h"
#include "atomics.h"
#include "coop_groups.h"
#include "launch.h"
#include "host_api.h"
#ifdef PORTKERN_EMU_TRACE
#include "trace.h"
#endif
