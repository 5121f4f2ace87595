// The shrinker: from a failing run's explicit schedule to a small one that fails the same way.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "models/model.hpp"
#include "sim/engine/simulation.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/scenario/schedule.hpp"

namespace syncstorm {

/// Bounds on the work spent shrinking one failure.
struct ShrinkLimits {
  std::uint32_t max_runs = 2'000;     ///< simulations per failure
  std::int64_t max_wall_ms = 10'000;  ///< wall-clock milliseconds per failure; 0 = no limit
};

/// What a shrink ends with.
struct Shrunk {
  Schedule schedule;        ///< the smallest schedule found that still fails
  std::uint32_t runs = 0;   ///< simulations the shrink spent
  std::string stopped;      ///< "done", "run limit" or "time limit"
};

/// Whether `result` shows `verdict` (an invariant name or kAbortedVerdict).
bool shows(const RunResult& result, std::string_view verdict);

/// Cuts `schedule` down while `model` still fails `verdict` with `seed`: the operations the report
/// names (else the shortest failing prefix), whole clients, faults, operations by delta debugging,
/// fault durations, the workload window; never the settle period.
Shrunk shrink_schedule(const Scenario& scenario, const ModelInfo& model, const Schedule& schedule, std::uint64_t seed,
                       const std::string& verdict, const ShrinkLimits& limits);

}  // namespace syncstorm
