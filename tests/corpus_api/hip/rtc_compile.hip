#include <hip/hiprtc.h>
#include <string>
std::string compile(const char* src) {
  hiprtcProgram prog;
  hiprtcCreateProgram(&prog, src, "k.cu", 0, nullptr, nullptr);
  hiprtcResult r = hiprtcCompileProgram(prog, 0, nullptr);
  if (r != HIPRTC_SUCCESS) {
    size_t logSize = 0;
    hiprtcGetProgramLogSize(prog, &logSize);
    std::string log(logSize, '\0');
    hiprtcGetProgramLog(prog, &log[0]);
    return std::string(hiprtcGetErrorString(r)) + log;
  }
  size_t n = 0;
  hiprtcGetCodeSize(prog, &n);
  std::string code(n, '\0');
  hiprtcGetCode(prog, &code[0]);
  hiprtcDestroyProgram(&prog);
  return code;
}
