// The invariants the checkers judge, by name. Scenarios enable them, buggy baselines name the one they
// break and repro files store it: so the names live here, below the scenario, model and checker layers.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace syncstorm {

/// One property the checkers judge; a deliberately buggy baseline names the one it is known to break.
enum class Invariant : std::uint8_t {
  convergence,
  resurrection,
  lost_acknowledged_write,
  silent_rollback,
  phantom_or_double_applied,
  bounded_metadata,
  monotonic_writes,
  monotonic_reads,
  read_your_writes,
};
std::string_view to_string(Invariant invariant);
std::optional<Invariant> parse_invariant(std::string_view text);
/// One line saying what the invariant checks, for `syncstorm list`.
std::string_view describe(Invariant invariant);
inline constexpr Invariant kAllInvariants[] = {
    Invariant::convergence,     Invariant::resurrection,
    Invariant::lost_acknowledged_write, Invariant::silent_rollback,
    Invariant::phantom_or_double_applied, Invariant::bounded_metadata,
    Invariant::monotonic_writes, Invariant::monotonic_reads, Invariant::read_your_writes,
};

}  // namespace syncstorm
