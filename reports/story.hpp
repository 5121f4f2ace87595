// The story of one failure (internal to reports/): from a run's trace, schedule and history, the
// messages and events on the causal path of the operations a violation names, the moments worth a
// label, each node's final value of the broken field or item, and a caption built from the
// violation's data. lamport.cpp draws it; the report writers print its caption.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/checkers/history.hpp"
#include "sim/checkers/invariants.hpp"
#include "sim/scenario/schedule.hpp"

namespace syncstorm::story {

/// One line of the JSON Lines trace: `a` is the first kind-specific field (message, operation,
/// epoch, incarnation, fault), `b` the second (bytes, target, reason, persistent, kind).
struct TraceLine {
  std::int64_t t = 0;
  std::string kind;
  std::uint32_t node = 0;
  std::uint32_t peer = 0;
  std::uint64_t a = 0;
  std::uint64_t b = 0;
};
std::vector<TraceLine> parse_trace(std::string_view jsonl);

/// A moment worth a short label on a node's lane.
struct Moment {
  std::int64_t t = 0;
  std::uint32_t node = 0;
  std::string label;
  bool alarm = false;  ///< the fault, the loss or the overwrite (drawn in the warning colour)
};

/// A message on the causal path that was sent and never delivered nor dropped: it died in flight
/// with its connection or its node. `cut_t` is the reset or crash that took it, or the run's end.
struct LostMessage {
  std::uint64_t msg = 0;
  std::int64_t sent_t = 0;
  std::int64_t cut_t = 0;
  std::uint32_t from = 0;
  std::uint32_t to = 0;
};

struct Story {
  bool told = false;  ///< false without a violation: the diagram is drawn plain
  /// Messages on the causal path: the first message through which each node could have learned of a
  /// named operation, its acknowledgement and rejection, and its copies that were dropped or lost.
  std::set<std::uint64_t> path_messages;
  std::vector<LostMessage> lost;       ///< in send order
  std::vector<Moment> moments;         ///< in time order, then node order
  std::vector<std::size_t> faults;     ///< indices into Schedule::faults that cut the path, ascending
  std::set<std::uint32_t> crashed;     ///< nodes that crashed while they knew a named operation
  std::vector<std::pair<std::uint32_t, std::int64_t>> losing_crashes;  ///< (node, time): crashes that lost it
  std::map<std::uint32_t, std::string> finals;  ///< per node: its final value of the subject ("field 0 = op383")
  std::set<std::uint32_t> differs;     ///< nodes whose final state lacks the first named operation
  std::string caption;                 ///< 1 to 3 sentences: what was lost, where, which fault made it possible
};

/// "server 0" or "client 3": the names the diagram's lanes use.
std::string node_name(const Schedule& schedule, std::uint32_t node);

/// Tells the story of the first violation in `violations` (the others' operations are highlighted
/// but not narrated). Deterministic: ordered containers only, events taken in trace order.
Story tell(const Schedule& schedule, const std::vector<TraceLine>& events, const std::vector<Violation>& violations,
           const History& history);

}  // namespace syncstorm::story
