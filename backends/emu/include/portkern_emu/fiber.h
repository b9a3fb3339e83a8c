// Fibers: one small mmap'd stack (with a guard page) per suspended GPU thread, and a hand-written
// context switch on x86-64 (ucontext elsewhere). swapcontext costs a signal-mask system call per
// switch, which would dominate kernels that synchronise often.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#ifdef PORTKERN_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(__x86_64__) || defined(PORTKERN_EMU_UCONTEXT)
#define PORTKERN_EMU_USE_UCONTEXT 1
#include <ucontext.h>
#endif

#ifndef PORTKERN_EMU_USE_UCONTEXT
// portkern_emu_switch_context(save_sp, new_sp): push the callee-saved registers, store the stack pointer in *save_sp, switch to new_sp, pop the same set and return there.
// A fresh fiber's stack is laid out so that the final `ret` enters the trampoline, which calls
// r13(r12). The FP control words (MXCSR, x87 CW) are not switched: device code never changes
// rounding modes, and restoring them costs more than the rest of the switch.
asm(R"(
  .text
  .weak portkern_emu_switch_context
  .hidden portkern_emu_switch_context
  .type portkern_emu_switch_context,@function
portkern_emu_switch_context:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size portkern_emu_switch_context, .-portkern_emu_switch_context

  .weak portkern_emu_fiber_trampoline
  .hidden portkern_emu_fiber_trampoline
  .type portkern_emu_fiber_trampoline,@function
portkern_emu_fiber_trampoline:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size portkern_emu_fiber_trampoline, .-portkern_emu_fiber_trampoline
)");
extern "C" __attribute__((visibility("hidden"))) void portkern_emu_switch_context(void** save_sp, void* new_sp);
extern "C" __attribute__((visibility("hidden"))) void portkern_emu_fiber_trampoline();
#endif

namespace portkern_emu {
namespace detail {

inline std::size_t fiber_stack_bytes() {
  static const std::size_t bytes = [] {
    const char* env = std::getenv("PORTKERN_EMU_STACK_KB");
    long kb = env ? std::atol(env) : 0;
#ifdef PORTKERN_EMU_ASAN
    if (kb <= 0) kb = 512;  // sanitizer frames carry redzones
#else
    if (kb <= 0) kb = 128;
#endif
    return static_cast<std::size_t>(kb) * 1024;
  }();
  return bytes;
}

struct Fiber {
  void* sp = nullptr;          // saved stack pointer while suspended
  char* mapping = nullptr;     // guard page + stack
  std::size_t mapping_bytes = 0;
  char* stack_lo = nullptr;
  std::size_t stack_bytes = 0;
  Fiber* next_free = nullptr;
  bool finished = false;
#ifdef PORTKERN_EMU_USE_UCONTEXT
  ucontext_t uc;
#endif
#ifdef PORTKERN_EMU_ASAN
  void* fake_stack = nullptr;
#endif
};

inline Fiber* fiber_create() {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t stack = (fiber_stack_bytes() + page - 1) / page * page;
  const std::size_t bytes = stack + page;
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  mprotect(mem, page, PROT_NONE);  // guard page: a stack overflow faults instead of corrupting
  Fiber* f = new Fiber();
  f->mapping = static_cast<char*>(mem);
  f->mapping_bytes = bytes;
  f->stack_lo = f->mapping + page;
  f->stack_bytes = stack;
  return f;
}

inline void fiber_destroy(Fiber* f) {
  munmap(f->mapping, f->mapping_bytes);
  delete f;
}

using FiberEntry = void (*)(Fiber*);

#ifndef PORTKERN_EMU_USE_UCONTEXT
inline void fiber_prepare(Fiber* f, FiberEntry entry) {
  auto top = reinterpret_cast<std::uintptr_t>(f->stack_lo + f->stack_bytes) & ~std::uintptr_t(15);
  auto* sp = reinterpret_cast<std::uintptr_t*>(top);
  *--sp = reinterpret_cast<std::uintptr_t>(&portkern_emu_fiber_trampoline);  // popped by `ret`
  *--sp = 0;                                        // rbp
  *--sp = 0;                                        // rbx
  *--sp = reinterpret_cast<std::uintptr_t>(f);      // r12: argument
  *--sp = reinterpret_cast<std::uintptr_t>(entry);  // r13: function
  *--sp = 0;                                        // r14
  *--sp = 0;                                        // r15
  f->sp = sp;
  f->finished = false;
}
inline void fiber_switch(void** save_sp, void* to_sp) { portkern_emu_switch_context(save_sp, to_sp); }
#endif

}  // namespace detail
}  // namespace portkern_emu
