"""Host-API call shapes that differ between the runtimes even where the names map one to one.

* Symbol APIs (``cudaMemcpyToSymbol(sym, ...)``): HIP takes the symbol through ``HIP_SYMBOL(sym)``
  (``&sym`` on AMD, ``sym`` on NVIDIA), so the call is portable; HIP -> CUDA drops the wrapper.
* Function-attribute APIs (``cudaFuncSetAttribute(kernel, ...)``): CUDA has a template overload taking
  the kernel itself, HIP only ``const void*``, so a kernel defined earlier in the file gets
  ``reinterpret_cast<const void*>``.
* Thrust execution policies: ``thrust::cuda::par`` is ``thrust::hip::par`` in rocThrust.
* Pinned host memory: HIP's ``hipHostMalloc(ptr, size)`` takes default flags, CUDA's ``cudaHostAlloc``
  needs them, so the two-argument form becomes ``cudaMallocHost``.
* Today's CUDA (``cuda_version`` >= 13): the ``cudaDeviceProp`` fields CUDA 13 removed (``clockRate``,
  ``memoryClockRate``, ...) are read through ``cudaDeviceGetAttribute`` on the device the properties
  describe, and ``cudaMemPrefetchAsync``/``cudaMemAdvise`` get the ``cudaMemLocation`` form.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from portkern.translate.maps import load_maps, parse_version
from portkern.translate.source import NULL_LITERALS, SourceEdit

# cudaDeviceProp fields removed in CUDA 13 -> the device attribute with the same value ("0": the feature
# is gone, so the value is 0).
REMOVED_PROP_FIELDS = {
    "clockRate": "cudaDevAttrClockRate",
    "memoryClockRate": "cudaDevAttrMemoryClockRate",
    "computeMode": "cudaDevAttrComputeMode",
    "kernelExecTimeoutEnabled": "cudaDevAttrKernelExecTimeout",
    "deviceOverlap": "cudaDevAttrGpuOverlap",
    "maxTexture1DLinear": "cudaDevAttrMaxTexture1DLinearWidth",
    "singleToDoublePrecisionPerfRatio": "cudaDevAttrSingleToDoublePrecisionPerfRatio",
    "cooperativeMultiDeviceLaunch": "0",
    # HIP's own name for the clock rate (kHz)
    "clockInstructionRate": "cudaDevAttrClockRate",
}
# hipDeviceProp_t fields with no field of that name in cudaDeviceProp -> CUDA's field.
HIP_ONLY_PROP_FIELDS = {"maxSharedMemoryPerMultiProcessor": "sharedMemPerMultiprocessor",
                        "clockInstructionRate": "clockRate"}
MEMCPY_WITH_STREAM_PREAMBLE = """
#ifndef PORTKERN_MEMCPY_WITH_STREAM
#define PORTKERN_MEMCPY_WITH_STREAM
// HIP's copy with a stream: ordered on the stream, returning once it is done.
static inline cudaError_t portkern_memcpy_with_stream(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                                                      cudaStream_t stream)
{
    cudaError_t status = cudaMemcpyAsync(dst, src, bytes, kind, stream);
    return status != cudaSuccess ? status : cudaStreamSynchronize(stream);
}
#endif
"""
# HIP's fills of 8/16/32-bit values (hipMemsetD32 and friends) map to CUDA's driver API (cuMemsetD32, a
# CUdeviceptr, CUresult, -lcuda). On the runtime: helpers with HIP's arguments, returning cudaError_t.
MEMSET_D = {"hipMemsetD8": "portkern_memset_d8", "hipMemsetD16": "portkern_memset_d16",
            "hipMemsetD32": "portkern_memset_d32", "hipMemsetD8Async": "portkern_memset_d8_async",
            "hipMemsetD16Async": "portkern_memset_d16_async", "hipMemsetD32Async": "portkern_memset_d32_async"}
MEMSET_D_PREAMBLE = """
#ifndef PORTKERN_MEMSET_D
#define PORTKERN_MEMSET_D
// HIP's fills of 8, 16 and 32-bit values on the runtime: cudaMemset where every byte of the value is the
// same, a fill kernel otherwise; the forms without a stream return once the fill is done.
template <typename T>
__global__ void portkern_fill_kernel(T* dst, T value, size_t count)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = value;
}
template <typename T>
inline cudaError_t portkern_fill(void* dst, T value, size_t count, cudaStream_t stream, bool async)
{
    if (count == 0) return cudaSuccess;
    const unsigned char* bytes = reinterpret_cast<const unsigned char*>(&value);
    bool uniform = true;
    for (size_t b = 1; b < sizeof(T); ++b) uniform = uniform && bytes[b] == bytes[0];
    if (uniform)
        return async ? cudaMemsetAsync(dst, bytes[0], count * sizeof(T), stream)
                     : cudaMemset(dst, bytes[0], count * sizeof(T));
    const size_t blocks = (count + 255) / 256 < 65536 ? (count + 255) / 256 : 65536;
    portkern_fill_kernel<T><<<(unsigned int)blocks, 256, 0, stream>>>(static_cast<T*>(dst), value, count);
    cudaError_t status = cudaGetLastError();
    return status == cudaSuccess && !async ? cudaStreamSynchronize(stream) : status;
}
inline cudaError_t portkern_memset_d8(void* dst, unsigned char value, size_t count)
{ return portkern_fill<unsigned char>(dst, value, count, 0, false); }
inline cudaError_t portkern_memset_d16(void* dst, unsigned short value, size_t count)
{ return portkern_fill<unsigned short>(dst, value, count, 0, false); }
inline cudaError_t portkern_memset_d32(void* dst, int value, size_t count)
{ return portkern_fill<unsigned int>(dst, (unsigned int)value, count, 0, false); }
inline cudaError_t portkern_memset_d8_async(void* dst, unsigned char value, size_t count, cudaStream_t stream = 0)
{ return portkern_fill<unsigned char>(dst, value, count, stream, true); }
inline cudaError_t portkern_memset_d16_async(void* dst, unsigned short value, size_t count, cudaStream_t stream = 0)
{ return portkern_fill<unsigned short>(dst, value, count, stream, true); }
inline cudaError_t portkern_memset_d32_async(void* dst, int value, size_t count, cudaStream_t stream = 0)
{ return portkern_fill<unsigned int>(dst, (unsigned int)value, count, stream, true); }
#endif
"""
PROP_PREAMBLE = """
#ifndef PORTKERN_DEVICE_PROP_COMPAT
#define PORTKERN_DEVICE_PROP_COMPAT
// cudaDeviceProp fields removed in CUDA 13, read as device attributes of the device whose PCI location
// the properties hold (the current device when none matches).
static inline int portkern_device_prop_attribute(const cudaDeviceProp& prop, cudaDeviceAttr attr)
{
    int count = 0, device = 0, value = 0;
    cudaGetDevice(&device);
    if(cudaGetDeviceCount(&count) == cudaSuccess)
        for(int d = 0; d < count; ++d)
        {
            int bus = -1, dev = -1, domain = -1;
            cudaDeviceGetAttribute(&bus, cudaDevAttrPciBusId, d);
            cudaDeviceGetAttribute(&dev, cudaDevAttrPciDeviceId, d);
            cudaDeviceGetAttribute(&domain, cudaDevAttrPciDomainId, d);
            if(bus == prop.pciBusID && dev == prop.pciDeviceID && domain == prop.pciDomainID)
            {
                device = d;
                break;
            }
        }
    cudaDeviceGetAttribute(&value, attr, device);
    return value;
}
#endif
"""
LOCATION_PREAMBLE = """
#ifndef PORTKERN_MEM_LOCATION_COMPAT
#define PORTKERN_MEM_LOCATION_COMPAT
// CUDA 13 prefetch/advise take a cudaMemLocation where HIP takes a device number (cudaCpuDeviceId: host).
static inline cudaMemLocation portkern_mem_location(int device)
{
    cudaMemLocation loc = {};
    loc.type = device == cudaCpuDeviceId ? cudaMemLocationTypeHost : cudaMemLocationTypeDevice;
    loc.id = device == cudaCpuDeviceId ? 0 : device;
    return loc;
}
#endif
"""

# HIP function name -> index of its symbol argument.
SYMBOL_ARG = {
    "hipMemcpyToSymbol": 0, "hipMemcpyToSymbolAsync": 0, "hipMemcpyFromSymbol": 1,
    "hipMemcpyFromSymbolAsync": 1, "hipGetSymbolAddress": 1, "hipGetSymbolSize": 1,
}
# HIP function name -> index of its kernel (const void*) argument.
KERNEL_ARG = {
    "hipFuncSetAttribute": 0, "hipFuncGetAttributes": 1, "hipFuncSetCacheConfig": 0,
    "hipFuncSetSharedMemConfig": 0, "hipLaunchCooperativeKernel": 0,
}

# HIP function name -> (the CUDA call's argument count, what HIP needs appended): CUDA gives these
# parameters defaults where some HIP releases declare none.
MISSING_DEFAULTS = {"hipStreamWaitEvent": (2, "0")}
# HIP function name -> index of a void** argument: CUDA's runtime adds a template overload taking any T**.
VOIDPP_ARG = {"hipHostGetDevicePointer": 0}


def kernels_above(src: SourceEdit, line: int) -> set[str]:
    return {f.name.split("::")[-1] for f in src.functions.spans if f.is_kernel and f.end_line < line}


def _call_args(src: SourceEdit, si: int) -> tuple[int, list[tuple[int, int]]] | None:
    if src.stext(si + 1) != "(" or src.stext(si - 1) in (".", "->", "::"):
        return None
    close = src.match_close(si + 1)
    if close < 0:
        return None
    return close, src.split_args(si + 1, close, angle_first=False)


def _calls(src: SourceEdit, names) -> Iterator[tuple[int, str, int, list[tuple[int, int]]]]:
    """(significant index, source spelling, closing parenthesis, argument spans) of each call of ``names``."""
    for si in src.where(*names):
        call = _call_args(src, si)
        if call is not None:
            yield si, src.stext(si), call[0], call[1]


def _arg_is_already_wrapped(src: SourceEdit, span: tuple[int, int], wrappers: tuple[str, ...]) -> bool:
    return src.stext(span[0]) in wrappers


@functools.lru_cache(maxsize=1)
def _shape_call_spellings() -> frozenset[str]:
    """CUDA and HIP spellings of the calls whose argument shapes differ."""
    hip = set(SYMBOL_ARG) | set(KERNEL_ARG) | set(MISSING_DEFAULTS) | set(VOIDPP_ARG)
    return frozenset(hip | {c for c, e in load_maps().to_hip.items() if e.hip in hip})


def host_calls_to_hip(src: SourceEdit) -> None:
    """Runs after the token renames, so the calls are already spelled the HIP way in ``out``."""
    sig, out = src.sig, src.out
    # the calls are renamed already: look them up by their CUDA spelling in the source
    for si in src.where_any(_shape_call_spellings()):
        name = out[sig[si]]
        if name in MISSING_DEFAULTS or name in VOIDPP_ARG:
            _defaults_and_casts(src, si, name)
        elif name in SYMBOL_ARG or name in KERNEL_ARG:
            call = _call_args(src, si)
            if call is None:
                continue
            _, args = call
            index = SYMBOL_ARG.get(name, KERNEL_ARG.get(name))
            if index >= len(args) or args[index][0] >= args[index][1]:
                continue
            span = args[index]
            if name in SYMBOL_ARG:
                if _arg_is_already_wrapped(src, span, ("HIP_SYMBOL", "&")):
                    continue
                src.queue_span(span[0], span[1], lambda s=span: f"HIP_SYMBOL({src.out_text(*s).strip()})")
            else:
                # only names seen defined as kernels above the call: HIP's const void* parameter needs
                # the cast for them, while anything else may already be a pointer
                kernel = src.stext(span[0])
                if kernel not in kernels_above(src, src.line_of(si)):
                    continue
                src.queue_span(span[0], span[1],
                               lambda s=span: f"reinterpret_cast<const void*>({src.out_text(*s).strip()})")
            src.count("runtime")
    _graph_forms_to_hip(src)
    _thrust_policy(src, "cuda", "hip")


def _defaults_and_casts(src: SourceEdit, si: int, name: str) -> None:
    call = _call_args(src, si)
    if call is None:
        return
    close, args = call
    if name in MISSING_DEFAULTS:
        count, default = MISSING_DEFAULTS[name]
        if len(args) == count and args[-1][0] < args[-1][1]:
            last = args[-1]
            src.queue_span(last[0], last[1], lambda s=last: f"{src.out_text(*s)}, {default}")
            src.count("runtime")
        return
    index = VOIDPP_ARG[name]
    if index >= len(args) or args[index][0] >= args[index][1]:
        return
    span = args[index]
    if src.stext(span[0]) != "&":      # an address taken here; anything else may already be void**
        return
    src.queue_span(span[0], span[1], lambda s=span: f"(void**){src.out_text(*s).strip()}")
    src.count("runtime")


def host_calls_to_cuda(src: SourceEdit, cuda_version: str = "13.0") -> list[str]:
    """``HIP_SYMBOL(x)`` -> ``x``; ``thrust::hip::`` -> ``thrust::cuda::``; pinned-memory calls; the
    CUDA 13 forms. Returns the helper preambles the rewritten code needs (insert after the includes)."""
    for si in src.where("HIP_SYMBOL"):
        if src.stext(si + 1) != "(":
            continue
        close = src.match_close(si + 1)
        if close > si + 2:
            src.queue_span(si, close + 1, lambda a=si + 2, b=close: src.out_text(a, b).strip())
            src.count("runtime")
    _thrust_policy(src, "hip", "cuda")
    _host_alloc_to_cuda(src)
    preambles: list[str] = []
    if _module_api_to_runtime(src, cuda_version) == "queries":
        preambles.append(DEVICE_QUERY_PREAMBLE)
    if _hip_only_host_calls(src):
        preambles.append(MEMCPY_WITH_STREAM_PREAMBLE)
    if _memset_d_calls(src):
        preambles.append(MEMSET_D_PREAMBLE)
    _graph_forms(src, cuda_version)
    _hip_only_prop_fields(src, keep_clock=parse_version(cuda_version) < (13,))
    if _arch_name(src):
        preambles.append(ARCH_NAME_PREAMBLE)
    if parse_version(cuda_version) >= (13,):
        if _removed_prop_fields(src):
            preambles.append(PROP_PREAMBLE)
        if _location_form(src):
            preambles.append(LOCATION_PREAMBLE)
    return preambles


# --------------------------------------------------------------------------- module API (HIP -> CUDA)

# HIP's module API returns hipError_t like the rest of its runtime, so HIP code checks both with one
# macro (``hipError_t e = call``). Its CUDA counterparts are driver calls returning CUresult (and
# CUdeviceptr is an integer where hipDeviceptr_t is void*), which breaks exactly that code. From CUDA 12
# the runtime has its own library API (cudaLibraryLoadData, cudaLibraryGetKernel, a cudaKernel_t launched
# through cudaLaunchKernel): a file whose driver-style calls are all in this table is written with it.
MODULE_CALLS = {
    "hipModuleLoad": ("cudaLibraryLoadFromFile", 2, ", nullptr, nullptr, 0, nullptr, nullptr, 0"),
    "hipModuleLoadData": ("cudaLibraryLoadData", 2, ", nullptr, nullptr, 0, nullptr, nullptr, 0"),
    "hipModuleGetFunction": ("cudaLibraryGetKernel", 3, ""),
    "hipModuleGetGlobal": ("cudaLibraryGetGlobal", 4, ""),
    "hipModuleUnload": ("cudaLibraryUnload", 1, ""),
}
MODULE_COPIES = {
    "hipMemcpyHtoD": ("cudaMemcpy", "cudaMemcpyHostToDevice"),
    "hipMemcpyDtoH": ("cudaMemcpy", "cudaMemcpyDeviceToHost"),
    "hipMemcpyDtoD": ("cudaMemcpy", "cudaMemcpyDeviceToDevice"),
    "hipMemcpyHtoDAsync": ("cudaMemcpyAsync", "cudaMemcpyHostToDevice"),
    "hipMemcpyDtoHAsync": ("cudaMemcpyAsync", "cudaMemcpyDeviceToHost"),
    "hipMemcpyDtoDAsync": ("cudaMemcpyAsync", "cudaMemcpyDeviceToDevice"),
}
MODULE_TYPES = {"hipModule_t": "cudaLibrary_t", "hipFunction_t": "cudaKernel_t", "hipDeviceptr_t": "void*",
                "hipDevice_t": "int"}
# Device queries HIP spells like the driver API (CUDA's counterparts return CUresult): helpers on the
# runtime with the same arguments, returning cudaError_t.
DEVICE_QUERIES = {"hipDeviceGet": ("portkern_device_get", 2), "hipDeviceGetName": ("portkern_device_get_name", 3),
                  "hipDeviceTotalMem": ("portkern_device_total_mem", 2),
                  "hipDeviceComputeCapability": ("portkern_device_compute_capability", 3)}
DEVICE_QUERY_PREAMBLE = """
#ifndef PORTKERN_DEVICE_QUERIES
#define PORTKERN_DEVICE_QUERIES
#include <cstring>
// HIP's driver-style device queries, on the runtime (cudaError_t like the rest of the program).
static inline cudaError_t portkern_device_get(int* device, int ordinal)
{
    int count = 0;
    cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) return status;
    if (ordinal < 0 || ordinal >= count) return cudaErrorInvalidDevice;
    *device = ordinal;
    return cudaSuccess;
}
static inline cudaError_t portkern_device_get_name(char* name, int length, int device)
{
    cudaDeviceProp prop;
    cudaError_t status = cudaGetDeviceProperties(&prop, device);
    if (status == cudaSuccess && length > 0) {
        size_t n = std::strlen(prop.name);
        n = n < (size_t)length - 1 ? n : (size_t)length - 1;
        std::memcpy(name, prop.name, n);
        name[n] = '\\0';
    }
    return status;
}
static inline cudaError_t portkern_device_total_mem(size_t* bytes, int device)
{
    cudaDeviceProp prop;
    cudaError_t status = cudaGetDeviceProperties(&prop, device);
    if (status == cudaSuccess) *bytes = prop.totalGlobalMem;
    return status;
}
static inline cudaError_t portkern_device_compute_capability(int* major, int* minor, int device)
{
    cudaError_t status = cudaDeviceGetAttribute(major, cudaDevAttrComputeCapabilityMajor, device);
    return status != cudaSuccess ? status : cudaDeviceGetAttribute(minor, cudaDevAttrComputeCapabilityMinor, device);
}
#endif
"""
MODULE_NAMES = frozenset({*MODULE_CALLS, *MODULE_COPIES, *MODULE_TYPES, *DEVICE_QUERIES, "hipModuleLaunchKernel",
                          "hipInit"})


def _driver_names(src: SourceEdit) -> set[str]:
    """The HIP names of this file whose CUDA counterparts are driver-API names (cuXxx, CUxxx)."""
    found = set()
    for name in src.by_text:
        if not name.startswith(("hip", "HIP")):
            continue
        entry = load_maps().to_cuda.get(name)
        cuda = getattr(entry, "cuda", "") if entry is not None else ""
        if cuda[:2] in ("cu", "CU") and cuda[2:3].isupper() and not cuda.startswith(("cuda", "CUDA")):
            found.add(name)
    return found


def _module_api_to_runtime(src: SourceEdit, cuda_version: str) -> bool:
    if parse_version(cuda_version) < (12,) or not any(name in src.by_text for name in MODULE_NAMES):
        return False
    # hipDeviceptr_t (CUdeviceptr, an integer, on the driver API) is void* on the runtime; the fills have
    # runtime helpers (_memset_d_calls). Any other driver-style name keeps the whole file on the driver API.
    driver = _driver_names(src) | ({"hipDeviceptr_t"} & set(src.by_text))
    if not driver & (MODULE_NAMES | set(MEMSET_D)) or driver - MODULE_NAMES - set(MEMSET_D):
        return False
    calls = {}
    for si in src.where_any(MODULE_NAMES - set(MODULE_TYPES)):
        call = _call_args(src, si)
        if call is None:
            return False        # taken as a pointer or spelled in a way this does not follow: keep the driver API
        calls[si] = call
        name = src.stext(si)
        if name == "hipModuleLaunchKernel" and (len(call[1]) != 11 or src.out_text(*call[1][10]).strip() not in NULL_LITERALS):
            return False        # kernel arguments through `extra`: only the driver API takes them
        if name in MODULE_CALLS and len(call[1]) != MODULE_CALLS[name][1]:
            return False
        if name in MODULE_COPIES and len(call[1]) != (4 if name.endswith("Async") else 3):
            return False
        if name in DEVICE_QUERIES and len(call[1]) != DEVICE_QUERIES[name][1]:
            return False
    def text(span: tuple[int, int]) -> str:
        return src.out_text(*span).strip()

    queries = False
    for si, (close, args) in calls.items():
        name = src.stext(si)
        if name in MODULE_CALLS:
            new, _, tail = MODULE_CALLS[name]
            src.set_token(si, new)
            if tail:
                src.queue_span(args[-1][0], args[-1][1], lambda a=args[-1], t=tail: text(a) + t)
        elif name in MODULE_COPIES:
            new, kind = MODULE_COPIES[name]
            src.set_token(si, new)
            last = args[2]
            src.queue_span(last[0], last[1], lambda a=last, k=kind: f"{text(a)}, {k}")
        elif name in DEVICE_QUERIES:
            src.set_token(si, DEVICE_QUERIES[name][0])
            queries = True
        elif name == "hipInit":
            # the runtime initialises itself; freeing nothing starts it (and its context) here
            src.queue_span(si, close + 1, lambda: "cudaFree(nullptr)")
        else:
            f, gx, gy, gz, bx, by, bz, shm, stream, params = args[:10]
            src.queue_span(si, close + 1, lambda f=f, g=(gx, gy, gz), b=(bx, by, bz), m=shm, s=stream, p=params:
                           f"cudaLaunchKernel(reinterpret_cast<const void*>({text(f)}), "
                           f"dim3({', '.join(text(x) for x in g)}), dim3({', '.join(text(x) for x in b)}), "
                           f"{text(p)}, {text(m)}, {text(s)})")
        src.count("runtime")
    for si in src.where_any(MODULE_TYPES):
        src.set_token(si, MODULE_TYPES[src.stext(si)])
        if src.stext(si) == "hipDeviceptr_t":
            _pointer_declarators(src, si)
        src.count("runtime")
    return "queries" if queries else True


def _pointer_declarators(src: SourceEdit, si: int) -> None:
    """``void* a, b;`` declares one pointer: give every further declarator of the statement its star."""
    if src.stext(si - 1) in ("(", ",", "<"):
        return              # a parameter or a template argument: one declarator
    depth, j = 0, si + 1
    while j < len(src.sig):
        t = src.stext(j)
        if t in ("(", "[", "{"):
            depth += 1
        elif t in (")", "]", "}"):
            depth -= 1
            if depth < 0:
                return
        elif depth == 0 and t == ";":
            return
        elif depth == 0 and t == "," and src.stok(j + 1) is not None and src.stok(j + 1).kind == "ident":
            src.set_token(j + 1, "*" + src.out[src.sig[j + 1]])
        j += 1


ARCH_NAME_PREAMBLE = """
#ifndef PORTKERN_ARCH_NAME
#define PORTKERN_ARCH_NAME
#include <cstdio>
// hipDeviceProp_t::gcnArchName names the ISA to build device code for; on an NVIDIA GPU that is the
// virtual architecture of its compute capability (what NVRTC's --gpu-architecture takes for PTX).
static inline const char* portkern_arch_name(const cudaDeviceProp& prop)
{
    static thread_local char names[4][32];
    static thread_local unsigned next = 0;
    char* name = names[next++ % 4];
    snprintf(name, sizeof names[0], "compute_%d%d", prop.major, prop.minor);
    return name;
}
#endif
"""


def _arch_name(src: SourceEdit) -> bool:
    used = False
    for si in src.where("gcnArchName"):
        op = src.stext(si - 1)
        if op not in (".", "->") or si < 2 or src.stext(si + 1) in ("=", "["):
            continue
        start = _postfix_start(src, si - 2)
        src.queue_span(start, si + 1, lambda a=start, b=si - 1, deref=op == "->":
                       f"portkern_arch_name({'*' if deref else ''}{src.out_text(a, b).strip()})")
        src.count("runtime")
        src.hazard(si, "amd-only-field", "info", "gcnArchName is AMD's; the NVIDIA device's compute_XY "
                   "architecture is used in its place", fixed=True)
        used = True
    return used




# Graph calls that gained an edge-data argument in CUDA 13 (HIP keeps the older form): CUDA name ->
# (CUDA's argument count, where its edge data is); the HIP names take one argument fewer. (The
# seven-argument cudaStreamGetCaptureInfo is HIP's hipStreamGetCaptureInfo_v2, handled by name.)
EDGE_DATA_ARG_CUDA = {"cudaGraphAddDependencies": (5, 3), "cudaGraphRemoveDependencies": (5, 3),
                      "cudaGraphGetEdges": (5, 3), "cudaGraphNodeGetDependencies": (4, 2),
                      "cudaGraphNodeGetDependentNodes": (4, 2), "cudaStreamGetCaptureInfo": (7, 5)}
EDGE_DATA_ARG = {"hip" + name[4:]: (count - 1, at) for name, (count, at) in EDGE_DATA_ARG_CUDA.items()
                 if name != "cudaStreamGetCaptureInfo"}


def _graph_forms(src: SourceEdit, cuda_version: str) -> None:
    """HIP's graph calls in the forms of today's CUDA: ``hipGraphInstantiate(&e, g, errNode, log, size)`` ->
    ``cudaGraphInstantiate(&e, g, 0)`` (CUDA 12 replaced the error node and log with flags),
    ``hipGraphInstantiateWithFlags`` -> ``cudaGraphInstantiate``, and a null edge-data argument where
    CUDA 13 added one."""
    version = parse_version(cuda_version)
    for si, name, close, args in _calls(src, ("hipGraphInstantiate", "hipGraphInstantiateWithFlags",
                                              "hipStreamGetCaptureInfo_v2", *EDGE_DATA_ARG)):
        if name == "hipGraphInstantiateWithFlags":
            # CUDA 12's cudaGraphInstantiate takes the flags itself (the WithFlags name stays for old code)
            if version < (12,) or len(args) != 3:
                continue
            src.set_token(si, "cudaGraphInstantiate")
        elif name == "hipGraphInstantiate":
            if version < (12,) or len(args) != 5:
                continue
            extra = [src.src_text(*a).strip() for a in args[2:]]
            src.queue_span(args[1][1], close, lambda: ", 0")
            if any(e not in NULL_LITERALS for e in extra):
                src.hazard(si, "removed-api", "warning", "cudaGraphInstantiate takes flags instead of an error node "
                           "and a log buffer since CUDA 12: they are no longer filled in", span=(si, close + 1))
        elif name == "hipStreamGetCaptureInfo_v2":
            # (stream, status, id, graph, dependencies, count): the runtime's _v2 until CUDA 13, which
            # folded it into cudaStreamGetCaptureInfo with edge data before the count
            if version < (12,) or len(args) != 6:
                continue
            src.set_token(si, "cudaStreamGetCaptureInfo" if version >= (13,) else "cudaStreamGetCaptureInfo_v2")
            if version >= (13,):
                at = args[5]
                src.queue_span(at[0], at[1], lambda a=at: "nullptr, " + src.out_text(*a).strip())
        elif version >= (13,) and len(args) == EDGE_DATA_ARG[name][0]:
            at = args[EDGE_DATA_ARG[name][1]]
            src.queue_span(at[0], at[1], lambda a=at: "nullptr, " + src.out_text(*a).strip())
        else:
            continue
        src.count("runtime")




def _graph_forms_to_hip(src: SourceEdit) -> None:
    """CUDA 12/13 graph calls in HIP's forms: ``cudaGraphInstantiate(&e, g[, flags])`` ->
    ``hipGraphInstantiateWithFlags(&e, g, flags)`` (HIP's hipGraphInstantiate takes an error node and a
    log), and the edge-data argument dropped where it is null (HIP's graphs have no edge data);
    the seven-argument cudaStreamGetCaptureInfo is HIP's _v2."""
    for si, name, close, args in _calls(src, ("cudaGraphInstantiate", *EDGE_DATA_ARG_CUDA)):
        if name == "cudaGraphInstantiate":
            if len(args) not in (2, 3):
                continue
            src.set_token(si, "hipGraphInstantiateWithFlags")
            if len(args) == 2:
                src.queue_span(args[1][0], args[1][1], lambda a=args[1]: src.out_text(*a).strip() + ", 0")
        elif len(args) == EDGE_DATA_ARG_CUDA[name][0]:
            at = args[EDGE_DATA_ARG_CUDA[name][1]]
            if src.src_text(*at).strip() not in NULL_LITERALS:
                src.hazard(si, "api-arguments", "error", f"{name} is given edge data, which HIP's graphs do not "
                           "have; rewrite the call without it", span=(si, close + 1))
                continue
            src.queue_span(at[0] - 1, at[1], lambda: "")      # the comma before it and the argument
            if name == "cudaStreamGetCaptureInfo":
                src.set_token(si, "hipStreamGetCaptureInfo_v2")
        else:
            continue
        src.count("runtime")


def _hip_only_host_calls(src: SourceEdit) -> bool:
    used = False
    for si in src.where("hipMemcpyWithStream"):
        if src.stext(si + 1) == "(" and src.stext(si - 1) not in (".", "->", "::"):
            src.set_token(si, "portkern_memcpy_with_stream")
            src.count("runtime")
            used = True
    return used


def _memset_d_calls(src: SourceEdit) -> bool:
    used = False
    for si in src.where_any(MEMSET_D):
        if src.stext(si + 1) == "(" and src.stext(si - 1) not in (".", "->", "::"):
            src.set_token(si, MEMSET_D[src.stext(si)])
            src.count("runtime")
            used = True
    return used


def _hip_only_prop_fields(src: SourceEdit, keep_clock: bool) -> None:
    """HIP's own device-property names -> CUDA's (the clock rate, removed in CUDA 13, is read as an
    attribute by ``_removed_prop_fields``); ``prop.arch.hasX`` feature flags hold on NVIDIA GPUs -> 1."""
    for si in src.where_any(HIP_ONLY_PROP_FIELDS):
        if src.stext(si - 1) in (".", "->") and (keep_clock or src.stext(si) != "clockInstructionRate"):
            src.set_token(si, HIP_ONLY_PROP_FIELDS[src.stext(si)])
            src.count("runtime")
    for si in src.where("arch"):
        if (src.stext(si - 1) in (".", "->") and src.stext(si + 1) == "." and src.stext(si + 2).startswith("has")
                and si >= 2 and src.stext(si + 3) not in ("=", "+=", "|=", "&=")):
            start = _postfix_start(src, si - 2)
            src.queue_span(start, si + 3, lambda: "1")
            src.count("runtime")
            src.hazard(si, "amd-only-field", "info", f"hipDeviceArch_t::{src.stext(si + 2)} is AMD's; the feature "
                       "is present on every GPU CUDA 13 supports, so it reads 1", fixed=True)


def _host_alloc_to_cuda(src: SourceEdit) -> None:
    """Two-argument hipHostMalloc (default flags) -> cudaMallocHost; cudaHostAlloc needs its flags."""
    for si in src.where("hipHostMalloc", "hipHostAlloc"):
        call = _call_args(src, si)
        if call is not None and len(call[1]) == 2:
            src.set_token(si, "cudaMallocHost")


def _postfix_start(src: SourceEdit, si: int) -> int:
    """Start of the postfix expression ending at significant index ``si`` (``a.b[i]->c`` ...)."""
    j = si
    while j >= 0:
        text = src.stext(j)
        if text in (")", "]"):
            depth = 0
            k = j
            while k >= 0:
                t = src.stext(k)
                depth += t in (")", "]")
                depth -= t in ("(", "[")
                if depth == 0:
                    break
                k -= 1
            j = k - 1 if src.stext(k) == "[" else k
            if src.stext(k) == "(" and src.stok(k - 1) is not None and src.stok(k - 1).kind == "ident":
                j = k - 1
            elif src.stext(k) == "(":
                return k
            continue
        tok = src.stok(j)
        if tok is None or tok.kind != "ident":
            return j + 1
        if src.stext(j - 1) in (".", "->", "::"):
            j -= 2
            continue
        return j
    return 0


def _removed_prop_fields(src: SourceEdit) -> bool:
    if not any(src.where(n) for n in ("hipDeviceProp_t", "hipGetDeviceProperties", "cudaDeviceProp")):
        return False
    used = False
    for si in src.where_any(REMOVED_PROP_FIELDS):
        op = src.stext(si - 1)
        if op not in (".", "->") or si < 2:
            continue
        nxt = src.stext(si + 1)
        if nxt in ("=", "+=", "-=", "*=", "/=", "++", "--") or src.stext(src.statement_start(si)) == "&":
            src.hazard(si, "removed-api", "warning",
                       f"cudaDeviceProp::{src.stext(si)} was removed in CUDA 13 and is written here; "
                       "keep the value in a variable of your own", span=(si - 1, si + 1))
            continue
        start = _postfix_start(src, si - 2)
        attr = REMOVED_PROP_FIELDS[src.stext(si)]
        if attr == "0":
            src.queue_span(start, si + 1, lambda: "0")
        else:
            src.queue_span(start, si + 1, lambda a=start, b=si - 1, deref=op == "->", at=attr:
                           f"portkern_device_prop_attribute({'*' if deref else ''}{src.out_text(a, b).strip()}, {at})")
            used = True
        src.count("runtime")
        src.hazard(si, "removed-api", "info",
                   f"cudaDeviceProp::{src.stext(si)} was removed in CUDA 13; read through cudaDeviceGetAttribute",
                   fixed=True)
    return used


def _location_form(src: SourceEdit) -> bool:
    """hipMemPrefetchAsync(p, n, dev[, s]) -> cudaMemPrefetchAsync(p, n, location, 0, s); hipMemAdvise's
    device argument -> a location."""
    used = False
    for si in src.where("hipMemPrefetchAsync", "hipMemAdvise"):
        call = _call_args(src, si)
        if call is None:
            continue
        close, args = call
        name = src.stext(si)
        if name == "hipMemPrefetchAsync" and len(args) in (3, 4):
            dev = args[2]
            stream = args[3] if len(args) == 4 else None
            src.queue_span(dev[0], close, lambda d=dev, s=stream: f"portkern_mem_location({src.out_text(*d).strip()}), 0, "
                                                                  f"{src.out_text(*s).strip() if s else '0'}")
        elif name == "hipMemAdvise" and len(args) == 4:
            dev = args[3]
            src.queue_span(dev[0], dev[1], lambda d=dev: f"portkern_mem_location({src.out_text(*d).strip()})")
        else:
            continue
        used = True
        src.count("runtime")
    return used


def _thrust_policy(src: SourceEdit, old: str, new: str) -> None:
    for si in src.where(old):
        if src.stext(si - 1) == "::" and src.stext(si - 2) == "thrust" and src.stext(si + 1) == "::":
            src.set_token(si, new)
            src.count("runtime")
