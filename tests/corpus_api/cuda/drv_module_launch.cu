// Load a code object and launch a kernel through the driver API.
#include <cuda.h>
int launch(const void* image, CUdeviceptr buf, int n) {
  if (cuInit(0) != CUDA_SUCCESS) return 1;
  CUdevice dev;
  cuDeviceGet(&dev, 0);
  CUmodule mod;
  CUjit_option opts[] = {CU_JIT_MAX_REGISTERS};
  void* vals[] = {(void*)64};
  cuModuleLoadDataEx(&mod, image, 1, opts, vals);
  CUfunction fn;
  cuModuleGetFunction(&fn, mod, "scale");
  void* args[] = {&buf, &n};
  CUresult r = cuLaunchKernel(fn, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr);
  if (r != CUDA_SUCCESS) {
    const char* msg = nullptr;
    cuGetErrorString(r, &msg);
    return 2;
  }
  cuModuleUnload(mod);
  return 0;
}
