// Block execution: the threads of one block run as cooperative fibers on one CPU worker thread.
//
// A fiber runs threads one after another, in thread order, for as long as none of them reaches a
// barrier or a warp operation; so a kernel without those runs as a plain loop (two context switches
// per block). When a thread blocks, its fiber keeps it, and the scheduler starts a new fiber for the
// next thread. Barriers release when every thread of the block has arrived; warp operations
// complete when every lane of the warp is blocked (at that operation, at a barrier, or exited).
// Lanes blocked at different warp operations complete in groups, one source site at a time, as a
// diverged warp would execute one branch after the other.
//
// PORTKERN_EMU_SCHEDULE=reverse|shuffle (read at each launch) starts the warps of a block in reverse
// or in a seeded random order (PORTKERN_EMU_SCHEDULE_SEED), lanes of a warp still in order: a race
// between threads of different warps that the in-order schedule hides then shows.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "config.h"
#include "fiber.h"
#include "types.h"

namespace portkern_emu {

constexpr int kWave = PORTKERN_EMU_WAVE;
using lanemask_t = std::conditional_t<kWave == 64, unsigned long long, unsigned int>;

namespace detail {

enum ThreadState : std::uint8_t { kUnstarted, kRunning, kReady, kAtBarrier, kAtWarp, kDone };

enum WarpOp : std::uint8_t {
  kShflIdx, kShflUp, kShflDown, kShflXor, kBallot, kAny, kAll, kSyncWarp, kMatchAny, kMatchAll,
  kReduceAdd, kReduceMin, kReduceMax, kReduceAnd, kReduceOr, kReduceXor, kReduceMinU, kReduceMaxU,
  kReduceAddU
};

struct WarpState {
  unsigned lanes = 0;      // lanes that exist in this warp (the last warp of a block may be partial)
  unsigned n_warp = 0;     // lanes blocked at a warp operation
  unsigned n_barrier = 0;  // lanes blocked at the block barrier
  unsigned n_done = 0;     // lanes that have exited
  std::uint8_t op[kWave];
  int site[kWave];
  int arg[kWave];
  int width[kWave];
  unsigned long long mask[kWave];
  std::uint64_t value[kWave][2];   // each lane's contribution (kept: an inactive source reads it stale)
  std::uint64_t result[kWave][2];  // each lane's answer, read when it resumes
};

struct LaunchDesc {
  void (*thunk)(const void*) = nullptr;
  const void* closure = nullptr;
  const char* kernel = "";
  dim3 grid, block;
  std::size_t shared_bytes = 0;
};

struct Worker {
  // launch
  const LaunchDesc* launch = nullptr;
  char* dyn_shared = nullptr;
  std::size_t dyn_shared_bytes = 0;
  // block
  dim3 block_idx, block_dim, grid_dim;
  unsigned nthreads = 0;
  unsigned next_unstarted = 0;
  unsigned n_done = 0, n_barrier = 0, n_ready = 0;
  int barrier_count = 0, barrier_result = 0;
  bool any_sync = false;
  bool error = false;
  std::string error_message;
  std::vector<std::uint8_t> state;
  std::vector<Fiber*> fiber_of;
  std::vector<dim3> thread_coords;  // threadIdx of each linear thread id (divisions done once)
  std::vector<WarpState> warps;
  // start order of the threads (empty: thread order); see PORTKERN_EMU_SCHEDULE
  int schedule_mode = 0;               // 0 in order, 1 warps reversed, 2 warps shuffled
  unsigned long long schedule_seed = 0;
  std::vector<unsigned> order;
  // current thread
  dim3 thread_idx;
  unsigned tid = 0;
  Fiber* current = nullptr;
  // scheduler context
  void* sched_sp = nullptr;
  Fiber* free_fibers = nullptr;
#ifdef PORTKERN_EMU_USE_UCONTEXT
  ucontext_t sched_uc;
#endif
#ifdef PORTKERN_EMU_ASAN
  void* sched_fake_stack = nullptr;
  const void* sched_bottom = nullptr;
  std::size_t sched_size = 0;
#endif
  ~Worker() {
    while (free_fibers) {
      Fiber* f = free_fibers;
      free_fibers = f->next_free;
      fiber_destroy(f);
    }
  }
};

inline thread_local Worker* tls_worker = nullptr;

inline Worker& worker() { return *tls_worker; }
inline char* dynamic_shared() { return tls_worker->dyn_shared; }

inline void set_current_thread(Worker& w, unsigned t) {
  w.tid = t;
  w.thread_idx = w.thread_coords[t];
}

inline void fail(Worker& w, const std::string& message) {
  if (!w.error) {
    w.error = true;
    w.error_message = message;
  }
}

inline std::string block_name(const Worker& w) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "block (%u,%u,%u)", w.block_idx.x, w.block_idx.y, w.block_idx.z);
  return buf;
}

// ---------------------------------------------------------------- switching

#ifndef PORTKERN_EMU_USE_UCONTEXT
inline void switch_to_fiber(Worker& w, Fiber* f) {
#ifdef PORTKERN_EMU_ASAN
  __sanitizer_start_switch_fiber(&w.sched_fake_stack, f->stack_lo, f->stack_bytes);
#endif
  fiber_switch(&w.sched_sp, f->sp);
#ifdef PORTKERN_EMU_ASAN
  __sanitizer_finish_switch_fiber(w.sched_fake_stack, nullptr, nullptr);
#endif
}

inline void switch_to_scheduler(Worker& w, Fiber* f, bool final_switch) {
#ifdef PORTKERN_EMU_ASAN
  __sanitizer_start_switch_fiber(final_switch ? nullptr : &f->fake_stack, w.sched_bottom, w.sched_size);
#else
  (void)final_switch;
#endif
  fiber_switch(&f->sp, w.sched_sp);
#ifdef PORTKERN_EMU_ASAN
  __sanitizer_finish_switch_fiber(f->fake_stack, &w.sched_bottom, &w.sched_size);
#endif
}
#else
inline void switch_to_fiber(Worker& w, Fiber* f) { swapcontext(&w.sched_uc, &f->uc); }
inline void switch_to_scheduler(Worker& w, Fiber* f, bool) { swapcontext(&f->uc, &w.sched_uc); }
#endif

// Suspend the current thread until the scheduler resumes it.
inline void block_current(Worker& w) {
  Fiber* f = w.current;
  switch_to_scheduler(w, f, false);
}

// ---------------------------------------------------------------- thread exit

inline void check_barrier_divergence(Worker& w) {
  if (w.n_barrier && w.n_barrier + w.n_done == w.nthreads && w.n_done) {
    fail(w, "barrier divergence in kernel '" + std::string(w.launch->kernel) + "' " + block_name(w) + ": " +
                std::to_string(w.n_barrier) + " of " + std::to_string(w.nthreads) +
                " threads wait at __syncthreads() while " + std::to_string(w.n_done) +
                " exited without reaching it");
  }
}

bool complete_warp_if_blocked(Worker& w, WarpState& ws);

inline void thread_finished(Worker& w, unsigned t) {
  w.state[t] = kDone;
  ++w.n_done;
  WarpState& ws = w.warps[t / kWave];
  ++ws.n_done;
  if (w.any_sync) {
    if (ws.n_warp) complete_warp_if_blocked(w, ws);
    check_barrier_divergence(w);
  }
}

// ---------------------------------------------------------------- fibers and the block loop

inline void fiber_main(Fiber* f) {
  Worker& w = *tls_worker;
#ifdef PORTKERN_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &w.sched_bottom, &w.sched_size);
#endif
  while (w.next_unstarted < w.nthreads && !w.error) {
    const unsigned t = w.order.empty() ? w.next_unstarted++ : w.order[w.next_unstarted++];
    w.fiber_of[t] = f;
    w.state[t] = kRunning;
    set_current_thread(w, t);
    try {
      w.launch->thunk(w.launch->closure);
    } catch (...) {
      fail(w, "kernel '" + std::string(w.launch->kernel) + "' threw a C++ exception in " + block_name(w));
    }
    // The thread may have moved between fibers' views of `current`; this fiber ran it to the end.
    thread_finished(w, t);
    w.current = f;
  }
  f->finished = true;
  switch_to_scheduler(w, f, true);
  __builtin_unreachable();
}

#ifdef PORTKERN_EMU_USE_UCONTEXT
inline void fiber_main_uc(int hi, int lo) {
  auto p = (static_cast<std::uintptr_t>(static_cast<unsigned>(hi)) << 32) | static_cast<unsigned>(lo);
  fiber_main(reinterpret_cast<Fiber*>(p));
}
inline void fiber_prepare(Fiber* f, FiberEntry) {
  getcontext(&f->uc);
  f->uc.uc_stack.ss_sp = f->stack_lo;
  f->uc.uc_stack.ss_size = f->stack_bytes;
  f->uc.uc_link = nullptr;
  auto p = reinterpret_cast<std::uintptr_t>(f);
  makecontext(&f->uc, reinterpret_cast<void (*)()>(&fiber_main_uc), 2, int(p >> 32), int(p & 0xffffffffu));
  f->finished = false;
}
#endif

inline Fiber* take_fiber(Worker& w) {
  Fiber* f = w.free_fibers;
  if (f) {
    w.free_fibers = f->next_free;
  } else {
    f = fiber_create();
  }
  return f;
}

inline void give_fiber(Worker& w, Fiber* f) {
#ifdef PORTKERN_EMU_ASAN
  // A fiber abandoned mid-function leaves poisoned redzones on its stack.
  __asan_unpoison_memory_region(f->stack_lo, f->stack_bytes);
  f->fake_stack = nullptr;
#endif
  f->next_free = w.free_fibers;
  w.free_fibers = f;
}

inline void run_fiber(Worker& w, Fiber* f) {
  w.current = f;
  switch_to_fiber(w, f);
  if (f->finished) give_fiber(w, f);
}

// Run one block to completion (or to an error). Returns false on error (message in w.error_message).
inline bool run_block(Worker& w, dim3 block_idx) {
  w.block_idx = block_idx;
  w.next_unstarted = 0;
  w.n_done = w.n_barrier = w.n_ready = 0;
  w.barrier_count = 0;
  w.any_sync = false;
  std::memset(w.state.data(), kUnstarted, w.nthreads);
  for (auto& ws : w.warps) ws.n_warp = ws.n_barrier = ws.n_done = 0;
  w.order.clear();
  if (w.schedule_mode && w.warps.size() > 1) {
    const unsigned nwarps = unsigned(w.warps.size());
    std::vector<unsigned> warp_order(nwarps);
    for (unsigned i = 0; i < nwarps; ++i) warp_order[i] = nwarps - 1 - i;
    if (w.schedule_mode == 2) {
      // splitmix64 of (seed, block): a different order per block, the same for the same seed.
      unsigned long long x = w.schedule_seed ^ (0x9E3779B97F4A7C15ull *
          (1ull + block_idx.x + 65536ull * (block_idx.y + 65536ull * block_idx.z)));
      for (unsigned i = nwarps - 1; i > 0; --i) {
        x += 0x9E3779B97F4A7C15ull;
        unsigned long long z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        const unsigned j = unsigned(z % (i + 1));
        const unsigned tmp = warp_order[i];
        warp_order[i] = warp_order[j];
        warp_order[j] = tmp;
      }
    }
    w.order.reserve(w.nthreads);
    for (unsigned wi : warp_order)
      for (unsigned l = 0; l < w.warps[wi].lanes; ++l) w.order.push_back(wi * kWave + l);
  }

  while (w.n_done < w.nthreads && !w.error) {
    bool progressed = false;
    if (w.n_ready) {
      for (unsigned t = 0; t < w.nthreads && !w.error; ++t) {
        if (w.state[t] != kReady) continue;
        --w.n_ready;
        w.state[t] = kRunning;
        set_current_thread(w, t);
        run_fiber(w, w.fiber_of[t]);
        progressed = true;
      }
    }
    if (!w.error && w.next_unstarted < w.nthreads) {
      Fiber* f = take_fiber(w);
      if (!f) {
        fail(w, "cannot allocate a fiber stack for kernel '" + std::string(w.launch->kernel) +
                    "' (set PORTKERN_EMU_STACK_KB lower)");
        break;
      }
      fiber_prepare(f, &fiber_main);
      run_fiber(w, f);
      progressed = true;
    }
    if (!progressed && !w.error) {
      fail(w, "internal scheduler stall in kernel '" + std::string(w.launch->kernel) + "' " + block_name(w));
    }
  }
  if (w.error) {
    // Reclaim the stacks of threads left suspended; they are never resumed.
    for (unsigned t = 0; t < w.nthreads; ++t) {
      Fiber* f = w.fiber_of[t];
      if (!f || w.state[t] == kDone || w.state[t] == kUnstarted) continue;
      for (unsigned u = t; u < w.nthreads; ++u)
        if (w.fiber_of[u] == f) w.fiber_of[u] = nullptr;
      give_fiber(w, f);
    }
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- barrier

enum BarrierKind { kBarrierPlain, kBarrierCount, kBarrierAnd, kBarrierOr };

inline int barrier_result(const Worker& w, int kind) {
  switch (kind) {
    case kBarrierCount: return w.barrier_result;
    case kBarrierAnd: return w.barrier_result == int(w.nthreads);
    case kBarrierOr: return w.barrier_result != 0;
    default: return 0;
  }
}

#ifdef PORTKERN_EMU_TRACE
}  // namespace detail
}  // namespace portkern_emu
extern "C" void portkern_emu_trace_barrier();  // trace.h
namespace portkern_emu {
namespace detail {
#endif

inline int block_barrier(int kind, int predicate) {
#ifdef PORTKERN_EMU_TRACE
  portkern_emu_trace_barrier();
#endif
  Worker& w = *tls_worker;
  w.any_sync = true;
  const unsigned t = w.tid;
  if (predicate) ++w.barrier_count;
  w.state[t] = kAtBarrier;
  ++w.n_barrier;
  WarpState& ws = w.warps[t / kWave];
  ++ws.n_barrier;
  if (w.n_barrier == w.nthreads) {
    // Last arrival releases everyone and carries on without a switch.
    w.barrier_result = w.barrier_count;
    w.barrier_count = 0;
    for (unsigned u = 0; u < w.nthreads; ++u) w.state[u] = kReady;
    w.state[t] = kRunning;
    w.n_ready = w.nthreads - 1;
    w.n_barrier = 0;
    for (auto& x : w.warps) x.n_barrier = 0;
    return barrier_result(w, kind);
  }
  if (ws.n_warp) complete_warp_if_blocked(w, ws);
  check_barrier_divergence(w);
  block_current(w);
  return barrier_result(w, kind);
}

// ---------------------------------------------------------------- warp operations

inline int segment_source(int op, unsigned lane, int arg, int width) {
  const int self = int(lane);
  const int base = self & ~(width - 1);
  switch (op) {
    case kShflIdx: return base + (arg & (width - 1));
    case kShflUp: return (self - base) >= arg ? self - arg : self;
    case kShflDown: return (self - base) + arg < width ? self + arg : self;
    case kShflXor: {
      const int src = self ^ arg;
      return (src >= base + width || src < 0) ? self : src;
    }
    default: return self;
  }
}

inline void complete_group(WarpState& ws, unsigned first, std::uint64_t group) {
  (void)first;
  lanemask_t pred_bits = 0;
  for (unsigned l = 0; l < ws.lanes; ++l)
    if ((group >> l) & 1u)
      if (ws.value[l][0]) pred_bits |= lanemask_t(1) << l;
  const std::uint8_t op = ws.op[first];
  for (unsigned l = 0; l < ws.lanes; ++l) {
    if (!((group >> l) & 1u)) continue;
    std::uint64_t* out = ws.result[l];
    const lanemask_t mask = lanemask_t(ws.mask[l]);
    switch (op) {
      case kShflIdx:
      case kShflUp:
      case kShflDown:
      case kShflXor: {
        int width = ws.width[l];
        if (width <= 0 || width > kWave) width = kWave;
        int src = segment_source(op, l, ws.arg[l], width);
        if (src < 0 || src >= kWave) src = int(l);
        out[0] = ws.value[src][0];
        out[1] = ws.value[src][1];
        break;
      }
      case kBallot: out[0] = pred_bits & mask; break;
      case kAny: out[0] = (pred_bits & mask) != 0; break;
      case kAll: {
        const lanemask_t members = lanemask_t(group) & mask;
        out[0] = (pred_bits & members) == members;
        break;
      }
      case kSyncWarp: break;
      case kMatchAny:
      case kMatchAll: {
        lanemask_t same = 0;
        for (unsigned m = 0; m < ws.lanes; ++m)
          if (((group >> m) & 1u) && ((mask >> m) & 1u) && ws.value[m][0] == ws.value[l][0] &&
              ws.value[m][1] == ws.value[l][1])
            same |= lanemask_t(1) << m;
        if (op == kMatchAny) {
          out[0] = same;
        } else {
          const lanemask_t members = lanemask_t(group) & mask;
          out[0] = same == members ? members : 0;
          out[1] = same == members;
        }
        break;
      }
      default: {  // __reduce_*_sync over the lanes in the group and the mask
        std::uint64_t acc = 0;
        bool first_term = true;
        for (unsigned m = 0; m < ws.lanes; ++m) {
          if (!((group >> m) & 1u) || !((mask >> m) & 1u)) continue;
          const std::uint32_t u = std::uint32_t(ws.value[m][0]);
          const std::int32_t s = std::int32_t(u);
          if (first_term) {
            acc = u;
            first_term = false;
            continue;
          }
          switch (op) {
            case kReduceAdd:
            case kReduceAddU: acc = std::uint32_t(acc) + u; break;
            case kReduceMin: acc = std::uint32_t(std::min(std::int32_t(acc), s)); break;
            case kReduceMax: acc = std::uint32_t(std::max(std::int32_t(acc), s)); break;
            case kReduceMinU: acc = std::min(std::uint32_t(acc), u); break;
            case kReduceMaxU: acc = std::max(std::uint32_t(acc), u); break;
            case kReduceAnd: acc &= u; break;
            case kReduceOr: acc |= u; break;
            case kReduceXor: acc ^= u; break;
          }
        }
        out[0] = acc;
      }
    }
  }
}

// If every lane of the warp is blocked or exited, complete the group of lanes waiting at the
// lowest lane's operation. Returns true when a group completed.
inline bool complete_warp_if_blocked(Worker& w, WarpState& ws) {
  if (!ws.n_warp || ws.n_warp + ws.n_barrier + ws.n_done != ws.lanes) return false;
  const unsigned warp_base = unsigned(&ws - w.warps.data()) * kWave;
  unsigned first = kWave;
  for (unsigned l = 0; l < ws.lanes; ++l)
    if (w.state[warp_base + l] == kAtWarp) {
      first = l;
      break;
    }
  if (first == kWave) return false;
  std::uint64_t group = 0;
  for (unsigned l = first; l < ws.lanes; ++l)
    if (w.state[warp_base + l] == kAtWarp && ws.op[l] == ws.op[first] && ws.site[l] == ws.site[first])
      group |= std::uint64_t(1) << l;
  complete_group(ws, first, group);
  for (unsigned l = first; l < ws.lanes; ++l) {
    if (!((group >> l) & 1u)) continue;
    const unsigned t = warp_base + l;
    --ws.n_warp;
    if (t == w.tid && w.state[t] == kAtWarp) {
      w.state[t] = kRunning;  // the caller carries on without a switch
    } else {
      w.state[t] = kReady;
      ++w.n_ready;
    }
  }
  return true;
}

// Contribute `in` (16 bytes) to warp operation `op` and wait for the warp; returns this lane's result.
inline const std::uint64_t* warp_rendezvous(std::uint8_t op, int site, int arg, int width,
                                            unsigned long long mask, std::uint64_t in0, std::uint64_t in1) {
  Worker& w = *tls_worker;
  w.any_sync = true;
  const unsigned t = w.tid;
  const unsigned lane = t % kWave;
  WarpState& ws = w.warps[t / kWave];
  ws.op[lane] = op;
  ws.site[lane] = site;
  ws.arg[lane] = arg;
  ws.width[lane] = width;
  ws.mask[lane] = mask;
  ws.value[lane][0] = in0;
  ws.value[lane][1] = in1;
  w.state[t] = kAtWarp;
  ++ws.n_warp;
  complete_warp_if_blocked(w, ws);
  if (w.state[t] != kRunning) {
    check_barrier_divergence(w);
    block_current(w);
  }
  return ws.result[lane];
}

inline unsigned lane_id() { return tls_worker->tid % kWave; }

// Lanes of the current warp that have not exited.
inline lanemask_t active_lanes() {
  Worker& w = *tls_worker;
  const unsigned base = w.tid / kWave * kWave;
  const WarpState& ws = w.warps[w.tid / kWave];
  lanemask_t m = 0;
  for (unsigned l = 0; l < ws.lanes; ++l)
    if (w.state[base + l] != kDone) m |= lanemask_t(1) << l;
  return m;
}

}  // namespace detail
}  // namespace portkern_emu

// Thread and block coordinates, read from the current worker thread's running GPU thread.
#define threadIdx (static_cast<const dim3&>(::portkern_emu::detail::tls_worker->thread_idx))
#define blockIdx (static_cast<const dim3&>(::portkern_emu::detail::tls_worker->block_idx))
#define blockDim (static_cast<const dim3&>(::portkern_emu::detail::tls_worker->block_dim))
#define gridDim (static_cast<const dim3&>(::portkern_emu::detail::tls_worker->grid_dim))

#if PORTKERN_EMU_CONSTANT_WARPSIZE
// HIP through ROCm 6 declares `static constexpr int warpSize = __AMDGCN_WAVEFRONT_SIZE;`, and HIP
// libraries (rocBLAS among them) use it as a template argument and an array size. Builds for a
// HIP target get the same: the width is fixed per build, so it is a constant here too.
inline constexpr int warpSize = PORTKERN_EMU_WAVE;
#else
namespace portkern_emu {
namespace detail {
// Not constexpr on purpose: like CUDA's warpSize, it is a run-time value, so device code that
// uses it where a constant expression is needed fails to compile here as it does under nvcc.
__attribute__((noinline)) inline int wave_size_at_run_time() { return kWave; }
}  // namespace detail
}  // namespace portkern_emu
inline const int warpSize = ::portkern_emu::detail::wave_size_at_run_time();
#endif

inline void __syncthreads() { ::portkern_emu::detail::block_barrier(::portkern_emu::detail::kBarrierPlain, 0); }
inline int __syncthreads_count(int p) {
  return ::portkern_emu::detail::block_barrier(::portkern_emu::detail::kBarrierCount, p != 0);
}
inline int __syncthreads_and(int p) {
  return ::portkern_emu::detail::block_barrier(::portkern_emu::detail::kBarrierAnd, p != 0);
}
inline int __syncthreads_or(int p) {
  return ::portkern_emu::detail::block_barrier(::portkern_emu::detail::kBarrierOr, p != 0);
}
