"""Reply checks: one code block, device code only, allowed includes, kernel signature kept (tree-sitter)."""

from __future__ import annotations

import pytest

from portkern.llm.replies import check_reply, extract_code_block, kernel_signature

ORIGINAL = """#include <hip/hip_runtime.h>
template <typename T, int NB>
__global__ void __launch_bounds__(NB) axpy_kernel(int n, T alpha, const T* __restrict__ x, T* y)
{
    int i = blockIdx.x * NB + threadIdx.x;
    if (i < n) y[i] += alpha * x[i];
}
"""


def fenced(code: str, lang: str = "cpp") -> str:
    return f"Sure, here it is:\n\n```{lang}\n{code}```\nThis is faster because...\n"


def check(text: str):
    return check_reply(text, symbol="axpy_kernel", original=ORIGINAL, dialect="hip")


def test_accepts_a_rewrite_that_keeps_the_signature():
    rewrite = ORIGINAL.replace("const T* __restrict__ x", "const T *x").replace(
        "if (i < n)", "// grid-stride loop\n    for (; i < n; i += gridDim.x * NB)")
    verdict = check(fenced(rewrite, "hip"))
    assert verdict.accepted, verdict.reason
    assert "grid-stride" in verdict.code


def test_accepts_new_device_helpers_and_mentions_of_forbidden_words_in_comments():
    helper = "__device__ inline float twice(float v) { return 2 * v; }\n// never call system() here\n"
    assert check(fenced(helper + ORIGINAL)).accepted


@pytest.mark.parametrize("text, reason", [
    ("no code at all", "no fenced code block"),
    (fenced(ORIGINAL) + fenced(ORIGINAL), "2 fenced code blocks"),
    (fenced(ORIGINAL.replace("int n,", "long n,")), "parameter list of `axpy_kernel` changed"),
    (fenced(ORIGINAL.replace("T* y)", "T* y, int extra)")), "parameter list"),
    (fenced(ORIGINAL.replace("int NB>", "int NB, int UNROLL>")), "template parameters"),
    (fenced(ORIGINAL.replace("axpy_kernel", "axpy_fast")), "missing from the reply"),
    (fenced(ORIGINAL + "int main() { return 0; }\n"), "main"),
    (fenced(ORIGINAL.replace("y[i] +=", "system(\"id\"); y[i] +=")), "system()"),
    (fenced(ORIGINAL.replace("y[i] +=", "FILE* f = fopen(\"/tmp/x\", \"w\"); y[i] +=")), "files"),
    (fenced(ORIGINAL + "void go(){ std::thread t([]{}); }\n"), "threads"),
    (fenced(ORIGINAL + "void launch(float* y){ axpy_kernel<float,256><<<1,256>>>(1, 1.f, y, y); }\n"), "launches"),
    (fenced(ORIGINAL + "void* buf(){ void* p; hipMalloc(&p, 4); return p; }\n"), "host runtime API"),
    (fenced("#include <fstream>\n" + ORIGINAL), "outside the allow-list"),
    (fenced('#include "local_helpers.h"\n' + ORIGINAL), "outside the allow-list"),
    (fenced(ORIGINAL + "static int host_helper(int v) { return v + 1; }\n"), "host function"),
    (fenced(ORIGINAL.replace("execute", "x") + "void f(){ execvp(\"sh\", 0); }\n"), "exec"),
])
def test_rejects_with_reason(text, reason):
    verdict = check(text)
    assert not verdict.accepted
    assert reason in verdict.reason


def test_cuda_allow_list_differs_from_hip():
    cuda_unit = ORIGINAL.replace("hip/hip_runtime.h", "cuda_runtime.h")
    assert check_reply(fenced(cuda_unit), symbol="axpy_kernel", original=cuda_unit, dialect="cuda").accepted
    assert not check_reply(fenced(cuda_unit), symbol="axpy_kernel", original=cuda_unit, dialect="hip").accepted


def test_signature_is_read_by_the_parser():
    sig = kernel_signature(ORIGINAL, "axpy_kernel")
    assert sig.template == "<typename T,int NB>"
    assert sig.params == ["int n", "T alpha", "const T*x", "T*y"]   # __restrict__ does not change the ABI
    assert kernel_signature(ORIGINAL, "nope") is None


def test_extract_takes_the_code_not_the_prose():
    code, reason = extract_code_block(fenced("int a;\n"))
    assert code == "int a;\n" and reason == ""
