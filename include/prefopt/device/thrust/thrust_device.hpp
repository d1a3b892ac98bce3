// SPDX-License-Identifier: MIT
// ThrustDevice<System>: the CUDA device's code, written once against thrust so that it compiles
// twice — with nvcc for the CUDA system (CudaDevice, device/cuda.hpp: thrust's CUDA backend,
// cuBLAS GEMMs) and with g++ for the OpenMP system (OmpDevice, device/omp.hpp: thrust's OpenMP
// backend, GEMMs through Eigen). CI has no GPU, so the OpenMP twin is how every kernel's logic is
// tested there (GUIDE §6); the CUDA tests compare the two whenever a GPU is present.
//
// Storage is a system-specific thrust vector behind a small wrapper whose data() is a raw pointer,
// so the model's orchestration (gpt2.hpp) is identical on every device. Kernels are free
// functions in namespace prefopt::thrust_device (found by ADL), device first, then outputs,
// inputs and sizes, exactly the CPU device's signatures; each is a thrust::for_each over an index
// range with a functor marked PREFOPT_HOST_DEVICE. Every reduction is written so that each output
// element is summed by one thread in a fixed order: results are deterministic, never atomics.
#pragma once

#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>

#include "prefopt/core/config.hpp"
#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"

namespace prefopt::thrust_device {

/// A vector in the memory of `System` whose data() is a raw pointer. `Storage` is the
/// system's thrust vector template (thrust::system::omp::vector, thrust::system::cuda::vector).
template <class T, template <class...> class Storage>
class RawVector {
 public:
  RawVector() = default;
  explicit RawVector(std::size_t n) : v_(n) {}
  T* data() noexcept { return v_.empty() ? nullptr : thrust::raw_pointer_cast(v_.data()); }
  const T* data() const noexcept { return v_.empty() ? nullptr : thrust::raw_pointer_cast(v_.data()); }
  std::size_t size() const noexcept { return v_.size(); }
  bool empty() const noexcept { return v_.empty(); }
  void resize(std::size_t n) { v_.resize(n); }
  void clear() { v_.clear(); }

 private:
  Storage<T> v_;
};

/// `Traits` supplies: `template <class T> using storage`, `static auto policy()`, `name`,
/// `host_accessible`, `embedding_classes` (elementwise.hpp),
/// `copy(void* dst, const void* src, std::size_t bytes, bool to_device)`, `synchronize()`, `check(what)`,
/// and the GEMMs (matmul.hpp, attention.hpp).
template <class Traits>
struct ThrustDevice {
  using traits = Traits;
  static constexpr const char* name = Traits::name;
  static constexpr bool host_accessible = Traits::host_accessible;
  template <class T>
  using vector = RawVector<T, Traits::template storage>;

  void synchronize() const { Traits::synchronize(); }

  template <class T>
  void copy_to_host(const T* src, index_t n, T* dst) const {
    if (n > 0) Traits::copy(dst, src, static_cast<std::size_t>(n) * sizeof(T), /*to_device=*/false);
  }
  template <class T>
  void copy_from_host(const T* src, index_t n, T* dst) const {
    if (n > 0) Traits::copy(dst, src, static_cast<std::size_t>(n) * sizeof(T), /*to_device=*/true);
  }
};

/// Runs f(i) for i in [0, n) on the device.
template <class Traits, class F>
void for_each_index(const ThrustDevice<Traits>&, index_t n, F f) {
  if (n <= 0) return;
  thrust::for_each(Traits::policy(), thrust::counting_iterator<index_t>(0), thrust::counting_iterator<index_t>(n), f);
  Traits::check("thrust::for_each");
}

}  // namespace prefopt::thrust_device
