// SPDX-License-Identifier: MIT
// A SIMT emulator for CudaDevice's own kernels (tests only): the subset of CUDA that device/cuda/
// uses — __global__ kernels launched through cuda_kernels::launch, threadIdx / blockIdx /
// blockDim / gridDim, __shared__ arrays, __syncthreads, full-warp __shfl_xor_sync and __shfl_sync, cudaMalloc /
// cudaFree / cudaGetLastError — compiled by a host compiler, so CI (no GPU) runs the fast kernels'
// indexing, bounds and reductions and compares them with their portable twins and the CPU device.
//
// Every CUDA thread of a block is a fiber on the launching host thread (on x86-64 Linux switched
// by a six-register stack swap; elsewhere by ucontext, whose swapcontext also makes a signal-mask
// system call per switch and is several times slower). The blocks of
// a launch run one after another; within a block the scheduler runs each fiber until it returns
// or reaches a barrier or a shuffle, then lets a warp's shuffle go ahead once all 32 of its lanes
// have arrived at one and the barrier once every thread has. What a GPU leaves undefined or hangs
// on is reported, with the block and threads, as a KernelFault thrown from the launch:
//   - a full-mask shuffle that a lane of the warp never reaches (it returned, or waits at a
//     barrier), lanes of one warp meeting at different shuffles (xor with different lane masks,
//     xor against an indexed __shfl_sync, different value sizes), a warp with
//     fewer than 32 threads shuffling, a partial mask (the kernels do not use one);
//   - a __syncthreads that some threads of the block return without reaching (CUDA's programming
//     guide: a barrier in conditional code must be reached by the whole block);
//   - a launch of 0 or more than 1024 threads per block, or a grid dimension out of range
//     (a GPU would fail it with cudaErrorInvalidConfiguration: the emulator reports it at once).
// Memory is host memory: kernels read and write the buffers the tests hand them directly.
//
// Not emulated: concurrency between blocks and memory ordering (blocks run in order, fibers
// switch only at barriers and shuffles — so a kernel that races in shared memory across a missing
// __syncthreads may still pass here; the GPU test is what catches that), timing, warp divergence
// outside shuffles, streams (every launch completes before launch() returns).
#pragma once

#if defined(__CUDACC__)
#error "tests/support/simt/simt.hpp stands in for nvcc; CUDA translation units use the real runtime"
#endif

#define PREFOPT_SIMT_EMULATOR 1

#if !(defined(__x86_64__) && defined(__linux__))
#include <ucontext.h>
#endif

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

// ---- CUDA's keywords: plain host code here ---------------------------------------------------
#ifndef __host__
#define __host__
#endif
#ifndef __device__
#define __device__
#endif
#ifndef __global__
#define __global__
#endif
#ifndef __forceinline__
#define __forceinline__ inline
#endif
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif
// The blocks of a launch run one at a time, so a function-local static is exactly one block's
// shared memory; launches are serialised process-wide (launch_mutex below), so concurrent host
// threads never share it.
#ifndef __shared__
#define __shared__ static
#endif

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

// The running fiber's coordinates: set by the scheduler before it resumes a fiber.
inline thread_local dim3 threadIdx{0, 0, 0};
inline thread_local dim3 blockIdx{0, 0, 0};
inline thread_local dim3 blockDim{1, 1, 1};
inline thread_local dim3 gridDim{1, 1, 1};

// ---- the CUDA runtime's error and memory calls ---------------------------------------------
enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2 };

inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
  }
  return "unknown error";
}

namespace prefopt_simt {

/// What a GPU would leave undefined, hang on or refuse, found in a launch (see the file comment).
struct KernelFault : std::logic_error {
  using std::logic_error::logic_error;
};

/// Launches so far in this process, for tests that check a kernel ran at all.
inline std::size_t& launch_count() {
  static std::size_t n = 0;
  return n;
}

namespace detail {

enum class FiberState { runnable, at_barrier, at_shuffle, returned };

#if defined(__x86_64__) && defined(__linux__)
// switch_stack(&save, load): pushes the System V callee-saved registers, stores the stack pointer
// in *save, loads `load` and pops the registers saved there. (The x87 and SSE control words are
// not swapped: no kernel changes them.) Weak, so every test translation unit may define it.
asm(R"(
  .text
  .weak prefopt_simt_switch_stack
  .type prefopt_simt_switch_stack, @function
prefopt_simt_switch_stack:
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
  .size prefopt_simt_switch_stack, .-prefopt_simt_switch_stack
)");
extern "C" void prefopt_simt_switch_stack(void** save, void* load);

struct Context {
  void* sp = nullptr;
};
inline void switch_context(Context& save, const Context& load) { prefopt_simt_switch_stack(&save.sp, load.sp); }
#else
struct Context {
  ucontext_t uc;
};
inline void switch_context(Context& save, const Context& load) { swapcontext(&save.uc, &load.uc); }
#endif

struct Fiber {
  Context context;
  dim3 thread_idx;
  FiberState state = FiberState::runnable;
  // The pending shuffle: this lane's value and argument, then the value it receives.
  unsigned char value[8];
  unsigned char result[8];
  std::size_t value_size = 0;
  int lane_arg = 0;      // __shfl_xor_sync's lane mask, or __shfl_sync's source lane
  bool indexed = false;  // __shfl_sync: the source lane may differ from lane to lane
  std::size_t shuffles = 0;  // shuffles completed: lanes of a warp must agree on it
};

struct Block {
  std::vector<Fiber> fibers;
  Context scheduler;
  Fiber* current = nullptr;
  const std::function<void()>* body = nullptr;
  std::string fault;  // set by a fiber (a thrown exception) or by the scheduler
};

inline thread_local Block* active_block = nullptr;

inline std::string coords(dim3 d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}

inline void yield_to_scheduler() {
  Block& b = *active_block;
  switch_context(b.current->context, b.scheduler);
}

inline Fiber& current_fiber() {
  if (active_block == nullptr || active_block->current == nullptr)
    throw KernelFault("a CUDA device function was called outside a kernel launch");
  return *active_block->current;
}

inline void fiber_entry() {
  Block& b = *active_block;
  try {
    (*b.body)();
  } catch (const std::exception& e) {
    if (b.fault.empty()) b.fault = std::string("thread threw: ") + e.what();
  } catch (...) {
    if (b.fault.empty()) b.fault = "thread threw a non-standard exception";
  }
  b.current->state = FiberState::returned;
}

/// A fiber's first frame: runs the kernel, then hands control back for good.
inline void fiber_main() {
  fiber_entry();
  yield_to_scheduler();  // never resumed: the scheduler resumes only runnable fibers
  std::abort();
}

/// Stacks for the fibers of one block, kept between launches (kernels here are shallow).
inline std::vector<std::unique_ptr<char[]>>& stacks() {
  static std::vector<std::unique_ptr<char[]>> s;
  return s;
}
constexpr std::size_t stack_bytes = 64 * 1024;

inline std::string fault_at(dim3 block, const Fiber& f, const std::string& what) {
  return "block " + coords(block) + ", thread " + coords(f.thread_idx) + ": " + what;
}

/// Resumes every runnable fiber until all have returned; "" or the first fault.
inline std::string run_block(Block& b, dim3 block_idx) {
  const std::size_t n = b.fibers.size();
  for (;;) {
    for (Fiber& f : b.fibers) {
      if (f.state != FiberState::runnable) continue;
      b.current = &f;
      threadIdx = f.thread_idx;
      switch_context(b.scheduler, f.context);
      b.current = nullptr;
      if (!b.fault.empty()) return fault_at(block_idx, f, b.fault);
    }
    std::size_t returned = 0, at_barrier = 0;
    for (const Fiber& f : b.fibers) {
      returned += f.state == FiberState::returned;
      at_barrier += f.state == FiberState::at_barrier;
    }
    if (returned == n) return "";
    // Warps whose every lane waits at a shuffle go ahead; any other warp with a lane at a
    // shuffle can never complete it.
    bool progressed = false;
    for (std::size_t w0 = 0; w0 < n; w0 += 32) {
      const std::size_t w1 = w0 + 32 < n ? w0 + 32 : n;
      std::size_t shuffling = 0;
      for (std::size_t i = w0; i < w1; ++i) shuffling += b.fibers[i].state == FiberState::at_shuffle;
      if (shuffling == 0) continue;
      const Fiber& first = *[&] {
        for (std::size_t i = w0; i < w1; ++i)
          if (b.fibers[i].state == FiberState::at_shuffle) return &b.fibers[i];
        return &b.fibers[w0];
      }();
      if (w1 - w0 < 32)
        return fault_at(block_idx, first,
                        "a full-mask shuffle in a warp of " + std::to_string(w1 - w0) +
                            " threads (the block's size is not a multiple of 32)");
      if (shuffling < 32) {
        for (std::size_t i = w0; i < w1; ++i) {
          const Fiber& f = b.fibers[i];
          if (f.state == FiberState::returned)
            return fault_at(block_idx, first,
                            "full-mask shuffle while lane " + std::to_string(i - w0) + " of warp " +
                                std::to_string(w0 / 32) + " had returned (whole warps must leave together)");
          if (f.state == FiberState::at_barrier)
            return fault_at(block_idx, first,
                            "full-mask shuffle while lane " + std::to_string(i - w0) + " of warp " +
                                std::to_string(w0 / 32) + " waits at __syncthreads (divergent warp)");
        }
      }
      for (std::size_t i = w0; i < w1; ++i) {
        const Fiber& f = b.fibers[i];
        if (f.indexed != first.indexed || (!f.indexed && f.lane_arg != first.lane_arg) ||
            f.value_size != first.value_size || f.shuffles != first.shuffles)
          return fault_at(block_idx, f,
                          "lanes of warp " + std::to_string(w0 / 32) + " meet at different shuffles (" +
                              (f.indexed ? "source lane " : "lane mask ") + std::to_string(f.lane_arg) + " vs " +
                              (first.indexed ? "source lane " : "lane mask ") + std::to_string(first.lane_arg) +
                              ", " + std::to_string(f.shuffles) + " vs " + std::to_string(first.shuffles) +
                              " shuffles before)");
      }
      for (std::size_t i = w0; i < w1; ++i) {
        Fiber& f = b.fibers[i];
        const std::size_t lane = i - w0, arg = static_cast<std::size_t>(f.lane_arg);
        const Fiber& src = b.fibers[w0 + (f.indexed ? arg : lane ^ arg)];
        std::memcpy(f.result, src.value, f.value_size);
      }
      for (std::size_t i = w0; i < w1; ++i) {
        b.fibers[i].state = FiberState::runnable;
        ++b.fibers[i].shuffles;
      }
      progressed = true;
    }
    if (progressed) continue;
    if (at_barrier > 0) {
      if (at_barrier + returned == n) {
        if (returned > 0) {
          const Fiber* gone = nullptr;
          for (const Fiber& f : b.fibers)
            if (f.state == FiberState::returned) gone = &f;
          return fault_at(block_idx, *gone,
                          "returned while " + std::to_string(at_barrier) + " of the block's " + std::to_string(n) +
                              " threads wait at __syncthreads (a barrier must be reached by the whole block)");
        }
        for (Fiber& f : b.fibers) f.state = FiberState::runnable;
        continue;
      }
    }
    return fault_at(block_idx, b.fibers[0], "deadlock: no barrier or shuffle can complete");
  }
}

/// Points f's context at fiber_main on `stack`.
inline void start_fiber(Fiber& f, char* stack) {
#if defined(__x86_64__) && defined(__linux__)
  // The first switch pops six zero registers and "returns" into fiber_main with the stack as a
  // call would leave it (rsp ≡ 8 mod 16 at entry); the slot above is a return address it never uses.
  auto top = reinterpret_cast<std::uintptr_t>(stack + stack_bytes) & ~std::uintptr_t(15);
  auto* slot = reinterpret_cast<void**>(top);
  *--slot = nullptr;                               // fiber_main's (unused) return address
  *--slot = reinterpret_cast<void*>(&fiber_main);  // popped by the switch's ret
  for (int i = 0; i < 6; ++i) *--slot = nullptr;   // rbp, rbx, r12–r15
  f.context.sp = slot;
#else
  // Its own function: getcontext returns twice, as setjmp does.
  getcontext(&f.context.uc);
  f.context.uc.uc_stack.ss_sp = stack;
  f.context.uc.uc_stack.ss_size = stack_bytes;
  f.context.uc.uc_link = nullptr;
  makecontext(&f.context.uc, &fiber_main, 0);
#endif
}

inline std::mutex& launch_mutex() {
  static std::mutex m;
  return m;
}

inline void check_shape(dim3 grid, dim3 block) {
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.z > 64)
    throw KernelFault("launch with block " + coords(block) + ": CUDA allows 1 to 1024 threads per block, z <= 64");
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535)
    throw KernelFault("launch with grid " + coords(grid) + ": CUDA allows x in [1, 2^31 - 1] and y, z in [1, 65535]");
}

}  // namespace detail

/// Runs kernel(args...) over grid × block emulated threads before returning.
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, Args... args) {
  using namespace detail;
  check_shape(grid, block);
  std::lock_guard<std::mutex> lock(launch_mutex());
  ++launch_count();
  const std::tuple<Params...> bound(args...);
  const std::function<void()> body = [&] { std::apply(kernel, bound); };
  const std::size_t n = static_cast<std::size_t>(block.x) * block.y * block.z;
  auto& st = stacks();
  while (st.size() < n) st.emplace_back(new char[stack_bytes]);
  Block b;
  b.body = &body;
  b.fibers.resize(n);
  Block* const outer = active_block;
  active_block = &b;
  const dim3 saved_thread = threadIdx, saved_block = blockIdx, saved_bdim = blockDim, saved_gdim = gridDim;
  blockDim = block;
  gridDim = grid;
  std::string fault;
  for (unsigned bz = 0; bz < grid.z && fault.empty(); ++bz)
    for (unsigned by = 0; by < grid.y && fault.empty(); ++by)
      for (unsigned bx = 0; bx < grid.x && fault.empty(); ++bx) {
        blockIdx = dim3(bx, by, bz);
        for (std::size_t i = 0; i < n; ++i) {
          Fiber& f = b.fibers[i];
          f = Fiber{};
          f.thread_idx = dim3(static_cast<unsigned>(i % block.x), static_cast<unsigned>(i / block.x % block.y),
                              static_cast<unsigned>(i / (static_cast<std::size_t>(block.x) * block.y)));
          start_fiber(f, st[i].get());
        }
        fault = run_block(b, blockIdx);
      }
  active_block = outer;
  threadIdx = saved_thread;
  blockIdx = saved_block;
  blockDim = saved_bdim;
  gridDim = saved_gdim;
  if (!fault.empty()) throw KernelFault("SIMT emulator: " + fault);
}

}  // namespace prefopt_simt

// ---- device intrinsics -----------------------------------------------------------------------
inline void __syncthreads() {
  prefopt_simt::detail::Fiber& f = prefopt_simt::detail::current_fiber();
  f.state = prefopt_simt::detail::FiberState::at_barrier;
  prefopt_simt::detail::yield_to_scheduler();
}

namespace prefopt_simt::detail {
/// Parks the calling lane at a full-warp shuffle until all 32 lanes of its warp are there.
template <class T>
T shuffle(const char* what, unsigned mask, T value, int arg, bool indexed, int width) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8, "shuffles move up to 8-byte values");
  Fiber& f = current_fiber();
  if (mask != 0xffffffffu || width != 32)
    throw KernelFault(std::string(what) + ": the emulator supports only the full mask and width 32");
  if (arg < 0 || arg >= 32)
    throw KernelFault(std::string(what) + (indexed ? ": source lane " : ": lane mask ") + std::to_string(arg) +
                      " outside [0, 32)");
  std::memcpy(f.value, &value, sizeof(T));
  f.value_size = sizeof(T);
  f.lane_arg = arg;
  f.indexed = indexed;
  f.state = FiberState::at_shuffle;
  yield_to_scheduler();
  T out;
  std::memcpy(&out, f.result, sizeof(T));
  return out;
}
}  // namespace prefopt_simt::detail

/// Lane i receives lane (i ^ lane_mask)'s value.
template <class T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = 32) {
  return prefopt_simt::detail::shuffle("__shfl_xor_sync", mask, value, lane_mask, false, width);
}

/// Lane i receives lane src_lane's value (src_lane may differ from lane to lane). CUDA takes
/// src_lane modulo the width; the kernels here never pass one outside [0, 32), so the emulator
/// reports it instead.
template <class T>
T __shfl_sync(unsigned mask, T value, int src_lane, int width = 32) {
  return prefopt_simt::detail::shuffle("__shfl_sync", mask, value, src_lane, true, width);
}

// ---- runtime calls ---------------------------------------------------------------------------
inline cudaError_t cudaMalloc(void** p, std::size_t bytes) {
  if (p == nullptr) return cudaErrorInvalidValue;
  *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);  // 256-byte aligned, as cudaMalloc
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
/// Launch faults are thrown at the launch, so no error is ever pending.
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
