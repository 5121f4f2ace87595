// The event queue pops exactly as a reference ordered set on (time, sequence) does, whatever the mix
// of pushes and pops: equal times, far-future times, times before the last pop, drains and refills.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "sim/engine/event_queue.hpp"
#include "sim/base/rng.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

namespace {

struct TestEvent {
  Instant at;
  std::uint64_t seq = 0;
  std::uint64_t id = 0;  ///< set by the test, so a pop can be matched to its push
};

/// The queue under test beside the obviously correct model: a std::set on (time, sequence, id).
class Checked {
 public:
  void push(Instant at) {
    queue_.push(at, TestEvent{Instant{}, 0, next_id_});
    model_.emplace(at.us, next_seq_++, next_id_++);
    check_size();
  }
  /// Pops one event from both and requires that they agree; returns its time. Every other pop looks
  /// at top() first, as the simulation does; the others let pop() open the next bucket itself.
  std::int64_t pop() {
    REQUIRE_FALSE(queue_.empty());
    REQUIRE(!model_.empty());
    const auto expected = *model_.begin();
    if (++pops_ % 2 == 0) {
      const TestEvent& top = queue_.top();
      REQUIRE(std::make_tuple(top.at.us, top.seq, top.id) == expected);
    }
    const TestEvent e = queue_.pop();
    model_.erase(model_.begin());
    REQUIRE(std::make_tuple(e.at.us, e.seq, e.id) == expected);
    check_size();
    return e.at.us;
  }
  void drain() {
    while (!queue_.empty()) pop();
    REQUIRE(model_.empty());
  }
  void reserve(std::size_t n) { queue_.reserve(n); }
  std::size_t size() const { return model_.size(); }

 private:
  void check_size() const {
    REQUIRE(queue_.size() == model_.size());
    REQUIRE(queue_.empty() == model_.empty());
  }

  EventQueue<TestEvent> queue_;
  std::set<std::tuple<std::int64_t, std::uint64_t, std::uint64_t>> model_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t next_id_ = 0;
  std::uint64_t pops_ = 0;
};

/// Delays of the kinds a simulation makes: none, microseconds, milliseconds, timers of seconds to
/// minutes, and rarely hours; plus some before `now`, which the interface allows.
std::int64_t draw_delay(Rng& rng) {
  switch (rng.below(10)) {
    case 0: return 0;
    case 1: return static_cast<std::int64_t>(rng.below(10));
    case 2: case 3: return static_cast<std::int64_t>(rng.below(1'000));
    case 4: case 5: return rng.exponential(Duration::millis(100)).us;
    case 6: return static_cast<std::int64_t>(rng.below(120'000'000));
    case 7: return static_cast<std::int64_t>(rng.below(4'000'000'000ULL));
    case 8: return -static_cast<std::int64_t>(rng.below(1'000));
    default: return static_cast<std::int64_t>(rng.below(50'000));
  }
}

}  // namespace

TEST_CASE("the queue pops in (time, sequence) order under random pushes and pops", "[sim][queue]") {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    Rng rng(seed);
    Checked q;
    std::int64_t now = 0;
    // Phases shift the balance: filling, steady state (one pop, one push), draining.
    for (int phase = 0; phase < 9; ++phase) {
      const std::uint64_t push_ppm = phase % 3 == 0 ? 700'000 : phase % 3 == 1 ? 500'000 : 300'000;
      for (int step = 0; step < 20'000; ++step) {
        if (q.size() == 0 || rng.below(1'000'000) < push_ppm) {
          q.push(Instant{now + draw_delay(rng)});
        } else {
          now = q.pop();
        }
      }
    }
    q.drain();
  }
}

TEST_CASE("the hold pattern at many sizes pops in order", "[sim][queue]") {
  for (const std::size_t pending : {1, 2, 10, 100, 5'000, 40'000}) {
    Rng rng(pending);
    Checked q;
    for (std::size_t i = 0; i < pending; ++i) q.push(Instant{rng.exponential(Duration::millis(100)).us});
    for (int i = 0; i < 100'000; ++i) {
      const std::int64_t now = q.pop();
      q.push(Instant{now + rng.exponential(Duration::millis(100)).us});
    }
    q.drain();
  }
}

TEST_CASE("events at one instant pop in the order they were pushed", "[sim][queue]") {
  Checked q;
  for (int i = 0; i < 10'000; ++i) q.push(Instant{42});
  // Events pushed at the current time while popping go after those already pending at that time.
  for (int i = 0; i < 5'000; ++i) {
    REQUIRE(q.pop() == 42);
    q.push(Instant{42});
  }
  q.drain();
}

TEST_CASE("extreme and far-apart times pop in order", "[sim][queue]") {
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  Checked q;
  for (const std::int64_t t : {kMax, kMin, std::int64_t{0}, Instant::never().us, kMax, kMin + 1, std::int64_t{-1}}) {
    q.push(Instant{t});
  }
  Rng rng(7);
  for (int i = 0; i < 3'000; ++i) q.push(Instant{static_cast<std::int64_t>(rng.next())});
  for (int i = 0; i < 1'000; ++i) q.pop();
  for (int i = 0; i < 3'000; ++i) q.push(Instant{static_cast<std::int64_t>(rng.below(100))});
  q.drain();
}

TEST_CASE("a dense burst inside a wide bucket is still popped in order", "[sim][queue]") {
  // Timers spread over an hour make the first buckets wide; then a burst of microsecond-apart
  // events lands in one bucket, which is the case that gathers everything and renews.
  Checked q;
  Rng rng(11);
  for (int i = 0; i < 200; ++i) q.push(Instant{static_cast<std::int64_t>(rng.below(3'600'000'000ULL))});
  std::int64_t now = q.pop();
  for (int i = 0; i < 20'000; ++i) q.push(Instant{now + static_cast<std::int64_t>(rng.below(5'000))});
  for (int i = 0; i < 60'000; ++i) {
    now = q.pop();
    q.push(Instant{now + static_cast<std::int64_t>(rng.below(5'000))});
  }
  q.drain();
}

TEST_CASE("a bucket that filled up while waiting is still popped in order", "[sim][queue]") {
  // Dense events make narrow buckets and one timer an hour ahead keeps the ring from covering it;
  // after the dense events are popped, a burst fills one bucket ahead beyond what near_ should hold.
  Checked q;
  q.push(Instant{3'600'000'000});
  for (std::int64_t t = 0; t < 3'000; ++t) q.push(Instant{t});
  std::int64_t now = 0;
  for (int i = 0; i < 3'000; ++i) now = q.pop();
  for (int i = 0; i < 2'100; ++i) q.push(Instant{now + 10'001 + i % 2});
  q.push(Instant{now + 1});
  q.drain();
}

TEST_CASE("the queue drains to empty and refills, with or without reserve", "[sim][queue]") {
  for (const bool reserve : {false, true}) {
    Checked q;
    if (reserve) q.reserve(50'000);
    Rng rng(3);
    std::int64_t base = 1'000'000;
    for (int round = 0; round < 50; ++round) {
      const auto count = rng.below(2'000) + 1;
      for (std::uint64_t i = 0; i < count; ++i) q.push(Instant{base + draw_delay(rng)});
      const auto pops = rng.below(count + 1);
      for (std::uint64_t i = 0; i < pops; ++i) base = q.pop();
      if (round % 5 == 4) q.drain();
      // A refill far before or far after everything popped so far.
      base += round % 2 == 0 ? 3'600'000'000 : -3'600'000'000;
    }
    q.drain();
  }
}

TEST_CASE("any interleaving of pushes and pops agrees with an ordered set", "[sim][queue]") {
  rc::prop("each pop is the least pending (time, sequence)", [] {
    // An operation: a pop when the value is negative, else a push at now plus a delay of that class.
    const auto ops = *rc::gen::container<std::vector<std::int64_t>>(rc::gen::inRange<std::int64_t>(-3, 8));
    const auto seed = *rc::gen::arbitrary<std::uint64_t>();
    Rng rng(seed);
    EventQueue<TestEvent> queue;
    std::set<std::pair<std::int64_t, std::uint64_t>> model;
    std::uint64_t seq = 0;
    std::int64_t now = 0;
    for (const std::int64_t op : ops) {
      if (op < 0) {
        if (model.empty()) continue;
        const TestEvent e = queue.pop();
        RC_ASSERT(std::make_pair(e.at.us, e.seq) == *model.begin());
        model.erase(model.begin());
        now = e.at.us;
      } else {
        const std::int64_t delay = op == 0 ? 0 : op < 4 ? static_cast<std::int64_t>(rng.below(100))
                                                        : op < 6 ? rng.exponential(Duration::seconds(1)).us
                                                                 : static_cast<std::int64_t>(rng.below(1ULL << 40)) - (1LL << 39);
        queue.push(Instant{now + delay}, TestEvent{});
        model.emplace(now + delay, seq++);
      }
      RC_ASSERT(queue.size() == model.size());
      if (!model.empty()) RC_ASSERT(std::make_pair(queue.top().at.us, queue.top().seq) == *model.begin());
    }
  });
}

TEST_CASE("second() names the event that pops after top's, when it says anything", "[sim][queue]") {
  EventQueue<TestEvent> queue;
  Rng rng(5);
  std::int64_t now = 0;
  std::uint64_t named = 0;
  for (std::uint64_t i = 0; i < 5'000; ++i) queue.push(Instant{rng.exponential(Duration::millis(100)).us}, TestEvent{{}, 0, i});
  for (std::uint64_t i = 0; i < 50'000; ++i) {
    const TestEvent first = queue.top();
    const TestEvent* after = queue.second();
    const std::optional<TestEvent> expected = after ? std::optional<TestEvent>(*after) : std::nullopt;
    REQUIRE(queue.pop().id == first.id);
    if (expected) {
      ++named;
      REQUIRE(queue.top().id == expected->id);
    }
    now = first.at.us;
    queue.push(Instant{now + rng.exponential(Duration::millis(100)).us + 1'000'000}, TestEvent{{}, 0, 5'000 + i});
  }
  REQUIRE(named > 40'000);  // it is known most of the time, or it would not be worth calling
}
