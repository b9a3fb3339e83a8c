// Memory-access tracing for a trace build (PORTKERN_EMU_TRACE defined).
//
// A trace build compiles the unit with ThreadSanitizer instrumentation (-fsanitize=thread) but
// without the ThreadSanitizer runtime: the compiler's calls to __tsan_read4, __tsan_write8,
// __tsan_atomic32_fetch_add, ... land in the functions below. Each access made by a GPU thread
// (code running on a fiber stack) is classified by address: inside a buffer the host registered
// -> global memory; inside the launch's dynamic shared memory or this module's thread-local block
// (static __shared__ variables are thread_local) -> shared memory; anything else (the thread's
// stack, the runtime's own state) is counted as "other" and not analysed.
//
// Lanes of one warp that make the same dynamic occurrence of one access site (the call site's
// return address; the n-th time each lane executes it) form one warp-level request. When a block
// ends the requests are analysed under the geometry set by portkern_emu_trace_configure: distinct
// sectors and lines touched by a global request, and for a shared request the number of passes
// the banks need (per phase of `bank_lanes` lanes: the most distinct words any one bank holds).
//
// The host side (Python) sets the buffers and geometry, launches, then calls
// portkern_emu_trace_collect, which folds every CPU thread's counts into one array (kTraceCounts).
#pragma once

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "host_api.h"
#include "scheduler.h"

#if defined(__clang__)
#define PORTKERN_EMU_NOTRACE __attribute__((disable_sanitizer_instrumentation))
#else
#define PORTKERN_EMU_NOTRACE __attribute__((no_sanitize("thread")))
#endif
#define PORTKERN_EMU_TRACE_API extern "C" __attribute__((visibility("default"))) PORTKERN_EMU_NOTRACE

namespace portkern_emu {
namespace trace {

// Indices of the counts portkern_emu_trace_collect returns (backends/emu/trace.py names them).
enum Count {
  kGlobalRequests, kGlobalLoadRequests, kGlobalStoreRequests, kGlobalAtomicRequests, kGlobalLaneAccesses,
  kGlobalBytes, kGlobalSectors, kGlobalLines, kSharedRequests, kSharedLaneAccesses, kSharedBytes,
  kSharedWavefronts, kSharedIdealWavefronts, kSharedAtomicRequests, kDivergentRequests, kBarriers,
  kOtherAccesses, kMaxConflictDegree, kAtomicLaneAccesses, kGlobalDistinctBytes, kTraceCounts
};

enum Kind : std::uint8_t { kLoad, kStore, kAtomic };
enum Space : std::uint8_t { kGlobal, kShared };

struct Geometry {
  unsigned sector = 32, line = 128, banks = 32, bank_bytes = 4, bank_lanes = 32;
};

struct Group {
  std::uint64_t addr[kWave];
  std::uint32_t size[kWave];
  unsigned long long mask = 0;
  std::uint8_t kind = kLoad, space = kGlobal;
  std::uint16_t warp_lanes = 0;
};

struct SiteLane {
  std::uintptr_t pc;
  unsigned tid;
  bool operator==(const SiteLane& o) const { return pc == o.pc && tid == o.tid; }
};
struct SiteWarp {
  std::uintptr_t pc;
  unsigned warp, occurrence;
  bool operator==(const SiteWarp& o) const { return pc == o.pc && warp == o.warp && occurrence == o.occurrence; }
};
struct HashSiteLane {
  std::size_t operator()(const SiteLane& k) const { return std::size_t(k.pc * 0x9E3779B97F4A7C15ull) ^ k.tid; }
};
struct HashSiteWarp {
  std::size_t operator()(const SiteWarp& k) const {
    return std::size_t((k.pc * 0x9E3779B97F4A7C15ull) ^ (std::uint64_t(k.occurrence) << 20) ^ k.warp);
  }
};

struct Recorder {
  bool have_block = false;
  const void* launch = nullptr;
  dim3 block;
  char* tls_lo = nullptr;
  char* tls_hi = nullptr;
  std::unordered_map<SiteLane, unsigned, HashSiteLane> occurrences;
  std::unordered_map<SiteWarp, unsigned, HashSiteWarp> index;
  std::vector<Group> groups;
  double counts[kTraceCounts] = {};
};

struct State {
  std::mutex mutex;
  std::vector<Recorder*> recorders;
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> buffers;  // [lo, hi), set between launches
  Geometry geometry;
};

PORTKERN_EMU_NOTRACE inline State& state() {
  static State s;
  return s;
}

inline thread_local Recorder* tls_recorder = nullptr;
// Set while the recorder runs: the library code it calls may itself be instrumented.
inline thread_local bool tls_busy = false;

PORTKERN_EMU_NOTRACE inline int find_tls_block(dl_phdr_info* info, std::size_t, void* data) {
  auto* r = static_cast<Recorder*>(data);
  Dl_info self;
  if (!dladdr(reinterpret_cast<void*>(&find_tls_block), &self)) return 0;
  if (reinterpret_cast<void*>(info->dlpi_addr) != self.dli_fbase) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    if (info->dlpi_phdr[i].p_type == PT_TLS && info->dlpi_tls_data) {
      r->tls_lo = static_cast<char*>(info->dlpi_tls_data);
      r->tls_hi = r->tls_lo + info->dlpi_phdr[i].p_memsz;
    }
  }
  return 1;
}

PORTKERN_EMU_NOTRACE inline Recorder& recorder() {
  Recorder* r = tls_recorder;
  if (!r) {
    r = new Recorder();
    dl_iterate_phdr(&find_tls_block, r);
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    s.recorders.push_back(r);
    tls_recorder = r;
  }
  return *r;
}

PORTKERN_EMU_NOTRACE inline unsigned popcount(unsigned long long m) { return unsigned(__builtin_popcountll(m)); }

// Distinct `unit`-byte blocks the lanes of `g` touch.
PORTKERN_EMU_NOTRACE inline double distinct_units(const Group& g, unsigned unit, std::vector<std::uint64_t>& ids) {
  ids.clear();
  for (unsigned l = 0; l < unsigned(kWave); ++l) {
    if (!((g.mask >> l) & 1ull)) continue;
    const std::uint64_t first = g.addr[l] / unit, last = (g.addr[l] + std::max(1u, g.size[l]) - 1) / unit;
    if (last - first > 4096) return double(last - first + 1);  // a long range access: no sharing to find
    for (std::uint64_t u = first; u <= last; ++u) ids.push_back(u);
  }
  std::sort(ids.begin(), ids.end());
  return double(std::unique(ids.begin(), ids.end()) - ids.begin());
}

PORTKERN_EMU_NOTRACE inline void analyse(Recorder& r, const Group& g, const Geometry& geo,
                                         std::vector<std::uint64_t>& ids) {
  double* c = r.counts;
  const unsigned lanes = popcount(g.mask);
  double bytes = 0;
  for (unsigned l = 0; l < unsigned(kWave); ++l)
    if ((g.mask >> l) & 1ull) bytes += g.size[l];
  if (lanes < g.warp_lanes) c[kDivergentRequests] += 1;
  if (g.kind == kAtomic) c[kAtomicLaneAccesses] += lanes;
  if (g.space == kGlobal) {
    c[kGlobalRequests] += 1;
    c[g.kind == kLoad ? kGlobalLoadRequests : g.kind == kStore ? kGlobalStoreRequests : kGlobalAtomicRequests] += 1;
    c[kGlobalLaneAccesses] += lanes;
    c[kGlobalBytes] += bytes;
    c[kGlobalSectors] += distinct_units(g, geo.sector, ids);
    c[kGlobalLines] += distinct_units(g, geo.line, ids);
    c[kGlobalDistinctBytes] += distinct_units(g, 1, ids);  // lanes reading one address share it
    return;
  }
  c[kSharedRequests] += 1;
  c[kSharedLaneAccesses] += lanes;
  c[kSharedBytes] += bytes;
  if (g.kind == kAtomic) c[kSharedAtomicRequests] += 1;
  // Per phase: distinct words, then the most distinct words any one bank must deliver.
  const unsigned phase = std::max(1u, std::min(geo.bank_lanes, unsigned(kWave)));
  double passes = 0, ideal = 0, worst = 0;
  for (unsigned p0 = 0; p0 < unsigned(kWave); p0 += phase) {
    ids.clear();
    for (unsigned l = p0; l < p0 + phase && l < unsigned(kWave); ++l) {
      if (!((g.mask >> l) & 1ull)) continue;
      const std::uint64_t first = g.addr[l] / geo.bank_bytes;
      const std::uint64_t last = (g.addr[l] + std::max(1u, g.size[l]) - 1) / geo.bank_bytes;
      for (std::uint64_t w = first; w <= last && w - first < 4096; ++w) ids.push_back(w);
    }
    if (ids.empty()) continue;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::vector<unsigned> per_bank(geo.banks, 0);
    unsigned most = 0;
    for (std::uint64_t w : ids) most = std::max(most, ++per_bank[w % geo.banks]);
    passes += most;
    ideal += double((ids.size() + geo.banks - 1) / geo.banks);
    worst = std::max(worst, double(most) / double((ids.size() + geo.banks - 1) / geo.banks));
  }
  c[kSharedWavefronts] += passes;
  c[kSharedIdealWavefronts] += ideal;
  c[kMaxConflictDegree] = std::max(c[kMaxConflictDegree], worst);
}

// Analyse the finished block's requests and forget them.
PORTKERN_EMU_NOTRACE inline void flush(Recorder& r) {
  std::vector<std::uint64_t> ids;
  const Geometry geo = state().geometry;
  for (const Group& g : r.groups) analyse(r, g, geo, ids);
  r.groups.clear();
  r.index.clear();
  r.occurrences.clear();
  r.have_block = false;
}

PORTKERN_EMU_NOTRACE inline bool in(const void* p, const void* lo, std::size_t bytes) {
  return static_cast<const char*>(p) >= static_cast<const char*>(lo) &&
         static_cast<const char*>(p) < static_cast<const char*>(lo) + bytes;
}

// The runtime's own thread-local variables, which device code reads (threadIdx reads tls_worker).
PORTKERN_EMU_NOTRACE inline bool runtime_tls(const void* p) {
  return in(p, &detail::tls_worker, sizeof detail::tls_worker) || in(p, &tls_recorder, sizeof tls_recorder) ||
         in(p, &tls_busy, sizeof tls_busy) ||
         in(p, &host::last_error, sizeof host::last_error) || in(p, &host::last_message, sizeof host::last_message);
}

PORTKERN_EMU_NOTRACE inline void record(const void* p, std::size_t size, Kind kind, const void* pc) {
  detail::Worker* w = detail::tls_worker;
  if (!w || !w->current || !w->launch) return;
  // Only code running as a GPU thread, i.e. on a fiber's stack, is traced.
  const char* sp = static_cast<const char*>(__builtin_frame_address(0));
  const detail::Fiber* f = w->current;
  if (!in(sp, f->stack_lo, f->stack_bytes)) return;
  if (tls_busy) return;  // an access made by the recorder's own (instrumented) library code
  tls_busy = true;
  Recorder& r = recorder();
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  Space space = kShared;
  bool known = false;
  for (const auto& b : state().buffers)
    if (a >= b.first && a < b.second) {
      space = kGlobal;
      known = true;
      break;
    }
  if (!known) {
    known = (w->dyn_shared && in(p, w->dyn_shared, w->launch->shared_bytes)) ||
            (r.tls_lo && in(p, r.tls_lo, std::size_t(r.tls_hi - r.tls_lo)) && !runtime_tls(p));
  }
  if (!known) {
    r.counts[kOtherAccesses] += 1;
    tls_busy = false;
    return;
  }
  if (r.have_block && (r.launch != w->launch || r.block.x != w->block_idx.x || r.block.y != w->block_idx.y ||
                       r.block.z != w->block_idx.z))
    flush(r);
  if (!r.have_block) {
    r.have_block = true;
    r.launch = w->launch;
    r.block = w->block_idx;
  }
  const unsigned tid = w->tid, warp = tid / kWave, lane = tid % kWave;
  const auto site = reinterpret_cast<std::uintptr_t>(pc);
  const unsigned occurrence = r.occurrences[SiteLane{site, tid}]++;
  auto it = r.index.find(SiteWarp{site, warp, occurrence});
  if (it == r.index.end()) {
    it = r.index.emplace(SiteWarp{site, warp, occurrence}, unsigned(r.groups.size())).first;
    r.groups.emplace_back();
    Group& g = r.groups.back();
    g.kind = kind;
    g.space = space;
    g.warp_lanes = std::uint16_t(w->warps[warp].lanes);
  }
  Group& g = r.groups[it->second];
  g.addr[lane] = a;
  g.size[lane] = std::uint32_t(std::min<std::size_t>(size, 0xffffffffu));
  g.mask |= 1ull << lane;
  tls_busy = false;
}

}  // namespace trace
}  // namespace portkern_emu

// ------------------------------------------------------------------ the host side's entry points

PORTKERN_EMU_TRACE_API int portkern_emu_trace_counts() { return ::portkern_emu::trace::kTraceCounts; }

PORTKERN_EMU_TRACE_API void portkern_emu_trace_configure(unsigned sector, unsigned line, unsigned banks,
                                                         unsigned bank_bytes, unsigned bank_lanes) {
  auto& g = ::portkern_emu::trace::state().geometry;
  g.sector = sector ? sector : 32;
  g.line = line ? line : 128;
  g.banks = banks ? banks : 32;
  g.bank_bytes = bank_bytes ? bank_bytes : 4;
  g.bank_lanes = bank_lanes ? bank_lanes : 32;
}

// `ranges` holds n pairs (address, bytes): the launch's global-memory buffers.
PORTKERN_EMU_TRACE_API void portkern_emu_trace_buffers(const unsigned long long* ranges, int n) {
  auto& b = ::portkern_emu::trace::state().buffers;
  b.clear();
  for (int i = 0; i < n; ++i) b.emplace_back(std::uintptr_t(ranges[2 * i]), std::uintptr_t(ranges[2 * i] + ranges[2 * i + 1]));
}

// Analyse what every CPU thread still holds, add all counts into out[0..n), and reset them.
// Call only between launches. Returns the number of counts written.
PORTKERN_EMU_TRACE_API int portkern_emu_trace_collect(double* out, int n) {
  using namespace ::portkern_emu::trace;
  State& s = state();
  tls_busy = true;
  std::lock_guard<std::mutex> lock(s.mutex);
  const int m = std::min(n, int(kTraceCounts));
  for (int i = 0; i < m; ++i) out[i] = 0;
  for (Recorder* r : s.recorders) {
    flush(*r);
    for (int i = 0; i < m; ++i) out[i] = i == kMaxConflictDegree ? std::max(out[i], r->counts[i]) : out[i] + r->counts[i];
    for (double& c : r->counts) c = 0;
  }
  tls_busy = false;
  return m;
}

// Called by __syncthreads() and friends in a trace build (scheduler.h).
extern "C" PORTKERN_EMU_NOTRACE void portkern_emu_trace_barrier() {
  ::portkern_emu::detail::Worker* w = ::portkern_emu::detail::tls_worker;
  if (!w || !w->launch || ::portkern_emu::trace::tls_busy) return;
  ::portkern_emu::trace::tls_busy = true;
  ::portkern_emu::trace::recorder().counts[::portkern_emu::trace::kBarriers] += 1;
  ::portkern_emu::trace::tls_busy = false;
}

// ------------------------------------------------------------------ the instrumentation's callbacks

#define PORTKERN_EMU_TSAN_ACCESS(name, size, kind)                                                  \
  extern "C" __attribute__((visibility("default"))) PORTKERN_EMU_NOTRACE void name(void* p) {       \
    ::portkern_emu::trace::record(p, size, ::portkern_emu::trace::kind, __builtin_return_address(0)); \
  }
#define PORTKERN_EMU_TSAN_SIZES(prefix, kind)        \
  PORTKERN_EMU_TSAN_ACCESS(prefix##1, 1, kind)       \
  PORTKERN_EMU_TSAN_ACCESS(prefix##2, 2, kind)       \
  PORTKERN_EMU_TSAN_ACCESS(prefix##4, 4, kind)       \
  PORTKERN_EMU_TSAN_ACCESS(prefix##8, 8, kind)       \
  PORTKERN_EMU_TSAN_ACCESS(prefix##16, 16, kind)
PORTKERN_EMU_TSAN_SIZES(__tsan_read, kLoad)
PORTKERN_EMU_TSAN_SIZES(__tsan_write, kStore)
PORTKERN_EMU_TSAN_SIZES(__tsan_unaligned_read, kLoad)
PORTKERN_EMU_TSAN_SIZES(__tsan_unaligned_write, kStore)
PORTKERN_EMU_TSAN_SIZES(__tsan_volatile_read, kLoad)
PORTKERN_EMU_TSAN_SIZES(__tsan_volatile_write, kStore)
PORTKERN_EMU_TSAN_SIZES(__tsan_unaligned_volatile_read, kLoad)
PORTKERN_EMU_TSAN_SIZES(__tsan_unaligned_volatile_write, kStore)
#undef PORTKERN_EMU_TSAN_SIZES
#undef PORTKERN_EMU_TSAN_ACCESS

#define PORTKERN_EMU_TSAN_EXPORT extern "C" __attribute__((visibility("default"))) PORTKERN_EMU_NOTRACE
PORTKERN_EMU_TSAN_EXPORT void __tsan_init() {}
PORTKERN_EMU_TSAN_EXPORT void __tsan_func_entry(void*) {}
PORTKERN_EMU_TSAN_EXPORT void __tsan_func_exit(void*) {}  // clang passes nothing; g++ declares a pointer
PORTKERN_EMU_TSAN_EXPORT void __tsan_vptr_read(void*) {}
PORTKERN_EMU_TSAN_EXPORT void __tsan_vptr_update(void*, void*) {}
PORTKERN_EMU_TSAN_EXPORT void __tsan_read_range(void* p, std::size_t n) {
  ::portkern_emu::trace::record(p, n, ::portkern_emu::trace::kLoad, __builtin_return_address(0));
}
PORTKERN_EMU_TSAN_EXPORT void __tsan_write_range(void* p, std::size_t n) {
  ::portkern_emu::trace::record(p, n, ::portkern_emu::trace::kStore, __builtin_return_address(0));
}
PORTKERN_EMU_TSAN_EXPORT void* __tsan_memcpy(void* d, const void* s, unsigned long n) {
  ::portkern_emu::trace::record(s, n, ::portkern_emu::trace::kLoad, __builtin_return_address(0));
  ::portkern_emu::trace::record(d, n, ::portkern_emu::trace::kStore, __builtin_return_address(0));
  return std::memcpy(d, s, n);
}
PORTKERN_EMU_TSAN_EXPORT void* __tsan_memmove(void* d, const void* s, unsigned long n) {
  ::portkern_emu::trace::record(s, n, ::portkern_emu::trace::kLoad, __builtin_return_address(0));
  ::portkern_emu::trace::record(d, n, ::portkern_emu::trace::kStore, __builtin_return_address(0));
  return std::memmove(d, s, n);
}
PORTKERN_EMU_TSAN_EXPORT void* __tsan_memset(void* d, int c, unsigned long n) {
  ::portkern_emu::trace::record(d, n, ::portkern_emu::trace::kStore, __builtin_return_address(0));
  return std::memset(d, c, n);
}
PORTKERN_EMU_TSAN_EXPORT void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
PORTKERN_EMU_TSAN_EXPORT void __tsan_atomic_signal_fence(int) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

// Atomics: the operation itself (always sequentially consistent), after recording it. An atomic
// load counts as a load; every read-modify-write, exchange and store as an atomic. The pointer
// parameters are untyped because g++ declares these functions as built-ins that way.
#define PORTKERN_EMU_TSAN_RECORD(kind, T) \
  ::portkern_emu::trace::record(const_cast<const void*>(p), sizeof(T), ::portkern_emu::trace::kind, \
                                __builtin_return_address(0))
#define PORTKERN_EMU_TSAN_RMW(bits, T, op, builtin)                              \
  PORTKERN_EMU_TSAN_EXPORT T __tsan_atomic##bits##_##op(volatile void* p, T v, int) { \
    PORTKERN_EMU_TSAN_RECORD(kAtomic, T);                                           \
    return builtin(static_cast<volatile T*>(p), v, __ATOMIC_SEQ_CST);            \
  }
#define PORTKERN_EMU_TSAN_ATOMICS(bits, T)                                                          \
  PORTKERN_EMU_TSAN_EXPORT T __tsan_atomic##bits##_load(const volatile void* p, int) {             \
    PORTKERN_EMU_TSAN_RECORD(kLoad, T);                                                                \
    return __atomic_load_n(static_cast<const volatile T*>(p), __ATOMIC_SEQ_CST);                    \
  }                                                                                                 \
  PORTKERN_EMU_TSAN_EXPORT void __tsan_atomic##bits##_store(volatile void* p, T v, int) {          \
    PORTKERN_EMU_TSAN_RECORD(kAtomic, T);                                                              \
    __atomic_store_n(static_cast<volatile T*>(p), v, __ATOMIC_SEQ_CST);                             \
  }                                                                                                 \
  PORTKERN_EMU_TSAN_RMW(bits, T, exchange, __atomic_exchange_n)                                     \
  PORTKERN_EMU_TSAN_RMW(bits, T, fetch_add, __atomic_fetch_add)                                     \
  PORTKERN_EMU_TSAN_RMW(bits, T, fetch_sub, __atomic_fetch_sub)                                     \
  PORTKERN_EMU_TSAN_RMW(bits, T, fetch_and, __atomic_fetch_and)                                     \
  PORTKERN_EMU_TSAN_RMW(bits, T, fetch_or, __atomic_fetch_or)                                       \
  PORTKERN_EMU_TSAN_RMW(bits, T, fetch_xor, __atomic_fetch_xor)                                     \
  PORTKERN_EMU_TSAN_RMW(bits, T, fetch_nand, __atomic_fetch_nand)                                   \
  PORTKERN_EMU_TSAN_EXPORT bool __tsan_atomic##bits##_compare_exchange_strong(volatile void* p, void* c, T v, int, \
                                                                              int) {                \
    PORTKERN_EMU_TSAN_RECORD(kAtomic, T);                                                              \
    return __atomic_compare_exchange_n(static_cast<volatile T*>(p), static_cast<T*>(c), v, false,   \
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                         \
  }                                                                                                 \
  PORTKERN_EMU_TSAN_EXPORT bool __tsan_atomic##bits##_compare_exchange_weak(volatile void* p, void* c, T v, int, \
                                                                            int) {                  \
    PORTKERN_EMU_TSAN_RECORD(kAtomic, T);                                                              \
    return __atomic_compare_exchange_n(static_cast<volatile T*>(p), static_cast<T*>(c), v, false,   \
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                         \
  }                                                                                                 \
  PORTKERN_EMU_TSAN_EXPORT T __tsan_atomic##bits##_compare_exchange_val(volatile void* p, T c, T v, int, int) { \
    PORTKERN_EMU_TSAN_RECORD(kAtomic, T);                                                              \
    __atomic_compare_exchange_n(static_cast<volatile T*>(p), &c, v, false, __ATOMIC_SEQ_CST,        \
                                __ATOMIC_SEQ_CST);                                                  \
    return c;                                                                                       \
  }
PORTKERN_EMU_TSAN_ATOMICS(8, std::uint8_t)
PORTKERN_EMU_TSAN_ATOMICS(16, std::uint16_t)
PORTKERN_EMU_TSAN_ATOMICS(32, std::uint32_t)
PORTKERN_EMU_TSAN_ATOMICS(64, std::uint64_t)
#undef PORTKERN_EMU_TSAN_ATOMICS
#undef PORTKERN_EMU_TSAN_RMW
#undef PORTKERN_EMU_TSAN_RECORD
#undef PORTKERN_EMU_TSAN_EXPORT
