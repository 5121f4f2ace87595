// The invariant checkers: small functions beside the engine, each judging a History by facts the
// simulator recorded. They flag what users call data loss and nothing a strategy promises.
#pragma once

#include <string>
#include <vector>

#include "sim/base/invariant.hpp"
#include "sim/checkers/history.hpp"
#include "sim/scenario/scenario.hpp"

namespace syncstorm {

/// One operation named in a violation report.
struct Involved {
  OpId op;
  std::string role;  ///< e.g. "acknowledged write", "delete", "superseding candidate"
};

struct Violation {
  Invariant invariant = Invariant::convergence;
  std::string subject;   ///< the item, field or node, e.g. "item 4", "field 2", "counter"
  std::string expected;
  std::string observed;
  std::string detail;    ///< one or two sentences a reader understands without the trace
  std::vector<Involved> involved;
};

/// Runs every enabled checker over `history`. Violations come out in a fixed order (by invariant,
/// then subject) so reports are deterministic.
std::vector<Violation> check_invariants(const History& history, const InvariantOptions& options);

/// A multi-line report: invariant, subject, operations (who, when, acknowledged or not, concurrent or
/// ordered), expected and observed values.
std::string format_violation(const Violation& violation, const History& history);

}  // namespace syncstorm
