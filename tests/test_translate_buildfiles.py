"""Build files translated with the sources; folder copies; bad input; modes; several files to stdout."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

from portkern.cli import cli, main
from portkern.translate.buildfiles import translate_cmake, translate_makefile

HIP_MAKEFILE = """HIPCC = /opt/rocm/bin/hipcc
HIPFLAGS = -O3 -Wall --offload-arch=gfx942 -fgpu-rdc -fopenmp
LIBS = -lrocblas -lamdhip64
CFLAGS = -Wall -O2

app: main.o kern.o
\t$(HIPCC) $(HIPFLAGS) -o $@ $^ $(LIBS)
kern.o: kern.cpp
\t$(HIPCC) $(HIPFLAGS) -c $< -o $@
host.o: host.c
\tgcc $(CFLAGS) -c $<
"""

CUDA_CMAKE = """cmake_minimum_required(VERSION 3.21)
project(demo LANGUAGES CXX CUDA)
find_package(CUDAToolkit REQUIRED)
set(CMAKE_CUDA_ARCHITECTURES 80 90)
set(CMAKE_CUDA_FLAGS "${CMAKE_CUDA_FLAGS} -lineinfo -Xcompiler -Wall")
add_executable(demo main.cu)
target_link_libraries(demo PRIVATE CUDA::cudart CUDA::cublas)
target_compile_options(demo PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--extended-lambda -rdc=true>)
target_compile_features(demo PRIVATE cuda_std_17)
"""

HIP_CMAKE = """cmake_minimum_required(VERSION 3.21)
project(demo LANGUAGES CXX)
enable_language(HIP)
find_package(hip REQUIRED)
set(CMAKE_HIP_ARCHITECTURES gfx942)
add_library(kern kern.cpp util.cpp)
target_link_libraries(kern PUBLIC hip::device roc::rocblas)
"""


def test_makefile_to_cuda_maps_compiler_flags_arch_and_libraries():
    r = translate_makefile(HIP_MAKEFILE, "cuda", gpu_sources=frozenset({"kern.cpp"}))
    lines = r.text.splitlines()
    assert lines[0] == "HIPCC = nvcc --extended-lambda --expt-relaxed-constexpr"
    assert lines[1] == "HIPFLAGS = -O3 -Xcompiler -Wall -arch=sm_90 -rdc=true -Xcompiler -fopenmp"
    assert lines[2] == "LIBS = -lcublas"
    assert lines[3] == "CFLAGS = -Wall -O2"                      # a host-compiler variable is left alone
    assert "\t$(HIPCC) -x cu $(HIPFLAGS) -c $< -o $@" in lines  # .cpp kernels compiled as CUDA
    assert "\t$(HIPCC) $(HIPFLAGS) -o $@ $^ $(LIBS)" in lines   # the link line gets no -x cu
    assert "\tgcc $(CFLAGS) -c $<" in lines


def test_makefile_round_trip_back_to_hip():
    cuda = translate_makefile(HIP_MAKEFILE, "cuda", gpu_sources=frozenset({"kern.cpp"})).text
    back = translate_makefile(cuda, "hip", gpu_sources=frozenset({"kern.cpp"})).text.splitlines()
    assert back[0] == "HIPCC = hipcc"
    assert back[1] == "HIPFLAGS = -O3 -Wall --offload-arch=gfx942 -fgpu-rdc -fopenmp"
    assert "\t$(HIPCC) -x hip $(HIPFLAGS) -c $< -o $@" in back


def test_cmake_cuda_to_hip():
    r = translate_cmake(CUDA_CMAKE, "hip")
    t = r.text
    assert "project(demo LANGUAGES CXX HIP)" in t
    assert "find_package(hip REQUIRED)" in t
    assert "set(CMAKE_HIP_ARCHITECTURES gfx90a)" in t    # the first listed architecture's counterpart
    assert 'set(CMAKE_HIP_FLAGS "${CMAKE_HIP_FLAGS} -gline-tables-only -Wall")' in t
    assert "set_source_files_properties(main.cu PROPERTIES LANGUAGE HIP)" in t
    assert "target_link_libraries(demo PRIVATE hip::host roc::hipblas)" in t
    assert "$<$<COMPILE_LANGUAGE:HIP>:-fgpu-rdc>" in t
    assert "hip_std_17" in t and "CUDA" not in t


def test_cmake_hip_to_cuda():
    t = translate_cmake(HIP_CMAKE, "cuda", gpu_sources=frozenset({"kern.cpp"})).text
    assert "enable_language(CUDA)" in t
    assert 'set(CMAKE_CUDA_FLAGS "${CMAKE_CUDA_FLAGS} --extended-lambda --expt-relaxed-constexpr")' in t
    assert "find_package(CUDAToolkit REQUIRED)" in t
    assert "set(CMAKE_CUDA_ARCHITECTURES 90)" in t
    assert "set_source_files_properties(kern.cpp PROPERTIES LANGUAGE CUDA)" in t   # util.cpp has no kernels
    assert "target_link_libraries(kern PUBLIC CUDA::cudart CUDA::cublas)" in t


def _tree(tmp_path: Path) -> Path:
    src = tmp_path / "proj"
    (src / "data").mkdir(parents=True)
    (src / "kern.cpp").write_text("#include <hip/hip_runtime.h>\n__global__ void k(float* x) { x[0] = 1; }\n"
                                  "void run(float* x) { hipLaunchKernelGGL(k, 1, 1, 0, 0, x); }\n")
    (src / "Makefile").write_text(HIP_MAKEFILE)
    (src / "data" / "input.bin").write_bytes(bytes(range(256)))
    (src / "README.txt").write_text("notes\n")
    (src / "run.sh").write_text("#!/bin/sh\n./app\n")
    os.chmod(src / "run.sh", 0o755)
    os.chmod(src / "kern.cpp", 0o640)
    return src


def test_folder_translation_translates_build_files_and_copies_the_rest(tmp_path):
    src = _tree(tmp_path)
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["translate", str(src), "--to", "cuda", "-o", str(out), "--report"])
    assert r.exit_code == 0, r.output
    assert "k<<<1, 1, 0, 0>>>(x);" in (out / "kern.cpp").read_text()
    assert "HIPCC = nvcc" in (out / "Makefile").read_text()
    assert "-x cu" in (out / "Makefile").read_text()          # kern.cpp holds a kernel
    assert (out / "data" / "input.bin").read_bytes() == bytes(range(256))
    assert (out / "README.txt").read_text() == "notes\n"
    assert (out / "run.sh").stat().st_mode & 0o777 == 0o755    # modes follow the inputs
    assert (out / "kern.cpp").stat().st_mode & 0o777 == 0o640
    assert "Makefile: build: hipcc -> nvcc" in r.output


def test_bad_inputs_are_named_and_nothing_translated_exits_non_zero(tmp_path, capsys):
    (tmp_path / "empty.cu").write_text("")
    (tmp_path / "blob.cu").write_bytes(b"\x7fELF\x00\x01\x02")
    rc = main(["translate", str(tmp_path), "--to", "hip"])
    err = capsys.readouterr().err
    assert rc != 0
    assert "empty.cu: warning: not translated: empty file" in err
    assert "blob.cu: warning: not translated: binary file" in err
    assert "nothing was translated" in err and "Traceback" not in err


def test_unparsable_code_is_translated_with_a_warning_naming_the_line(tmp_path, capsys):
    (tmp_path / "ok.cu").write_text("__global__ void k(float* x) { x[0] = 1; }\n")
    (tmp_path / "broken.cu").write_text("__global__ void k(float* x) {\n  x[0] = ;\n  cudaDeviceSynchronize();\n}\n")
    rc = main(["translate", str(tmp_path), "--to", "hip"])
    captured = capsys.readouterr()
    assert rc == 0
    assert "broken.cu:2: warning: the C++ grammar could not parse this line" in captured.err
    # several files on stdout: one header line each
    assert "==> broken.cu <==" in captured.out and "==> ok.cu <==" in captured.out
    assert "hipDeviceSynchronize();" in captured.out


def test_in_place_keeps_the_mode(tmp_path):
    f = tmp_path / "k.cu"
    f.write_text("void f() { cudaDeviceSynchronize(); }\n")
    os.chmod(f, 0o600)
    assert main(["translate", str(f), "--to", "hip", "--in-place"]) == 0
    assert f.stat().st_mode & 0o777 == 0o600 and "hipDeviceSynchronize" in f.read_text()


HIP_PROGRAM_CMAKE = """cmake_minimum_required(VERSION 3.21 FATAL_ERROR)
project(hip_vadd LANGUAGES CXX HIP)
set(CMAKE_HIP_ARCHITECTURES gfx942)
find_package(hip REQUIRED)
add_executable(vadd main.hip)
set_source_files_properties(main.hip PROPERTIES LANGUAGE HIP)
target_link_libraries(vadd PRIVATE hip::device)
target_compile_options(vadd PRIVATE -Wall --offload-arch=gfx942 -munsafe-fp-atomics)
add_compile_options(-O3)
"""


def test_cmake_unquoted_compile_options_become_nvcc_options(tmp_path):
    out = translate_cmake(HIP_PROGRAM_CMAKE, "cuda").text
    # one word per option: CMake de-duplicates a target's options word by word
    assert "target_compile_options(vadd PRIVATE -Xcompiler=-Wall -arch=sm_90)" in out
    assert "add_compile_options(-O3)" in out and "--offload-arch" not in out
    import shutil
    import subprocess

    cmake, nvcc = shutil.which("cmake"), shutil.which("nvcc")
    if not (cmake and nvcc):
        return
    programs = Path(__file__).parent / "programs" / "hip"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "CMakeLists.txt").write_text(HIP_PROGRAM_CMAKE)
    for name in ("vector_add.hip", "common.h"):
        (tmp_path / "src" / (name if name == "common.h" else "main.hip")).write_text((programs / name).read_text())
    run = CliRunner().invoke(cli, ["translate", str(tmp_path / "src"), "--to", "cuda", "-o", str(tmp_path / "cuda")])
    assert run.exit_code == 0, run.output
    for step in ([cmake, "-S", str(tmp_path / "cuda"), "-B", str(tmp_path / "build"), f"-DCMAKE_CUDA_COMPILER={nvcc}"],
                 [cmake, "--build", str(tmp_path / "build")]):
        done = subprocess.run(step, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "build" / "vadd").is_file()
