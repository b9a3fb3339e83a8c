// Load a code object and launch a kernel through the driver API.
#include <hip/hip_runtime.h>
int launch(const void* image, hipDeviceptr_t buf, int n) {
  if (hipInit(0) != hipSuccess) return 1;
  hipDevice_t dev;
  hipDeviceGet(&dev, 0);
  hipModule_t mod;
  hipJitOption opts[] = {hipJitOptionMaxRegisters};
  void* vals[] = {(void*)64};
  hipModuleLoadDataEx(&mod, image, 1, opts, vals);
  hipFunction_t fn;
  hipModuleGetFunction(&fn, mod, "scale");
  void* args[] = {&buf, &n};
  hipError_t r = hipModuleLaunchKernel(fn, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr);
  if (r != hipSuccess) {
    const char* msg = nullptr;
    hipDrvGetErrorString(r, &msg);
    return 2;
  }
  hipModuleUnload(mod);
  return 0;
}
