#include <nvrtc.h>
#include <string>
std::string compile(const char* src) {
  nvrtcProgram prog;
  nvrtcCreateProgram(&prog, src, "k.cu", 0, nullptr, nullptr);
  nvrtcResult r = nvrtcCompileProgram(prog, 0, nullptr);
  if (r != NVRTC_SUCCESS) {
    size_t logSize = 0;
    nvrtcGetProgramLogSize(prog, &logSize);
    std::string log(logSize, '\0');
    nvrtcGetProgramLog(prog, &log[0]);
    return std::string(nvrtcGetErrorString(r)) + log;
  }
  size_t n = 0;
  nvrtcGetPTXSize(prog, &n);
  std::string code(n, '\0');
  nvrtcGetPTX(prog, &code[0]);
  nvrtcDestroyProgram(&prog);
  return code;
}
