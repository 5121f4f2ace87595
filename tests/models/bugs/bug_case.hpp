// What every bug-suite test asks of its model: on a shipped scenario and a seed found by a sweep,
// the engine's checkers catch the bug by the invariant it declares, while the correct strategy it
// deviates from (restated with the suite's seams, and as shipped) passes the very same seed.
#pragma once

#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "models/bugs/parts.hpp"
#include "sim/cli/commands.hpp"
#include "sim/engine/simulation.hpp"
#include "tests/models/harness.hpp"
#include "tests/printers.hpp"

namespace syncstorm::testing {

/// The invariants one run of `model` on the shipped scenario `scenario_name` breaks.
inline std::set<Invariant> broken_on(const std::string& scenario_name, const ModelInfo& model, std::uint64_t seed) {
  auto scenario = resolve_scenario(scenario_name);
  REQUIRE(scenario.ok());
  REQUIRE(fits(scenario.value(), model));
  const RunResult r = run_simulation(scenario.value(), model, make_schedule(scenario.value(), model, seed), seed);
  std::set<Invariant> broken;
  for (const Violation& v : r.violations) broken.insert(v.invariant);
  return broken;
}

/// The bug is caught on `seed` by its own invariant; the reference and the shipped counterpart pass it.
inline void expect_caught(const std::string& name, const std::string& scenario_name, std::uint64_t seed,
                          const std::string& counterpart) {
  const ModelInfo& bug = shipped_model(name);
  REQUIRE(bug.bug_suite);
  REQUIRE(bug.breaks.has_value());
  INFO(name << " on " << scenario_name << " seed " << seed << " breaks " << to_string(*bug.breaks));
  CHECK(broken_on(scenario_name, bug, seed).contains(*bug.breaks));
  const ModelInfo reference =
      bug.data_type == DataType::counter ? bugs::reference_counter_model() : bugs::reference_map_model();
  CHECK(broken_on(scenario_name, reference, seed).empty());
  CHECK(broken_on(scenario_name, shipped_model(counterpart), seed).empty());
}

}  // namespace syncstorm::testing
