// SPDX-License-Identifier: MIT
// Host → device uploads that do not make the host wait for the GPU. A cudaMemcpy from pageable
// host memory synchronizes the stream before the copy starts (CUDA's "API synchronization
// behavior"), so each micro-batch's upload would drain every kernel queued before it. Here the
// host bytes are first copied into a pinned (page-locked) staging arena, and the device copy is
// queued from there with cudaMemcpyAsync on the same stream as the kernels; the call returns
// at once and the caller may reuse its source buffer immediately, as with cudaMemcpy.
//
// The arena is used as a ring: regions are handed out in order, 256-byte aligned, starting over
// at offset 0 when the end has no room. Each queued copy keeps its region and an event recorded
// after it. Before a region is written again the newest pending copy that overlaps it is waited
// for; since the copies run in stream order, every older pending copy is then complete too.
// Completed copies are also retired whenever their event reports done, and at most max_pending
// copies are kept in flight (their events are pooled). An upload bigger than half the arena is
// not staged: it goes through the runtime's blocking copy (weights at load time; the stream
// order still puts it after the staged ones).
//
// The runtime is a policy object, so the ring's bookkeeping is tested on the host against a
// runtime that defers its copies (tests/device/staged_upload_ring_test.cpp); CudaDevice's is
// CudaStagingRuntime (device/cuda.hpp). A Runtime provides
//   using event_type;
//   void* alloc_pinned(std::size_t bytes);          void free_pinned(void* p) noexcept;
//   event_type create_event();                      void destroy_event(event_type e) noexcept;
//   void copy_async(void* device_dst, const void* pinned_src, std::size_t bytes);  // queued
//   void record(event_type e);                      // after the copies queued so far
//   void wait(event_type e);                        // host blocks until e has happened
//   bool done(event_type e);                        // has e happened? (does not block)
//   void copy_blocking(void* device_dst, const void* host_src, std::size_t bytes);
#pragma once

#include <cstddef>
#include <cstring>
#include <deque>
#include <utility>
#include <vector>

#include "prefopt/core/error.hpp"

namespace prefopt {

template <class Runtime>
class StagedUploadRing {
 public:
  using event_type = typename Runtime::event_type;
  static constexpr std::size_t alignment = 256;

  /// A ring of `capacity_bytes` of pinned memory (rounded up to the alignment) with at most
  /// `max_pending` copies in flight.
  explicit StagedUploadRing(Runtime runtime, std::size_t capacity_bytes = std::size_t(16) << 20,
                            std::size_t max_pending = 256)
      : runtime_(std::move(runtime)), capacity_(align_up(capacity_bytes)), max_pending_(max_pending) {
    PREFOPT_CHECK(capacity_ > 0, "StagedUploadRing: the staging capacity must be positive");
    PREFOPT_CHECK(max_pending_ > 0, "StagedUploadRing: max_pending must be positive");
    arena_ = static_cast<unsigned char*>(runtime_.alloc_pinned(capacity_));
  }
  StagedUploadRing(const StagedUploadRing&) = delete;
  StagedUploadRing& operator=(const StagedUploadRing&) = delete;

  /// Waits for the copies still reading the arena, then frees it and the events. Errors are
  /// ignored here (this runs at thread exit, possibly after the CUDA context is gone).
  ~StagedUploadRing() {
    for (Pending& p : pending_) {
      try {
        runtime_.wait(p.event);
      } catch (...) {
      }
      runtime_.destroy_event(p.event);
    }
    for (event_type& e : free_events_) runtime_.destroy_event(e);
    if (arena_) runtime_.free_pinned(arena_);
  }

  /// Queues a copy of `bytes` host bytes at `host_src` to `device_dst`; `host_src` may be
  /// reused as soon as this returns.
  void upload(void* device_dst, const void* host_src, std::size_t bytes) {
    if (bytes == 0) return;
    if (bytes > capacity_ / 2) {  // staging it would serialize on the ring anyway
      runtime_.copy_blocking(device_dst, host_src, bytes);
      ++blocking_uploads_;
      return;
    }
    retire_completed();
    if (pending_.size() >= max_pending_) wait_through(0);
    std::size_t begin = align_up(head_);
    if (begin + bytes > capacity_) begin = 0;
    const std::size_t end = begin + bytes;
    // The newest pending copy whose region overlaps [begin, end): wait for it and all before it.
    for (std::size_t i = pending_.size(); i-- > 0;) {
      if (pending_[i].begin < end && begin < pending_[i].end) {
        wait_through(i);
        ++waits_for_space_;
        break;
      }
    }
    std::memcpy(arena_ + begin, host_src, bytes);
    runtime_.copy_async(device_dst, arena_ + begin, bytes);
    const event_type e = take_event();
    runtime_.record(e);
    pending_.push_back(Pending{begin, end, e});
    head_ = end;
    ++staged_uploads_;
  }

  /// Blocks until every staged copy queued so far has completed.
  void drain() {
    if (!pending_.empty()) wait_through(pending_.size() - 1);
  }

  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t pending() const noexcept { return pending_.size(); }
  /// Counters for tests and diagnostics: uploads staged, uploads too big to stage, and how often
  /// an upload had to wait for an earlier copy to free its region.
  std::size_t staged_uploads() const noexcept { return staged_uploads_; }
  std::size_t blocking_uploads() const noexcept { return blocking_uploads_; }
  std::size_t waits_for_space() const noexcept { return waits_for_space_; }

 private:
  struct Pending {
    std::size_t begin, end;  // the arena region the copy reads
    event_type event;        // recorded right after the copy
  };

  static std::size_t align_up(std::size_t n) noexcept { return (n + alignment - 1) / alignment * alignment; }

  event_type take_event() {
    if (free_events_.empty()) return runtime_.create_event();
    event_type e = free_events_.back();
    free_events_.pop_back();
    return e;
  }
  void release_front() {
    free_events_.push_back(pending_.front().event);
    pending_.pop_front();
  }
  /// Stream order: once pending_[i]'s event has happened, so have those of pending_[0..i).
  void wait_through(std::size_t i) {
    runtime_.wait(pending_[i].event);
    for (std::size_t k = 0; k <= i; ++k) release_front();
  }
  void retire_completed() {
    while (!pending_.empty() && runtime_.done(pending_.front().event)) release_front();
  }

  Runtime runtime_;
  std::size_t capacity_;
  std::size_t max_pending_;
  unsigned char* arena_ = nullptr;
  std::size_t head_ = 0;  // where the previous region ended
  std::deque<Pending> pending_;
  std::vector<event_type> free_events_;
  std::size_t staged_uploads_ = 0, blocking_uploads_ = 0, waits_for_space_ = 0;
};

}  // namespace prefopt
