// The shipped scenario a test names, loaded as the command line resolves a name
// (scenarios/NAME.toml); the test fails, quoting the loader's error, when it does not load.
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "sim/cli/commands.hpp"
#include "sim/scenario/scenario.hpp"

namespace syncstorm::testing {

inline Scenario shipped_scenario(const std::string& name) {
  Result<Scenario> scenario = resolve_scenario(name);
  INFO((scenario.ok() ? std::string() : scenario.error().message));
  REQUIRE(scenario.ok());
  return scenario.value();
}

}  // namespace syncstorm::testing
