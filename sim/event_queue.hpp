// The event queue: a 4-ary min-heap ordered by (time, insertion sequence). The sequence number makes
// simultaneous events run in the order they were scheduled, on every machine and standard library.
// Four children per node halve the depth of a binary heap, and the four sit in two cache lines.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <utility>
#include <vector>

#include "sim/time.hpp"

namespace syncstorm {

/// `Event` must have members `Instant at` and `std::uint64_t seq`; push() sets both.
template <typename Event>
class EventQueue {
 public:
  void push(Instant at, Event event) {
    event.at = at;
    event.seq = next_seq_++;
    heap_.push_back(std::move(event));
    sift_up(heap_.size() - 1);
  }

  const Event& top() const {
    assert(!heap_.empty());
    return heap_.front();
  }

  Event pop() {
    assert(!heap_.empty());
    Event out = std::move(heap_.front());
    heap_.front() = std::move(heap_.back());
    heap_.pop_back();
    if (!heap_.empty()) sift_down(0);
    return out;
  }

  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  void reserve(std::size_t n) { heap_.reserve(n); }

 private:
  static constexpr std::size_t kArity = 4;

  static bool before(const Event& a, const Event& b) {
    return a.at.us != b.at.us ? a.at.us < b.at.us : a.seq < b.seq;
  }

  void sift_up(std::size_t i) {
    Event moving = std::move(heap_[i]);
    while (i > 0) {
      const std::size_t parent = (i - 1) / kArity;
      if (!before(moving, heap_[parent])) break;
      heap_[i] = std::move(heap_[parent]);
      i = parent;
    }
    heap_[i] = std::move(moving);
  }

  void sift_down(std::size_t i) {
    const std::size_t n = heap_.size();
    Event moving = std::move(heap_[i]);
    while (true) {
      const std::size_t first = kArity * i + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t last = std::min(first + kArity, n);
      for (std::size_t c = first + 1; c < last; ++c) {
        if (before(heap_[c], heap_[best])) best = c;
      }
      if (!before(heap_[best], moving)) break;
      heap_[i] = std::move(heap_[best]);
      i = best;
    }
    heap_[i] = std::move(moving);
  }

  std::vector<Event> heap_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace syncstorm
