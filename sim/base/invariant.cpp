#include "sim/base/invariant.hpp"

namespace syncstorm {

std::string_view to_string(Invariant invariant) { return name_of(kInvariantNames, invariant); }

std::optional<Invariant> parse_invariant(std::string_view text) { return parse_enum(kInvariantNames, text); }

std::string_view describe(Invariant invariant) {
  switch (invariant) {
    case Invariant::convergence: return "after the last heal and the settle period every live replica and the server show the same state, within the bound";
    case Invariant::resurrection: return "an item removed by an acknowledged delete stays removed unless a concurrent or later add brings it back";
    case Invariant::lost_acknowledged_write: return "a write the user was told is saved survives unless a write the model's rule lets win supersedes it";
    case Invariant::silent_rollback: return "an operation the user saw applied does not vanish without a rejection shown to that user";
    case Invariant::phantom_or_double_applied: return "no value that was never written, no item twice, counters equal the sum of applied increments";
    case Invariant::bounded_metadata: return "tombstones, logs and version vectors per replica stay under the scenario's bound and do not grow with the writes faster than the state they serve (unless the model declares it keeps history)";
    case Invariant::monotonic_writes: return "an acknowledged write is never replaced by an earlier write of its own client: every replica applies one user's writes in the order they were made";
    case Invariant::monotonic_reads: return "a replica's view of a field or item never goes back to a value the one it showed had superseded, nor loses it without a remove";
    case Invariant::read_your_writes: return "once a user sees their own write, their replica never shows an older value in its place (unless the write was rejected)";
    case Invariant::writes_follow_reads: return "a replica that shows a user's write also shows what that user had read before making it, or a newer value (for a model that promises causal visibility)";
  }
  return "?";
}

}  // namespace syncstorm
