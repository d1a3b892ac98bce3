// SPDX-License-Identifier: MIT
// Warp and block reductions for CudaDevice's fast kernels (built by nvcc, or by a host compiler
// over the tests' SIMT emulator: device/cuda/runtime.hpp). Deterministic: the shuffle tree is the
// fixed butterfly (xor 16, 8, 4, 2, 1) over lanes and the block tree is that butterfly within each
// warp, then the same butterfly over the per-warp totals in warp order; which thread holds which
// elements depends only on the launch shape, a compile-time constant of each kernel. So every
// output is summed in one fixed order, run to run and GPU to GPU of the same architecture — no
// atomics anywhere. (The order differs from the portable twin's sequential walk, so fast and
// portable kernels agree to rounding, not bit for bit; tests/device/cuda_device_test.cu compares
// them.)
//
// The butterfly leaves the same value in every lane: lane i adds a_i + a_(i^k) and lane i^k adds
// a_(i^k) + a_i, which is the same float sum (addition is commutative), so all lanes agree bit for
// bit and no broadcast is needed.
#pragma once

#include <cmath>

#include "prefopt/device/cuda/runtime.hpp"

namespace prefopt::thrust_device::cuda_kernels {

constexpr unsigned full_mask = 0xffffffffu;
constexpr int warp_size = 32;

template <class S>
__device__ __forceinline__ S warp_sum(S v) {
  for (int o = warp_size / 2; o > 0; o >>= 1) v += __shfl_xor_sync(full_mask, v, o);
  return v;
}
template <class S>
__device__ __forceinline__ S warp_max(S v) {
  for (int o = warp_size / 2; o > 0; o >>= 1) {
    const S u = __shfl_xor_sync(full_mask, v, o);
    v = u > v ? u : v;
  }
  return v;
}

/// Σ v over the block of NT threads (NT a multiple of 32, <= 1024); every thread gets the total.
/// `shared` holds NT / 32 values; the call ends with a barrier, so it may be reused at once.
template <int NT, class S>
__device__ __forceinline__ S block_sum(S v, S* shared) {
  static_assert(NT % warp_size == 0 && NT <= 1024, "block size");
  const int lane = threadIdx.x % warp_size, warp = threadIdx.x / warp_size;
  v = warp_sum(v);
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  S t = lane < NT / warp_size ? shared[lane] : S(0);
  t = warp_sum(t);
  __syncthreads();
  return t;
}

/// A running (max m, Σ exp(z - m)) pair: the streaming log-sum-exp. merge() is symmetric in
/// its two operands bit for bit (the larger max wins; the smaller side is rescaled), so the
/// butterfly leaves the same pair in every lane.
template <class S>
struct LseAcc {
  S m;
  S s;
  __device__ __forceinline__ void add(S z) {
    if (z > m) {
      s = s * std::exp(m - z) + S(1);  // m = -inf at the start: 0 * 0 + 1
      m = z;
    } else {
      s += std::exp(z - m);
    }
  }
  __device__ __forceinline__ void merge(S m2, S s2) {
    if (m2 > m) {
      const S t = m;
      m = m2;
      m2 = t;
      const S u = s;
      s = s2;
      s2 = u;
    }
    if (s2 != S(0)) s += s2 * std::exp(m2 - m);
  }
};

template <class S>
__device__ __forceinline__ void warp_lse(LseAcc<S>& a) {
  for (int o = warp_size / 2; o > 0; o >>= 1) {
    const S m2 = __shfl_xor_sync(full_mask, a.m, o);
    const S s2 = __shfl_xor_sync(full_mask, a.s, o);
    a.merge(m2, s2);
  }
}

/// The block's combined (max, sum) in every thread; shared holds 2 * NT / 32 values.
template <int NT, class S>
__device__ __forceinline__ LseAcc<S> block_lse(LseAcc<S> a, S* shared) {
  const int lane = threadIdx.x % warp_size, warp = threadIdx.x / warp_size;
  constexpr int W = NT / warp_size;
  warp_lse(a);
  if (lane == 0) {
    shared[warp] = a.m;
    shared[W + warp] = a.s;
  }
  __syncthreads();
  LseAcc<S> t{-INFINITY, S(0)};
  if (lane < W) t = LseAcc<S>{shared[lane], shared[W + lane]};
  warp_lse(t);
  __syncthreads();
  return t;
}

}  // namespace prefopt::thrust_device::cuda_kernels
