"""Candidates that try to run commands or reach the verdict, end to end through validate() on the
emulator: nothing runs (the marker file stays absent) and the verdict is the harness's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from portkern import sandbox
from portkern.harness import validate
from portkern.harness.runners.base import get_runner
from portkern.library import load_library
from portkern.targets import get_target

ADVERSARIAL = Path(__file__).parent / "adversarial"
pytestmark = [
    pytest.mark.skipif(not get_runner("emu").available().ok, reason="no host C++ compiler for the emulator"),
    pytest.mark.skipif(not sandbox.syscall_filter_available()[0], reason="no syscall filter on this machine"),
]

KERNEL = """
template <typename T>
__global__ void honest_axpby(int n, T a, const T* x, const T* y, T* z)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        z[i] = %s;
}
"""
HEAD = '#include <cuda_runtime.h>\nextern "C" int system(const char*);\n'

# The six ways past the reply filter that were found, each as a load-time command.
BYPASSES = {
    "token-pasting": '#define CAT(a, b) a##b\n__attribute__((constructor)) static void pwn() { CAT(sys, tem)("touch MARKER"); }\n',
    "parenthesised": '__attribute__((constructor)) static void pwn() { (system)("touch MARKER"); }\n',
    "device-constructor": '__device__ __attribute__((constructor)) static void pwn() { system("touch MARKER"); }\n',
    "function-pointer": 'static int (*volatile run_it)(const char*) = &system;\nstatic int done = run_it("touch MARKER");\n',
    "python-c-api": 'extern "C" int PyRun_SimpleString(const char*);\n'
                    '__attribute__((constructor)) static void pwn() '
                    '{ PyRun_SimpleString("import os; os.system(\'touch MARKER\')"); }\n',
    "fork-exec": '#include <unistd.h>\n__attribute__((constructor)) static void pwn() '
                 '{ if (fork() == 0) { execl("/bin/sh", "sh", "-c", "touch MARKER", (char*)0); _exit(0); } }\n',
}

# A wrong kernel whose load-time code writes forged replies on every descriptor the worker may use.
FORGE = """#include <unistd.h>
#include <cstring>
__attribute__((constructor)) static void forge() {
    const char msg[] = "\\x40\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x3c\\x00\\x00\\x00{\\"status\\":\\"ok\\",\\"value\\":[],\\"blobs\\":[]}";
    for (int fd = 3; fd < 64; ++fd) (void)!write(fd, msg, sizeof msg - 1);
}
"""


@pytest.fixture(scope="module")
def adv():
    return load_library(ADVERSARIAL)


@pytest.mark.parametrize("name", sorted(BYPASSES))
def test_a_candidate_that_runs_a_command_runs_nothing(adv, tmp_path, name):
    marker = tmp_path / "MARKER"
    source = HEAD + BYPASSES[name].replace("MARKER", str(marker)) + KERNEL % "a * x[i] + y[i]"
    res = validate(adv, "honest_axpby", get_target("h100"), runner="emu", source=source, dtypes=["float32"],
                   hidden=False)
    assert not marker.exists(), f"{name}: the command ran"
    # The kernel itself is right; whether the blocked call crashed the load decides pass or crash.
    assert res.passed or res.failure in ("crash", "compile", "launch"), (res.failure, res.detail)


def test_load_time_code_cannot_forge_the_verdict(adv):
    source = HEAD + FORGE + KERNEL % "T(0)"
    res = validate(adv, "honest_axpby", get_target("h100"), runner="emu", source=source, dtypes=["float32"],
                   hidden=False)
    assert not res.passed
    assert res.failure in ("mismatch", "crash"), (res.failure, res.detail)
