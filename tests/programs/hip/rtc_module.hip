// Runtime compilation and the module API: a kernel compiled from a string with hipRTC for the
// device's own architecture (gcnArchName), loaded with hipModuleLoadData, its global read back with
// hipModuleGetGlobal, launched with hipModuleLaunchKernel on hipDeviceptr_t buffers.
#include "common.h"
#include <hip/hiprtc.h>
#include <string>
#include <vector>

static const char* kSource = R"(
extern "C" __device__ float bias = 0.25f;
extern "C" __global__ void scale_add(float* y, const float* x, float a, unsigned n)
{
    unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a * x[i] + bias;
}
)";

int main()
{
    hipDeviceProp_t props;
    CHECK(hipGetDeviceProperties(&props, 0));
    hiprtcProgram prog;
    if (hiprtcCreateProgram(&prog, kSource, "scale_add.cu", 0, nullptr, nullptr) != HIPRTC_SUCCESS)
        return finish(false, "rtc_module");
    std::string arch = std::string("--gpu-architecture=") + props.gcnArchName;
    const char* options[] = {arch.c_str()};
    if (hiprtcCompileProgram(prog, 1, options) != HIPRTC_SUCCESS) {
        size_t size = 0;
        hiprtcGetProgramLogSize(prog, &size);
        std::string log(size, '\0');
        hiprtcGetProgramLog(prog, &log[0]);
        std::printf("%s\n", log.c_str());
        return finish(false, "rtc_module");
    }
    size_t code_size = 0;
    hiprtcGetCodeSize(prog, &code_size);
    std::vector<char> code(code_size);
    hiprtcGetCode(prog, code.data());
    hiprtcDestroyProgram(&prog);

    hipModule_t module;
    hipFunction_t kernel;
    CHECK(hipModuleLoadData(&module, code.data()));
    CHECK(hipModuleGetFunction(&kernel, module, "scale_add"));

    unsigned n = 10007;
    float a = 3.0f;
    std::vector<float> x(n), y(n, -1.0f);
    for (unsigned i = 0; i < n; ++i) x[i] = 0.5f * i - 7.0f;
    hipDeviceptr_t dx, dy;
    CHECK(hipMalloc(&dx, n * sizeof(float)));
    CHECK(hipMalloc(&dy, n * sizeof(float)));
    CHECK(hipMemcpyHtoD(dx, x.data(), n * sizeof(float)));
    void* args[] = {&dy, &dx, &a, &n};
    CHECK(hipModuleLaunchKernel(kernel, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr));
    CHECK(hipDeviceSynchronize());
    CHECK(hipMemcpyDtoH(y.data(), dy, n * sizeof(float)));

    hipDeviceptr_t dbias;
    size_t bias_bytes = 0;
    CHECK(hipModuleGetGlobal(&dbias, &bias_bytes, module, "bias"));
    float bias = 0.0f;
    CHECK(hipMemcpyDtoH(&bias, dbias, sizeof(float)));

    bool ok = bias_bytes == sizeof(float) && bias == 0.25f;
    for (unsigned i = 0; i < n; ++i) ok = ok && y[i] == a * x[i] + 0.25f;
    CHECK(hipFree(dx));
    CHECK(hipFree(dy));
    CHECK(hipModuleUnload(module));
    return finish(ok, "rtc_module");
}
