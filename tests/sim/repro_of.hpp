#pragma once
// A repro built in a test, as check builds one from a failing run.

#include <cstdint>
#include <string>
#include <utility>

#include "sim/scenario/scenario.hpp"
#include "sim/scenario/schedule.hpp"
#include "sim/sweep/repro.hpp"

namespace syncstorm::testing {

/// The repro of `model`'s run of `scenario` at `seed` over `schedule`, failing `invariant`: the
/// scenario's settings the engine reads, and no trace hash (a test that replays it sets one).
inline Repro repro_of(const Scenario& scenario, std::string model, std::uint64_t seed, std::string invariant,
                      Schedule schedule) {
  Repro r;
  r.scenario_name = scenario.name;
  r.model = std::move(model);
  r.seed = seed;
  r.invariant = std::move(invariant);
  r.persistence = scenario.persistence;
  r.invariants = scenario.invariants;
  r.schedule = std::move(schedule);
  return r;
}

}  // namespace syncstorm::testing
