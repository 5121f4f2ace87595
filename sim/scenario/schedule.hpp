// The explicit situation of one run: every user operation and every fault with its time and its
// nodes, and the network settings swarm mode drew. It is made from (scenario, seed) before the run
// and is what a repro file stores and what shrinking cuts down: replaying a schedule against changed
// model code puts the model in the same situation.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/base/data.hpp"
#include "sim/scenario/scenario.hpp"

namespace syncstorm {

/// How the runs of a sweep are chosen among the legal ones. `random` draws every delay and fault
/// independently, as the scenario says. `priority` is PCT's idea for message passing (PCTCP): each
/// run gives the nodes random priorities, which change at a few random moments, and a message travels
/// as fast as its connection's priority allows within the scenario's latency range (the fastest
/// node's at the range's minimum, the slowest's near its 99th percentile); it also adds a few bursts
/// of resets (and crashes, where the scenario has them) at moments a user's write is in flight (for
/// a peer-to-peer model, whose datagram links have no connection to reset, a brief isolation of the
/// writer instead, and a crash of the writer rather than of a server that only introduces peers).
/// `novelty` keeps a corpus of the sweep's schedules that reached something new and breeds later
/// runs from them (sim/sweep/novelty.hpp); a schedule it made runs as a random one does, and
/// make_schedule gives the corpus's roots: the random strategy's schedules.
enum class Exploration : std::uint8_t { random, priority, novelty };
inline constexpr std::pair<Exploration, std::string_view> kExplorationNames[] = {
    {Exploration::random, "random"}, {Exploration::priority, "priority"}, {Exploration::novelty, "novelty"}};

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
  /// How the engine picks message delays in this run (its fault bursts are already in `faults`).
  Exploration explore = Exploration::random;

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

/// Draws the schedule of run `seed` of `model`: the users' operations of its data type, the faults
/// (scenario-listed ones made concrete, plus swarm draws), the clock errors. Streams are derived per
/// component, so two data types meet the same timings, keys and faults. Swarm mode draws only kinds
/// that act on a link of the model's runs (fault_acts: no datagram loss for a model on stream
/// connections, no connection faults for peers without a server), so no fault of its budget is
/// spent on nothing; the coin each listed kind gets is tossed either way, so two models of one
/// data type whose links both take every kind the swarm enabled meet the same faults. `explore`
/// other than random adds its own draws (from streams of its own: the random schedule's draws are
/// unchanged) and is recorded in it.
Schedule make_schedule(const Scenario& scenario, const ModelInfo& model, std::uint64_t seed,
                       Exploration explore = Exploration::random);
/// The schedule of run `seed` for no model in particular, with users' operations of `type`: swarm
/// mode draws from every kind it lists, acting on the run's links or not. For tests of the draws
/// themselves; a run of a model takes the form above, as check, run and replay do.
Schedule make_schedule(const Scenario& scenario, DataType type, std::uint64_t seed,
                       Exploration explore = Exploration::random);

/// Renumbers operation ids to 1..n in time order and re-sorts faults; used after shrinking.
void normalise(Schedule& schedule);

}  // namespace syncstorm
