// The priority exploration strategy's delays: PCT (Burckhardt et al., "A randomized scheduler with
// probabilistic guarantees of finding bugs") adapted to message passing as PCTCP does. Each node gets
// a random priority; at a few random moments (the change points) the node with the highest priority
// drops to the lowest. A message travels at its connection's priority: the connection of a client
// to its server has the client's, any other link the sender's. Priority rank r of n picks the
// delay from the r-th of n equal bands of [latency min, latency p99], so the highest-priority
// connections deliver near the minimum and the lowest near the 99th percentile. Those delays are
// ones the random strategy's log-normal can draw too (it ranges from the minimum upward): the
// strategy chooses among legal schedules, and FIFO per stream is kept by the engine as always.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/base/rng.hpp"
#include "sim/base/time.hpp"
#include "sim/scenario/schedule.hpp"

namespace syncstorm {

class PriorityPlan {
 public:
  /// Change points per run (PCT's d - 1, with d = 3: bugs of depth 3 get a fair chance).
  static constexpr std::uint32_t kChangePoints = 2;

  /// An inactive plan: delay() is never asked.
  PriorityPlan() = default;
  /// The plan of run `seed` over `schedule`'s nodes. Priorities come from each node's stream number
  /// (Schedule::stream_of), so a shrunk schedule's remaining nodes keep their relative order.
  static PriorityPlan draw(const Schedule& schedule, std::uint64_t seed);

  /// The rank of `node` at `now`: 0 is the highest priority, node_count - 1 the lowest.
  std::uint32_t rank(std::uint32_t node, Instant now) const;
  /// When the priorities change, in time order.
  const std::vector<Instant>& change_points() const { return change_at_; }
  /// A delay for a message of `owner`'s connection sent at `now`, in the band its rank gives
  /// within [low, high] (both inclusive); `rng` is the sender's network stream.
  Duration delay(std::uint32_t owner, Instant now, Duration low, Duration high, Rng& rng) const;

 private:
  std::vector<Instant> change_at_;                 ///< sorted
  std::vector<std::vector<std::uint32_t>> ranks_;  ///< ranks_[k][node]: after k change points
};

}  // namespace syncstorm
