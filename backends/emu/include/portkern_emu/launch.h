// Launching: a persistent pool of CPU worker threads takes blocks from a shared counter; each
// block runs on one worker (scheduler.h). Launches are synchronous.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "scheduler.h"

namespace portkern_emu {
namespace detail {

struct LaunchState {
  const LaunchDesc* desc = nullptr;
  unsigned long long nblocks = 0;
  std::atomic<unsigned long long> next_block{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::string error;
};

inline void prepare_worker(Worker& w, const LaunchDesc& d) {
  w.launch = &d;
  const char* mode = std::getenv("PORTKERN_EMU_SCHEDULE");
  w.schedule_mode = !mode ? 0 : std::strcmp(mode, "reverse") == 0 ? 1 : std::strcmp(mode, "shuffle") == 0 ? 2 : 0;
  const char* seed = std::getenv("PORTKERN_EMU_SCHEDULE_SEED");
  w.schedule_seed = seed ? std::strtoull(seed, nullptr, 10) : 0;
  w.block_dim = d.block;
  w.grid_dim = d.grid;
  w.nthreads = d.block.x * d.block.y * d.block.z;
  w.error = false;
  w.error_message.clear();
  w.state.assign(w.nthreads, kUnstarted);
  w.fiber_of.assign(w.nthreads, nullptr);
  w.thread_coords.resize(w.nthreads);
  for (unsigned t = 0; t < w.nthreads; ++t)
    w.thread_coords[t] = dim3(t % d.block.x, t / d.block.x % d.block.y, t / (d.block.x * d.block.y));
  const unsigned nwarps = (w.nthreads + kWave - 1) / kWave;
  if (w.warps.size() < nwarps) w.warps.resize(nwarps);
  w.warps.resize(nwarps);
  for (unsigned i = 0; i < nwarps; ++i) {
    w.warps[i].lanes = std::min<unsigned>(kWave, w.nthreads - i * kWave);
    std::memset(w.warps[i].value, 0, sizeof w.warps[i].value);
  }
  if (d.shared_bytes) {
    // Fresh each launch, filled with 0xff (NaN for floats) so reads of unwritten shared memory show.
    std::free(w.dyn_shared);
    w.dyn_shared = static_cast<char*>(std::malloc(d.shared_bytes));
    std::memset(w.dyn_shared, 0xff, d.shared_bytes);
  }
}

// Fibers kept per CPU thread between launches, so a block that suspends all its threads does not map
// and unmap a stack for each of them at every launch (for a 1,024-thread reduction launched many
// times that was nearly all of the run time). Each fiber is two memory mappings (guard + stack) and
// every emulator build loaded in a process has its own pool, so the kept fibers are bounded per build
// (kKeptFibersPerBuild, shared among the pool's threads) and released when the caller is done with
// the build (portkern_emu_release_fibers, called when a session closes): an uncapped free list
// exhausts the kernel's mapping limit (vm.max_map_count) after a few dozen large-block builds.
#ifndef PORTKERN_EMU_KEPT_FIBERS_PER_BUILD
#define PORTKERN_EMU_KEPT_FIBERS_PER_BUILD 4096
#endif
constexpr int kKeptFibersPerBuild = PORTKERN_EMU_KEPT_FIBERS_PER_BUILD;
constexpr int kMinKeptFibers = 64;

inline int kept_fibers_per_thread(unsigned threads) {
  const int share = kKeptFibersPerBuild / int(threads ? threads : 1);
  return std::max(kMinKeptFibers, std::min(1024, share));  // a block has at most 1,024 threads
}

inline void trim_fibers(Worker& w, int keep) {
  int kept = 0;
  Fiber** link = &w.free_fibers;
  while (*link) {
    if (kept < keep) {
      ++kept;
      link = &(*link)->next_free;
      continue;
    }
    Fiber* f = *link;
    *link = f->next_free;
    fiber_destroy(f);
  }
}

// Every Worker of this build (one per CPU thread that ran blocks), for releasing their fibers.
inline std::mutex& workers_mutex() {
  static std::mutex m;
  return m;
}
inline std::vector<Worker*>& all_workers() {
  static std::vector<Worker*> v;
  return v;
}

inline unsigned pool_threads();

inline void finish_worker(Worker& w) {
  std::free(w.dyn_shared);
  w.dyn_shared = nullptr;
  trim_fibers(w, kept_fibers_per_thread(pool_threads()));
}

inline void work_on(LaunchState& ls) {
  static thread_local Worker* mine = [] {  // fiber stacks are reused across launches
    Worker* w = new Worker();
    std::lock_guard<std::mutex> lock(workers_mutex());
    all_workers().push_back(w);
    return w;
  }();
  Worker& w = *mine;
  tls_worker = &w;
  prepare_worker(w, *ls.desc);
  const dim3 g = ls.desc->grid;
  for (;;) {
    if (ls.failed.load(std::memory_order_relaxed)) break;
    const unsigned long long b = ls.next_block.fetch_add(1);
    if (b >= ls.nblocks) break;
    const dim3 idx(unsigned(b % g.x), unsigned(b / g.x % g.y), unsigned(b / (unsigned long long)g.x / g.y));
    if (!run_block(w, idx)) {
      std::lock_guard<std::mutex> lock(ls.error_mutex);
      if (!ls.failed.exchange(true)) ls.error = w.error_message;
      break;
    }
  }
  finish_worker(w);
  tls_worker = nullptr;
}

class Pool {
 public:
  static Pool& instance() {
    static Pool pool;
    return pool;
  }
  static unsigned configured_threads() {
    const char* env = std::getenv("PORTKERN_EMU_THREADS");
    long n = env ? std::atol(env) : 0;
    if (n <= 0) n = long(std::thread::hardware_concurrency());
    return n <= 0 ? 1u : unsigned(n);
  }
  void run(LaunchState& ls) {
    std::lock_guard<std::mutex> launch_lock(launch_mutex_);
    const unsigned helpers = unsigned(std::min<unsigned long long>(configured_threads(), ls.nblocks)) - 1;
    {
      std::lock_guard<std::mutex> lock(m_);
      while (threads_.size() < helpers) threads_.emplace_back([this] { loop(); });
      job_ = &ls;
      wanted_ = helpers;
      active_ = helpers;
      ++generation_;
    }
    cv_.notify_all();
    work_on(ls);  // the calling thread works too
    std::unique_lock<std::mutex> lock(m_);
    done_cv_.wait(lock, [this] { return active_ == 0; });
    job_ = nullptr;
  }
  // Free the fibers every worker keeps; no launch runs meanwhile (the launch lock is held).
  void release_fibers() {
    std::lock_guard<std::mutex> launch_lock(launch_mutex_);
    std::lock_guard<std::mutex> lock(workers_mutex());
    for (Worker* w : all_workers()) trim_fibers(*w, 0);
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void loop() {
    unsigned long long seen = 0;
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || (generation_ != seen && wanted_ > 0); });
      if (stop_) return;
      seen = generation_;
      --wanted_;
      LaunchState* job = job_;
      lock.unlock();
      work_on(*job);
      lock.lock();
      if (--active_ == 0) done_cv_.notify_all();
    }
  }
  std::mutex launch_mutex_, m_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> threads_;
  LaunchState* job_ = nullptr;
  unsigned long long generation_ = 0;
  unsigned wanted_ = 0, active_ = 0;
  bool stop_ = false;
};

inline unsigned pool_threads() { return Pool::configured_threads(); }

template <class... P>
struct KernelCall {
  void (*fn)(P...);
  std::tuple<std::decay_t<P>...> args;
  static void invoke(const void* self) {
    const auto* k = static_cast<const KernelCall*>(self);
    std::apply(k->fn, k->args);
  }
};

// Returns "" on success, else the error.
template <class... P>
inline std::string launch(void (*fn)(P...), std::tuple<std::decay_t<P>...> args, const char* name, dim3 grid,
                          dim3 block, std::size_t shared_bytes) {
  const unsigned long long nblocks = (unsigned long long)grid.x * grid.y * grid.z;
  const unsigned long long nthreads = (unsigned long long)block.x * block.y * block.z;
  if (nblocks == 0 || nthreads == 0) return "";
  if (nthreads > 1024)
    return "kernel '" + std::string(name) + "' launched with " + std::to_string(nthreads) +
           " threads per block; GPUs allow at most 1024";
  KernelCall<P...> call{fn, std::move(args)};
  LaunchDesc desc;
  desc.thunk = &KernelCall<P...>::invoke;
  desc.closure = &call;
  desc.kernel = name;
  desc.grid = grid;
  desc.block = block;
  desc.shared_bytes = shared_bytes;
  LaunchState ls;
  ls.desc = &desc;
  ls.nblocks = nblocks;
  Pool::instance().run(ls);
  return ls.failed ? ls.error : std::string();
}

template <class... P, std::size_t... I>
inline std::tuple<std::decay_t<P>...> unpack_args(void** args, std::index_sequence<I...>) {
  return std::tuple<std::decay_t<P>...>(*static_cast<std::decay_t<P>*>(args[I])...);
}

// Entry used by the generated launch stubs: arguments arrive as an array of pointers to values.
template <class... P>
inline int launch_from_stub(void (*fn)(P...), const char* name, void** args, const unsigned* grid,
                            const unsigned* block, unsigned long long shared_bytes, char* err,
                            unsigned long long err_len) {
  auto tuple = unpack_args<P...>(args, std::index_sequence_for<P...>{});
  const std::string e = launch(fn, std::move(tuple), name, dim3(grid[0], grid[1], grid[2]),
                               dim3(block[0], block[1], block[2]), std::size_t(shared_bytes));
  if (e.empty()) return 0;
  if (err && err_len) {
    std::strncpy(err, e.c_str(), err_len - 1);
    err[err_len - 1] = 0;
  }
  return 1;
}

// One token per kernel parameter: kind letter (p pointer, f float, i signed, u unsigned, s other)
// and size in bytes, e.g. "p8,i4,f4". The Python side checks launch arguments against it.
template <class T>
inline std::string param_token() {
  using U = std::decay_t<T>;
  const char kind = std::is_pointer<U>::value      ? 'p'
                    : std::is_floating_point<U>::value ? 'f'
                    : std::is_integral<U>::value && std::is_signed<U>::value ? 'i'
                    : std::is_integral<U>::value ? 'u'
                                                 : 's';
  return std::string(1, kind) + std::to_string(sizeof(U));
}
template <class... P>
inline const char* signature_of(void (*)(P...)) {
  static const std::string sig = [] {
    std::string s;
    ((s += (s.empty() ? "" : ",") + param_token<P>()), ...);
    return s;
  }();
  return sig.c_str();
}

}  // namespace detail
}  // namespace portkern_emu
