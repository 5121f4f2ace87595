// The event queue: pops strictly by (time, insertion sequence). The sequence number makes
// simultaneous events run in the order they were scheduled, on every machine and standard library.
//
// Why not one heap: with 10,000 or more pending events a heap's pop walks log(n) levels of an array
// larger than the first-level cache, each level a likely cache miss and a branch the CPU cannot
// predict. Most pending events are far from being popped and need not be ordered yet. So this is a
// two-level calendar (bucket) queue:
//
//   near_     a 4-ary min-heap of every event in the buckets already opened (and any event pushed
//             before them); usually a few dozen events, so it stays in the first-level cache;
//   buckets_  a ring of unsorted buckets, each 2^shift_ microseconds wide, from origin_ on; a push
//             appends to one; the next bucket is heapified into near_ when near_ runs dry;
//   far_      an unsorted vector of the events beyond the last bucket.
//
// Everything in near_ is earlier than everything in the buckets, bucket i earlier than bucket i+1, and
// the last bucket earlier than far_, so near_'s minimum is the queue's minimum. The order of events
// inside a bucket or in far_ never matters: near_ orders by the strict total order (time, sequence),
// so the pop order is exactly a heap's, whatever the bucket widths, on every machine.
//
// When the buckets are used up, far_ is spread over a fresh ring (a "renewal"). The width comes from
// the median of far_'s times (about kEventsPerBucket events per bucket in the nearer half), and the
// ring always reaches past that median, so a renewal moves at least half of far_ into buckets and its
// O(far_) cost is paid for by the events it moves: O(1) moves per event, whatever the distribution.
// The first bucket is opened lazily in top() or pop(), so the first renewal sees every event pushed
// before the first pop (a simulation's whole setup), not only the first one.
//
// Worst cases fall back to the old 4-ary heap: events at one instant, or a dense cluster inside one
// wide bucket, all land in near_. If near_ grows past kNearMax while buckets are wider than a
// microsecond, everything is gathered and renewed with a fresh width, at most once per size() pops,
// so gathering costs O(1) per pop. A queue renewed from kHeapOnlyMax events or fewer is only near_,
// a plain heap, until it doubles: buckets cost more than they save when everything fits in the cache.
//
// Buckets store events in fixed-size chunks from one pool (a bucket is a chain of chunks), so a
// bucket header is 8 bytes, pushes never reallocate, and an opened bucket's chunks are reused by the
// next pushes while still in the cache. Memory is bounded by the peak number of pending events plus
// one partly filled chunk per bucket, with at most kBucketsMax buckets (and no more than events).
#pragma once

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "sim/base/time.hpp"

namespace syncstorm {

/// `Event` must have members `Instant at` and `std::uint64_t seq`, and be default-constructible;
/// push() sets both members.
template <typename Event>
class EventQueue {
 public:
  /// Events per bucket aimed for at the median density: few enough that near_ stays in the cache,
  /// enough that opening a bucket is rare.
  static constexpr std::uint64_t kEventsPerBucket = 16;
  /// The ring never has more buckets than this, nor more than the events it is renewed from (or 64).
  /// 2^14 headers are 128 KB, which stay in the second-level cache beside the simulation's own data;
  /// 2^16 measured 5 to 15% slower through the engine at 10,000 and 100,000 nodes.
  static constexpr std::size_t kBucketsMax = std::size_t{1} << 14;
  /// A near_ heap larger than this triggers a gathering and renewal when buckets could be narrower.
  static constexpr std::size_t kNearMax = 2048;
  /// A renewal from at most this many events makes the queue a plain heap (buckets cost more than
  /// they save when everything fits in a few cache lines); twice as many end that.
  static constexpr std::size_t kHeapOnlyMax = 32;
  /// Events per chunk of bucket storage: 256 bytes for the simulation's 32-byte events.
  static constexpr std::size_t kChunkEvents = 8;
  /// Chunks are allocated in blocks of this many, which never move (chunk indices stay valid).
  static constexpr std::size_t kChunksPerBlock = 512;
  /// More pending events than this would overflow 32-bit bucket counts and chunk indices.
  static constexpr std::size_t kSizeMax = std::numeric_limits<std::uint32_t>::max();

  void push(Instant at, Event event) {
    assert(size_ < kSizeMax && "the event queue holds fewer than 2^32 events");
    event.at = at;
    event.seq = next_seq_++;
    ++size_;
    place(std::move(event));
    if (near_.size() > near_max_) on_near_full();
  }

  /// The earliest event. Not const: the next bucket is opened here when near_ is empty.
  const Event& top() {
    assert(size_ > 0);
    if (near_.empty()) refill();
    return near_.front();
  }

  /// The event that pop() would return after top()'s if nothing were pushed, when that is known
  /// without opening a bucket; null otherwise. For prefetching (a hint: pushes may come between).
  const Event* second() const {
    const std::size_t n = near_.size();
    if (n < 2) return nullptr;
    const std::size_t last = std::min<std::size_t>(kArity + 1, n);
    std::size_t best = 1;
    for (std::size_t c = 2; c < last; ++c) {
      if (before(near_[c], near_[best])) best = c;
    }
    return &near_[best];
  }

  Event pop() {
    assert(size_ > 0);
    if (near_.empty()) refill();
    Event out = std::move(near_.front());
    Event last = std::move(near_.back());
    near_.pop_back();
    if (!near_.empty()) sift_down(0, std::move(last));
    --size_;
    ++pops_since_renewal_;
    return out;
  }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  /// Every push before the first pop lands in far_, so that is where room helps.
  void reserve(std::size_t n) {
    assert(n < kSizeMax);
    far_.reserve(n);
  }

 private:
  static constexpr std::size_t kArity = 4;
  static constexpr std::uint32_t kNoChunk = std::numeric_limits<std::uint32_t>::max();

  struct Chunk {
    Event events[kChunkEvents];
  };
  /// A bucket: the chunk being filled (the newest; each links to the previous, full one) and the
  /// number of events. Empty buckets hold no chunk.
  struct Bucket {
    std::uint32_t head = kNoChunk;
    std::uint32_t count = 0;
  };

  static bool before(const Event& a, const Event& b) {
    return a.at.us != b.at.us ? a.at.us < b.at.us : a.seq < b.seq;
  }

  void place(Event&& event) {
    const std::int64_t at = event.at.us;
    if (heap_only_ || at < origin_) {
      near_push(std::move(event));
      return;
    }
    // Unsigned difference: exact for any two int64 values with at >= origin_.
    const std::uint64_t index = (static_cast<std::uint64_t>(at) - static_cast<std::uint64_t>(origin_)) >> shift_;
    if (index < opened_) {
      near_push(std::move(event));
    } else if (index < ring_size_) {
      bucket_push(static_cast<std::size_t>(index), std::move(event));
    } else {
      far_.push_back(std::move(event));
    }
  }

  /// near_ is larger than it should be: gather and renew if that can help and has been paid for.
  void on_near_full() {
    if (heap_only_ || (shift_ > 0 && pops_since_renewal_ >= size_)) gather_and_renew();
  }

  /// Sifts up a hole and writes the event once, at its place: writing it at the end first and
  /// reading it back in pieces would stall on store forwarding.
  void near_push(Event&& event) {
    std::size_t i = near_.size();
    near_.emplace_back();
    while (i > 0) {
      const std::size_t parent = (i - 1) / kArity;
      if (!before(event, near_[parent])) break;
      near_[i] = std::move(near_[parent]);
      i = parent;
    }
    near_[i] = std::move(event);
  }

  void bucket_push(std::size_t b, Event&& event) {
    Bucket& bucket = buckets_[b];
    const std::size_t slot = bucket.count % kChunkEvents;
    if (slot == 0) {
      const std::uint32_t chunk = new_chunk();
      chunk_next_[chunk] = bucket.head;
      bucket.head = chunk;
      if (bucket.count == 0) occupied_[b >> 6] |= std::uint64_t{1} << (b & 63);
    }
    chunk_at(bucket.head).events[slot] = std::move(event);
    ++bucket.count;
  }

  Chunk& chunk_at(std::uint32_t chunk) { return blocks_[chunk / kChunksPerBlock][chunk % kChunksPerBlock]; }

  std::uint32_t new_chunk() {
    if (!free_chunks_.empty()) {
      const std::uint32_t chunk = free_chunks_.back();
      free_chunks_.pop_back();
      return chunk;
    }
    const std::size_t chunk = chunk_next_.size();
    assert(chunk < kNoChunk && "chunk indices fit in 32 bits (kSizeMax keeps them there)");
    if (chunk % kChunksPerBlock == 0) blocks_.push_back(std::make_unique<Chunk[]>(kChunksPerBlock));
    chunk_next_.push_back(kNoChunk);
    return static_cast<std::uint32_t>(chunk);
  }

  /// Appends bucket b's events to `out` and returns its chunks to the pool.
  void take_bucket(std::size_t b, std::vector<Event>& out) {
    Bucket& bucket = buckets_[b];
    assert(bucket.count > 0);
    std::size_t in_chunk = (bucket.count - 1) % kChunkEvents + 1;  // the head chunk may be partly full
    for (std::uint32_t chunk = bucket.head; chunk != kNoChunk;) {
      Chunk& c = chunk_at(chunk);
      for (std::size_t i = 0; i < in_chunk; ++i) {
        assert(in_bucket(c.events[i], b) && "a bucket holds only events of its own time window");
        out.push_back(std::move(c.events[i]));
      }
      in_chunk = kChunkEvents;
      free_chunks_.push_back(chunk);
      chunk = chunk_next_[chunk];
    }
    bucket = Bucket{};
    occupied_[b >> 6] &= ~(std::uint64_t{1} << (b & 63));
  }

  bool in_bucket(const Event& e, std::size_t b) const {
    return e.at.us >= origin_ && ((static_cast<std::uint64_t>(e.at.us) - static_cast<std::uint64_t>(origin_)) >> shift_) == b;
  }

  /// Makes near_ non-empty (the queue is not): opens the next occupied bucket, renewing the ring
  /// from far_ when the buckets are used up.
  void refill() {
    assert(near_.empty() && size_ > 0);
    while (true) {
      const std::size_t b = next_occupied(opened_);
      if (b < ring_size_) {
        open(b);
        return;
      }
      opened_ = ring_size_;
      assert(!far_.empty() && "events are in near_, a bucket or far_");
      renew();
      if (!near_.empty()) return;
    }
  }

  /// The first occupied bucket at or after `from`, or ring_size_.
  std::size_t next_occupied(std::size_t from) const {
    std::size_t word = from >> 6;
    const std::size_t words = (ring_size_ + 63) >> 6;
    if (word >= words) return ring_size_;
    std::uint64_t bits = occupied_[word] & (~std::uint64_t{0} << (from & 63));
    while (bits == 0) {
      if (++word == words) return ring_size_;
      bits = occupied_[word];
    }
    return std::min(ring_size_, (word << 6) + static_cast<std::size_t>(std::countr_zero(bits)));
  }

  void open(std::size_t b) {
    assert(near_.empty());
    take_bucket(b, near_);
    opened_ = b + 1;
    if (near_.size() > near_max_ && shift_ > 0 && pops_since_renewal_ >= size_) {
      gather_and_renew();
      return;
    }
    heapify();
  }

  /// Spreads far_ over a fresh ring, or moves it into near_ when it is small. Requires near_ and
  /// every bucket empty.
  void renew() {
    assert(near_.empty() && !far_.empty());
    pops_since_renewal_ = 0;
    heap_only_ = far_.size() <= kHeapOnlyMax;
    if (heap_only_) {
      near_max_ = 2 * kHeapOnlyMax;
      ring_size_ = 0;
      opened_ = 0;
      std::swap(near_, far_);
      heapify();
      return;
    }
    near_max_ = kNearMax;
    times_.clear();
    std::int64_t last = far_.front().at.us;
    for (const Event& e : far_) {
      times_.push_back(e.at.us);
      last = std::max(last, e.at.us);
    }
    const std::size_t half = times_.size() / 2;
    const auto nth = times_.begin() + static_cast<std::ptrdiff_t>(half);
    std::nth_element(times_.begin(), nth, times_.end());
    const std::int64_t median = *nth;
    const std::int64_t first = *std::min_element(times_.begin(), nth + 1);
    const std::uint64_t median_span = static_cast<std::uint64_t>(median) - static_cast<std::uint64_t>(first);
    const std::uint64_t full_span = static_cast<std::uint64_t>(last) - static_cast<std::uint64_t>(first);
    std::uint32_t shift = shift_for(median_span, half + 1);
    // The ring must reach past the median within its bucket limit, so that at least half of far_
    // moves into buckets.
    const std::size_t limit = std::min(kBucketsMax, std::max<std::size_t>(64, far_.size()));
    while (shift < 63 && (median_span >> shift) + 1 > limit / 2) ++shift;
    ring_size_ = static_cast<std::size_t>(std::min<std::uint64_t>((full_span >> shift) + 1, limit));
    assert((median_span >> shift) < ring_size_ && "the ring reaches past the median");
    origin_ = first;
    shift_ = shift;
    opened_ = 0;
    if (buckets_.size() < ring_size_) buckets_.resize(ring_size_);
    occupied_.assign((ring_size_ + 63) >> 6, 0);
    // Two buffers take turns as far_, so a renewal allocates nothing once they have grown.
    std::swap(far_, renewing_);
    for (Event& e : renewing_) place(std::move(e));
    renewing_.clear();
    if (renewing_.capacity() > 2 * size_ + 4096) renewing_ = std::vector<Event>{};
    assert(next_occupied(0) == 0 && "the earliest far event opens the first bucket");
  }

  /// log2 of a bucket width that puts about kEventsPerBucket of `count` events spread over `span`
  /// microseconds in each bucket, rounded down to a power of two.
  static std::uint32_t shift_for(std::uint64_t span, std::uint64_t count) {
    assert(count > 0);
    const std::uint64_t per_event = span / count;
    if (per_event >= std::numeric_limits<std::uint64_t>::max() / kEventsPerBucket) return 63;
    const std::uint64_t width = per_event * kEventsPerBucket + span % count * kEventsPerBucket / count;
    return width <= 1 ? 0 : static_cast<std::uint32_t>(std::bit_width(width) - 1);
  }

  /// Moves everything into far_, renews, and opens the first bucket: near_ outgrew the cache because
  /// the buckets are too wide for where the events now are.
  void gather_and_renew() {
    far_.insert(far_.end(), std::make_move_iterator(near_.begin()), std::make_move_iterator(near_.end()));
    near_.clear();
    for (std::size_t b = next_occupied(opened_); b < ring_size_; b = next_occupied(b + 1)) take_bucket(b, far_);
    opened_ = ring_size_;
    renew();
    if (!near_.empty()) return;
    take_bucket(0, near_);
    opened_ = 1;
    heapify();
  }

  void heapify() {
    if (near_.size() < 2) return;
    for (std::size_t i = (near_.size() - 2) / kArity + 1; i-- > 0;) {
      Event moving = std::move(near_[i]);
      sift_down(i, std::move(moving));
    }
  }

  /// Moves the hole at i down to where `moving` belongs and writes it there.
  void sift_down(std::size_t i, Event&& moving) {
    const std::size_t n = near_.size();
    while (true) {
      const std::size_t first = kArity * i + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t last = std::min(first + kArity, n);
      for (std::size_t c = first + 1; c < last; ++c) {
        if (before(near_[c], near_[best])) best = c;
      }
      if (!before(near_[best], moving)) break;
      near_[i] = std::move(near_[best]);
      i = best;
    }
    near_[i] = std::move(moving);
  }

  std::vector<Event> near_;
  std::vector<Bucket> buckets_;                  ///< the first ring_size_ are the ring; the rest are empty
  std::vector<std::uint64_t> occupied_;          ///< one bit per ring bucket: it holds events
  std::vector<std::unique_ptr<Chunk[]>> blocks_;  ///< the chunk pool
  std::vector<std::uint32_t> chunk_next_;        ///< per chunk: the bucket's previous chunk, or kNoChunk
  std::vector<std::uint32_t> free_chunks_;       ///< a stack, so the chunks freed last (cached) go first
  std::vector<Event> far_;
  std::vector<Event> renewing_;                  ///< far_'s other buffer, empty between renewals
  std::vector<std::int64_t> times_;              ///< renewal scratch, kept to avoid reallocating
  /// The start of bucket 0, in microseconds. Before the first renewal there are no buckets and
  /// nothing is before the origin, so every push goes to far_.
  std::int64_t origin_ = std::numeric_limits<std::int64_t>::min();
  std::uint32_t shift_ = 0;                      ///< buckets are 2^shift_ microseconds wide
  bool heap_only_ = false;                       ///< everything is in near_ (a small queue)
  std::size_t near_max_ = kNearMax;
  std::size_t ring_size_ = 0;
  std::size_t opened_ = 0;                       ///< buckets before this one have gone into near_
  std::size_t size_ = 0;
  std::size_t pops_since_renewal_ = 0;
  std::uint64_t next_seq_ = 0;
};

}  // namespace syncstorm
