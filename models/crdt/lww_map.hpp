// The pure state of the last-writer-wins map CRDT: per-field timestamps, their order, and the merge
// that every replica and server applies. Kept apart from the nodes so the RapidCheck laws can test
// merge alone (tests/models/lww_map_test.cpp).
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>

#include <boost/container/flat_map.hpp>

#include "sim/base/codec.hpp"
#include "sim/base/data.hpp"
#include "sim/base/ids.hpp"
#include "sim/base/time.hpp"

namespace syncstorm::lww {

/// The timestamp of one write. Compared lexicographically: time, then logical counter, then the
/// writing node, then the operation id, so that two distinct writes never tie and every replica
/// picks the same winner.
struct Stamp {
  std::int64_t time_us = 0;   ///< physical part, in microseconds of the writer's (hybrid) clock
  std::uint32_t logical = 0;  ///< hybrid logical clock counter: orders writes within one time_us
  std::uint32_t node = 0;     ///< the writing client's NodeId
  std::uint64_t op = 0;       ///< the writing operation, which is also the value the field holds
  constexpr auto operator<=>(const Stamp&) const = default;
};

/// A hybrid logical clock (Kulkarni et al.): never behind the local clock, never behind any stamp it
/// has observed, so a write made after seeing another always carries a larger stamp, whatever the
/// clock skew.
struct HybridClock {
  std::int64_t time_us = 0;
  std::uint32_t logical = 0;

  /// The stamp of a new local write at local time `now`.
  Stamp tick(Instant now, NodeId node, OpId op);
  /// Moves the clock past a stamp received from elsewhere.
  void observe(const Stamp& seen);
};

/// The replicated state: for each field, the stamp of the write that currently wins it.
struct Map {
  /// A sorted vector (flat map): a map has a few dozen fields at most, and with 100,000 replicas
  /// one contiguous block each is what keeps a write's cost flat as the working set leaves the caches.
  boost::container::flat_map<KeyId, Stamp> fields;

  /// Applies one write; returns whether it won (changed the field).
  bool set(KeyId key, const Stamp& stamp);
  /// Pointwise maximum of the two maps; returns whether anything changed here.
  bool merge(const Map& other);
  State to_state() const;
  std::uint64_t metadata_bytes() const;

  void encode(Writer& w) const;
  /// Reads what encode wrote; nullopt on malformed input.
  static std::optional<Map> decode(Reader& r);
  friend bool operator==(const Map&, const Map&) = default;
};

}  // namespace syncstorm::lww
