// Shared by the self-checking HIP programs: error checks and the PASS/FAIL line.
#pragma once
#include <hip/hip_runtime.h>
#include <cstdio>
#include <cstdlib>

#define CHECK(call)                                                                  \
    do {                                                                             \
        hipError_t err_ = (call);                                                    \
        if (err_ != hipSuccess) {                                                    \
            std::printf("FAIL: %s at line %d: %s\n", #call, __LINE__,                \
                        hipGetErrorString(err_));                                    \
            std::exit(1);                                                            \
        }                                                                            \
    } while (0)

static inline int finish(bool ok, const char* name)
{
    std::printf("%s: %s\n", name, ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
