// The pure state of the PN-counter CRDT: per-replica totals of increments (P) and decrements (N),
// merged by pointwise maximum. Kept apart from the nodes so the RapidCheck laws can test merge alone
// (tests/models/pn_counter_test.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>

#include "sim/base/codec.hpp"

namespace syncstorm::pn {

/// One replica's totals. Both only ever grow, which is what makes a pointwise maximum a merge.
struct Totals {
  std::uint64_t added = 0;       ///< sum of positive amounts this replica applied
  std::uint64_t subtracted = 0;  ///< sum of the magnitudes of negative amounts it applied
  friend bool operator==(const Totals&, const Totals&) = default;
};

struct Counter {
  /// Keyed by replica id: a client's NodeId in the high 32 bits and an incarnation drawn at start in
  /// the low ones, so that a client restarted without its store never reuses totals it has lost.
  std::map<std::uint64_t, Totals> replicas;

  /// Applies a local increment (negative: decrement) of `replica`.
  void add(std::uint64_t replica, std::int64_t amount);
  /// Raises one replica's totals to at least `totals`; returns whether anything grew.
  bool raise(std::uint64_t replica, const Totals& totals);
  /// Pointwise maximum; returns whether anything grew here.
  bool merge(const Counter& other);
  /// Whether this state includes every change `replica` had made when its totals were `totals`.
  bool includes(std::uint64_t replica, const Totals& totals) const;
  std::int64_t value() const;
  std::uint64_t metadata_bytes() const;

  void encode(Writer& w) const;
  /// Reads what encode wrote; nullopt on malformed input.
  static std::optional<Counter> decode(Reader& r);
  friend bool operator==(const Counter&, const Counter&) = default;
};

}  // namespace syncstorm::pn
