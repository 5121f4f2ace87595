// Cache hints for the large runs. With 10,000 clients and more, each replica's records are cold by
// the time its next event comes, and a binary search over them waits for one miss after another:
// every probe's address depends on the previous probe's result. Asking for all of a small block's
// lines first lets the memory system fetch them side by side, so the search waits about once.
//
// Hints only: nothing here reads or changes a value, so traces are the same with or without them.
#pragma once

#include <cstddef>

namespace syncstorm {

inline constexpr std::size_t kCacheLine = 64;
/// Blocks larger than this are not hinted whole: a search touches only a few of their lines, and
/// asking for all of them would push out more than it brings in.
inline constexpr std::size_t kPrefetchMaxLines = 32;

// Always inlined: GCC otherwise finds that a function doing nothing but prefetch has no effect,
// marks it const, and drops the calls to it.

/// Where a hint asks the lines to go. An event that only reads its node's record (a timer of a
/// trivial model, as in the hold benchmark) wants it in L1. A delivery to a replica reads forty or
/// so lines (its record, its object, its store's records, its fields, the payload), and each line
/// asked for in L1 holds one of the core's few L1 miss buffers until it arrives: the hint
/// instructions then stall behind each other (perf showed them as the loop's hottest). Asked for
/// in L2 only, they leave those buffers to the lines being read now, and the later reads hit L2, a
/// few cycles away. Measured: the 30,000- and 100,000-client storms about 8% faster, the hold
/// benchmark the same only when its timers keep asking for L1.
enum class HintInto { l1, l2 };

/// Asks for the cache lines of [data, data + bytes), when that is at most kPrefetchMaxLines lines.
template <HintInto into = HintInto::l1>
[[gnu::always_inline]] inline void prefetch_block(const void* data, std::size_t bytes) {
#if defined(__GNUC__)
  if (data == nullptr || bytes == 0 || bytes > kPrefetchMaxLines * kCacheLine) return;
  // The third argument is the temporal locality: 3 is prefetcht0 (every level), 1 is prefetcht2
  // (L2 and beyond).
  constexpr int locality = into == HintInto::l1 ? 3 : 1;
  const char* p = static_cast<const char*>(data);
  const char* end = p + bytes;
  for (; p < end; p += kCacheLine) __builtin_prefetch(p, 0, locality);
  __builtin_prefetch(end - 1, 0, locality);  // the last line, when `data` is not line-aligned
#else
  (void)data;
  (void)bytes;
#endif
}

/// The same for a contiguous container (a vector, or a flat map's sorted vector).
template <HintInto into = HintInto::l1, typename Contiguous>
[[gnu::always_inline]] inline void prefetch_elements(const Contiguous& c) {
  if (!c.empty()) prefetch_block<into>(&*c.begin(), c.size() * sizeof(*c.begin()));
}

}  // namespace syncstorm
