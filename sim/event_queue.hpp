// The event queue: a binary min-heap ordered by (time, insertion sequence). The sequence number makes
// simultaneous events run in the order they were scheduled, on every machine and standard library.
#pragma once

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
  static bool before(const Event& a, const Event& b) {
    return a.at.us != b.at.us ? a.at.us < b.at.us : a.seq < b.seq;
  }

  void sift_up(std::size_t i) {
    Event moving = std::move(heap_[i]);
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
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
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(heap_[child + 1], heap_[child])) ++child;
      if (!before(heap_[child], moving)) break;
      heap_[i] = std::move(heap_[child]);
      i = child;
    }
    heap_[i] = std::move(moving);
  }

  std::vector<Event> heap_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace syncstorm
