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

/// Asks for the cache lines of [data, data + bytes), when that is at most kPrefetchMaxLines lines.
[[gnu::always_inline]] inline void prefetch_block(const void* data, std::size_t bytes) {
#if defined(__GNUC__)
  if (data == nullptr || bytes == 0 || bytes > kPrefetchMaxLines * kCacheLine) return;
  const char* p = static_cast<const char*>(data);
  const char* end = p + bytes;
  for (; p < end; p += kCacheLine) __builtin_prefetch(p);
  __builtin_prefetch(end - 1);  // the last line, when `data` is not line-aligned
#else
  (void)data;
  (void)bytes;
#endif
}

/// The same for a contiguous container (a vector, or a flat map's sorted vector).
template <typename Contiguous>
[[gnu::always_inline]] inline void prefetch_elements(const Contiguous& c) {
  if (!c.empty()) prefetch_block(&*c.begin(), c.size() * sizeof(*c.begin()));
}

}  // namespace syncstorm
