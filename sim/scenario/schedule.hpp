// The explicit situation of one run: every user operation and every fault with its time and its
// nodes, and the network settings swarm mode drew. It is made from (scenario, seed) before the run
// and is what a repro file stores and what shrinking cuts down: replaying a schedule against changed
// model code puts the model in the same situation.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/base/data.hpp"
#include "sim/scenario/scenario.hpp"

namespace syncstorm {

/// A fault with concrete nodes and times. For a partition, `side_a` and `side_b` cannot talk
/// (only a->b is cut when `one_way`), and `bridge` nodes reach both sides.
struct ScheduledFault {
  FaultKind kind = FaultKind::partition;
  Instant start;
  Duration duration;
  std::vector<NodeId> side_a;  ///< the target nodes (sorted)
  std::vector<NodeId> side_b;  ///< partitions: the other side (sorted)
  std::vector<NodeId> bridge;  ///< partitions: nodes that reach both sides (sorted)
  bool one_way = false;
  Duration amount;
  std::uint64_t bytes = 0;
  Ppm ppm = 0;

  Instant end() const { return start + duration; }
  friend bool operator==(const ScheduledFault&, const ScheduledFault&) = default;
};

struct Schedule {
  std::uint32_t servers = 1;
  std::uint32_t clients = 1;
  NetworkOptions network;                  ///< after swarm mode's draws
  std::vector<Duration> clock_skew;        ///< per node
  std::vector<std::int32_t> clock_drift_ppm;  ///< per node
  /// Per node: the number its random streams (its model's and its network's) are derived from.
  /// Empty means each node's own number. Shrinking removes clients and renumbers the nodes after
  /// them, but keeps their streams, so the remaining nodes meet the same network draws.
  std::vector<std::uint32_t> streams;
  std::vector<Operation> operations;       ///< sorted by (issued_at, id); ids are 1..n in that order
  std::vector<ScheduledFault> faults;      ///< sorted by start
  Instant workload_end;                    ///< users act before this
  Duration settle;

  std::uint32_t node_count() const { return servers + clients; }
  NodeId server(std::uint32_t i) const { return NodeId{i}; }
  NodeId client(std::uint32_t i) const { return NodeId{servers + i}; }
  bool is_server(NodeId n) const { return n.value < servers; }
  std::uint32_t stream_of(std::uint32_t node) const { return node < streams.size() ? streams[node] : node; }
  /// The moment the last fault heals (or the workload ends, if later).
  Instant last_heal() const;
  /// When the run ends: the last heal plus the settle period.
  Instant end() const { return last_heal() + settle; }

  friend bool operator==(const Schedule&, const Schedule&) = default;
};

/// Draws the schedule of run `seed`: the users' operations of `type`, the faults (scenario-listed
/// ones made concrete, plus swarm draws), the clock errors. Streams are derived per component, so
/// two data types meet the same timings, keys and faults.
Schedule make_schedule(const Scenario& scenario, DataType type, std::uint64_t seed);

/// Renumbers operation ids to 1..n in time order and re-sorts faults; used after shrinking.
void normalise(Schedule& schedule);

}  // namespace syncstorm
