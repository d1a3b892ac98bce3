// SPDX-License-Identifier: MIT
// The trainer's communicator policy: how ranks of a data-parallel run agree on gradients and
// metrics. NoComm (one process, the default) does nothing at zero cost; MpiComm and NcclComm
// (docs/distributed.md) implement the same members over a proven transport.
//
// A communicator provides:
//   int rank() const; int world_size() const;
//   template <class Device, class Scalar> void all_reduce_sum(const Device&, Scalar* device_data, index_t n);
//   void all_reduce_sum(double* host_data, index_t n);          // metric sums, pair/token counts
//   void broadcast(void* host_data, std::size_t bytes, int root); // run keys, resume state
//   void barrier();
//   void abort(int code) noexcept;                                // a failing rank takes the job down
// Every rank must call the collective members in the same order with the same sizes.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "prefopt/core/types.hpp"

namespace prefopt {

/// One process: every collective is the identity.
struct NoComm {
  static constexpr const char* name = "none";
  int rank() const noexcept { return 0; }
  int world_size() const noexcept { return 1; }
  template <class Device, class Scalar>
  void all_reduce_sum(const Device&, Scalar*, index_t) noexcept {}
  void all_reduce_sum(double*, index_t) noexcept {}
  void broadcast(void*, std::size_t, int) noexcept {}
  void barrier() noexcept {}
  void abort(int) noexcept {}
};

namespace detail {
template <class T, class = void>
struct is_communicator : std::false_type {};
template <class T>
struct is_communicator<T, std::void_t<decltype(int(std::declval<const T&>().rank())),
                                      decltype(int(std::declval<const T&>().world_size())),
                                      decltype(std::declval<T&>().all_reduce_sum(std::declval<double*>(), index_t{})),
                                      decltype(std::declval<T&>().broadcast(std::declval<void*>(), std::size_t{}, 0)),
                                      decltype(std::declval<T&>().barrier())>> : std::true_type {};
}  // namespace detail

/// Whether T has the host-side members of a communicator (see the top of this header).
template <class T>
inline constexpr bool is_communicator_v = detail::is_communicator<T>::value;

}  // namespace prefopt
