// SPDX-License-Identifier: MIT
// StagedUploadRing (device/staged_upload_ring.hpp) against a runtime that behaves like a GPU
// stream that is behind: copy_async only queues the copy, which reads its pinned source when it
// executes — at an event wait, a blocking copy, or when the "GPU" is made to progress. So a ring
// that rewrote a staging region before the copy reading it had run would deliver the newer bytes
// to the older destination, and these tests would see it. The caller's source buffer is
// overwritten right after every upload, as a caller is allowed to.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <vector>

#include "prefopt/device/staged_upload_ring.hpp"

using namespace prefopt;

namespace {

/// One in-order stream that executes its queue only when told to.
struct DeferredStream {
  struct Op {
    bool is_event;
    int event;  // is_event: the event recorded here
    unsigned char* dst;
    const unsigned char* src;
    std::size_t bytes;
  };
  std::deque<Op> queue;
  std::vector<bool> event_pending;  // recorded and not yet reached
  std::vector<bool> event_alive;
  std::vector<unsigned char> arena;
  bool arena_allocated = false;
  std::size_t events_created = 0, waits = 0, blocking_copies = 0;
  std::mt19937 rng{12345};
  double progress_on_query = 0.0;  // chance that done() first lets the stream run a little

  void execute_front() {
    Op op = queue.front();
    queue.pop_front();
    if (op.is_event) {
      event_pending[static_cast<std::size_t>(op.event)] = false;
    } else {
      std::copy(op.src, op.src + op.bytes, op.dst);
    }
  }
  void run(std::size_t n) {
    while (n-- > 0 && !queue.empty()) execute_front();
  }
  void run_all() { run(queue.size()); }
  bool reads_arena() const {
    for (const Op& op : queue)
      if (!op.is_event) return true;
    return false;
  }
};

struct DeferredRuntime {
  using event_type = int;
  DeferredStream* s;

  void* alloc_pinned(std::size_t bytes) {
    REQUIRE_FALSE(s->arena_allocated);
    s->arena.assign(bytes, 0xEE);
    s->arena_allocated = true;
    return s->arena.data();
  }
  void free_pinned(void* p) noexcept {
    CHECK(p == s->arena.data());
    CHECK_FALSE(s->reads_arena());  // every copy from the arena has run before it is freed
    s->arena_allocated = false;
  }
  event_type create_event() {
    s->event_pending.push_back(false);
    s->event_alive.push_back(true);
    ++s->events_created;
    return static_cast<int>(s->event_pending.size() - 1);
  }
  void destroy_event(event_type e) noexcept { s->event_alive[static_cast<std::size_t>(e)] = false; }
  void copy_async(void* dst, const void* src, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(src);
    REQUIRE(p >= s->arena.data());
    REQUIRE(p + bytes <= s->arena.data() + s->arena.size());
    REQUIRE(reinterpret_cast<std::uintptr_t>(p) % StagedUploadRing<DeferredRuntime>::alignment ==
            reinterpret_cast<std::uintptr_t>(s->arena.data()) % StagedUploadRing<DeferredRuntime>::alignment);
    s->queue.push_back({false, -1, static_cast<unsigned char*>(dst), p, bytes});
  }
  void record(event_type e) {
    REQUIRE(s->event_alive[static_cast<std::size_t>(e)]);
    REQUIRE_FALSE(s->event_pending[static_cast<std::size_t>(e)]);  // only completed events are reused
    s->event_pending[static_cast<std::size_t>(e)] = true;
    s->queue.push_back({true, e, nullptr, nullptr, 0});
  }
  void wait(event_type e) {
    ++s->waits;
    while (s->event_pending[static_cast<std::size_t>(e)]) s->execute_front();
  }
  bool done(event_type e) {
    if (std::uniform_real_distribution<double>(0, 1)(s->rng) < s->progress_on_query)
      s->run(std::uniform_int_distribution<std::size_t>(0, 6)(s->rng));
    return !s->event_pending[static_cast<std::size_t>(e)];
  }
  void copy_blocking(void* dst, const void* src, std::size_t bytes) {
    s->run_all();  // stream order: after everything queued before it
    ++s->blocking_copies;
    const auto* p = static_cast<const unsigned char*>(src);
    std::copy(p, p + bytes, static_cast<unsigned char*>(dst));
  }
};

using Ring = StagedUploadRing<DeferredRuntime>;

/// Uploads `bytes` bytes of pattern `tag` to dst through a source buffer that is scribbled over
/// as soon as upload() returns.
void upload_pattern(Ring& ring, std::vector<unsigned char>& dst, std::size_t bytes, unsigned tag) {
  std::vector<unsigned char> src(bytes);
  for (std::size_t i = 0; i < bytes; ++i) src[i] = static_cast<unsigned char>(tag * 131u + i * 7u);
  dst.assign(bytes, 0);
  ring.upload(dst.data(), src.data(), bytes);
  std::fill(src.begin(), src.end(), 0xAB);
}

bool holds_pattern(const std::vector<unsigned char>& dst, unsigned tag) {
  for (std::size_t i = 0; i < dst.size(); ++i)
    if (dst[i] != static_cast<unsigned char>(tag * 131u + i * 7u)) return false;
  return true;
}

}  // namespace

TEST_CASE("staged uploads deliver every upload's bytes while the stream lags behind", "[device][upload]") {
  for (double progress : {0.0, 0.3, 0.9}) {
    DYNAMIC_SECTION("the stream progresses at " << progress << " of the queries") {
      DeferredStream s;
      s.progress_on_query = progress;
      std::vector<std::vector<unsigned char>> dst(600);
      std::mt19937 rng(7);
      {
        Ring ring(DeferredRuntime{&s}, 8192, 64);
        for (std::size_t k = 0; k < dst.size(); ++k) {
          const std::size_t bytes = std::uniform_int_distribution<std::size_t>(1, 1800)(rng);
          upload_pattern(ring, dst[k], bytes, static_cast<unsigned>(k));
          CHECK(ring.pending() <= 64);
        }
        CHECK(ring.staged_uploads() == dst.size());
        CHECK(ring.blocking_uploads() == 0);
        // 600 uploads of ~900 bytes wrap an 8 KiB ring often: a stalled stream must be waited for.
        if (progress == 0.0) CHECK(ring.waits_for_space() > 0);
        ring.drain();
        CHECK(ring.pending() == 0);
        CHECK(s.queue.empty());
      }
      for (std::size_t k = 0; k < dst.size(); ++k) {
        INFO("upload " << k << " of " << dst[k].size() << " bytes");
        CHECK(holds_pattern(dst[k], static_cast<unsigned>(k)));
      }
      CHECK(s.events_created <= 64);
      CHECK_FALSE(s.arena_allocated);
    }
  }
}

TEST_CASE("a region is rewritten only after the copy reading it has run", "[device][upload]") {
  DeferredStream s;  // never progresses on its own
  Ring ring(DeferredRuntime{&s}, 4096, 256);
  REQUIRE(ring.capacity() == 4096);
  std::vector<unsigned char> a, b, c;
  upload_pattern(ring, a, 1500, 1);  // [0, 1500)
  upload_pattern(ring, b, 1500, 2);  // [1536, 3036)
  CHECK(s.waits == 0);
  CHECK(ring.pending() == 2);
  CHECK(std::all_of(a.begin(), a.end(), [](unsigned char v) { return v == 0; }));  // queued, not run
  // No room after 3036 for 1500 bytes: back to 0, which the first copy still reads — wait for it
  // (and for it only: the second copy's region is untouched).
  upload_pattern(ring, c, 1500, 3);
  CHECK(s.waits == 1);
  CHECK(ring.waits_for_space() == 1);
  CHECK(ring.pending() == 2);
  CHECK(holds_pattern(a, 1));
  CHECK(std::all_of(b.begin(), b.end(), [](unsigned char v) { return v == 0; }));
  ring.drain();
  CHECK(holds_pattern(b, 2));
  CHECK(holds_pattern(c, 3));
}

TEST_CASE("an upload too big to stage is a blocking copy in stream order", "[device][upload]") {
  DeferredStream s;
  Ring ring(DeferredRuntime{&s}, 4096, 256);
  std::vector<unsigned char> dst;
  upload_pattern(ring, dst, 2000, 1);  // staged, still queued
  std::vector<unsigned char> big(3000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<unsigned char>(i * 13u);
  std::vector<unsigned char> big_dst(3000, 0);
  ring.upload(big_dst.data(), big.data(), big.size());
  CHECK(ring.blocking_uploads() == 1);
  CHECK(s.blocking_copies == 1);
  CHECK(big_dst == big);
  CHECK(holds_pattern(dst, 1));  // the queued copy ran first

  // Two staged copies to one destination land in order; so do a staged and a blocking one.
  std::vector<unsigned char> shared_dst(2048, 0);
  std::vector<unsigned char> first(2048, 0x11), second(2048, 0x22);
  ring.upload(shared_dst.data(), first.data(), first.size());    // staged (half the ring)
  ring.upload(shared_dst.data(), second.data(), second.size());  // staged behind it
  ring.drain();
  CHECK(std::all_of(shared_dst.begin(), shared_dst.end(), [](unsigned char v) { return v == 0x22; }));
  std::vector<unsigned char> third(2049, 0x33);
  std::vector<unsigned char> wide_dst(2049, 0);
  ring.upload(wide_dst.data(), first.data(), 2048);  // staged
  ring.upload(wide_dst.data(), third.data(), 2049);  // over half: blocking, after the staged one
  CHECK(std::all_of(wide_dst.begin(), wide_dst.end(), [](unsigned char v) { return v == 0x33; }));
}

TEST_CASE("at most max_pending copies are in flight, their events pooled", "[device][upload]") {
  DeferredStream s;
  std::vector<std::vector<unsigned char>> dst(40);
  {
    Ring ring(DeferredRuntime{&s}, 1 << 20, 4);
    for (std::size_t k = 0; k < dst.size(); ++k) {
      upload_pattern(ring, dst[k], 16, static_cast<unsigned>(k));
      CHECK(ring.pending() <= 4);
    }
    CHECK(ring.waits_for_space() == 0);  // a 1 MiB ring has room: only the cap made it wait
    CHECK(s.waits > 0);
    CHECK(s.events_created == 4);
    // Leaving the scope with copies queued: the destructor waits for them before freeing.
    CHECK(ring.pending() > 0);
  }
  CHECK(s.queue.empty());
  CHECK_FALSE(s.arena_allocated);
  for (std::size_t k = 0; k < dst.size(); ++k) CHECK(holds_pattern(dst[k], static_cast<unsigned>(k)));
  for (bool alive : s.event_alive) CHECK_FALSE(alive);
}

TEST_CASE("an empty upload queues nothing and bad sizes are refused", "[device][upload]") {
  DeferredStream s;
  Ring ring(DeferredRuntime{&s}, 1000, 8);
  CHECK(ring.capacity() == 1024);  // rounded up to the alignment
  ring.upload(nullptr, nullptr, 0);
  CHECK(s.queue.empty());
  CHECK(ring.staged_uploads() == 0);
  DeferredStream s2;
  CHECK_THROWS_WITH(Ring(DeferredRuntime{&s2}, 1024, 0), Catch::Contains("max_pending must be positive"));
}
