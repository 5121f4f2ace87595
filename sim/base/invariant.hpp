// The invariants the checkers judge, by name. Scenarios enable them, buggy baselines name the one they
// break and repro files store it: so the names live here, below the scenario, model and checker layers.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "sim/base/enum_names.hpp"

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
  writes_follow_reads,
};
inline constexpr std::pair<Invariant, std::string_view> kInvariantNames[] = {
    {Invariant::convergence, "convergence"},
    {Invariant::resurrection, "resurrection"},
    {Invariant::lost_acknowledged_write, "lost-acknowledged-write"},
    {Invariant::silent_rollback, "silent-rollback"},
    {Invariant::phantom_or_double_applied, "phantom-or-double-applied"},
    {Invariant::bounded_metadata, "bounded-metadata"},
    {Invariant::monotonic_writes, "monotonic-writes"},
    {Invariant::monotonic_reads, "monotonic-reads"},
    {Invariant::read_your_writes, "read-your-writes"},
    {Invariant::writes_follow_reads, "writes-follow-reads"},
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
    Invariant::writes_follow_reads,
};

}  // namespace syncstorm
