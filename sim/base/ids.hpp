// Distinct id types, so that a node id can never be passed where an operation id is meant.
#pragma once

#include <compare>
#include <cstdint>

namespace syncstorm {

/// A node of the simulation. Servers are numbered first (0..servers-1), then clients.
struct NodeId {
  std::uint32_t value = 0;
  constexpr auto operator<=>(const NodeId&) const = default;
};

/// A user operation. Unique within a run, and also the unique value that the operation writes,
/// as Jepsen does: the final state then names exactly which writes survived.
struct OpId {
  std::uint64_t value = 0;
  constexpr auto operator<=>(const OpId&) const = default;
  constexpr bool valid() const { return value != 0; }
};

/// A map field or a list item id. The workload draws keys from a small pool so that users collide.
struct KeyId {
  std::uint32_t value = 0;
  constexpr auto operator<=>(const KeyId&) const = default;
};

}  // namespace syncstorm
