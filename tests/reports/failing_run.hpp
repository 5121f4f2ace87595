// A shipped buggy baseline on a seed where it fails, recorded with its trace and the bytes of its
// messages: what the timeline tests draw.
#pragma once

#include <catch2/catch.hpp>
#include <sstream>
#include <string>

#include "reports/timeline.hpp"
#include "sim/cli/commands.hpp"
#include "sim/engine/simulation.hpp"

namespace syncstorm::testing {

/// lww-map-wallclock on clock-skew, seed 1: it loses an acknowledged write (op313), as `syncstorm run` shows.
struct FailingRun {
  Scenario scenario;
  Schedule schedule;
  std::string trace;
  RunResult result;
  PayloadRecorder payloads;

  TimelineRun timeline() const {
    return TimelineRun{"lww-map-wallclock on clock-skew, seed 1", "syncstorm replay clock-skew --model lww-map-wallclock --seed 1",
                       &schedule, trace, &result.violations, &result.history, &payloads.payloads()};
  }
};

inline FailingRun failing_run() {
  auto scenario = resolve_scenario("clock-skew");
  REQUIRE(scenario.ok());
  const ModelRegistry registry = shipped_models();
  const ModelInfo* model = registry.find("lww-map-wallclock");
  REQUIRE(model);
  FailingRun r{scenario.value(), make_schedule(scenario.value(), *model, 1), {}, {}, PayloadRecorder()};
  std::ostringstream out;
  RunOptions options;
  options.trace_out = &out;
  options.on_send = [&r](std::uint64_t id, std::string_view bytes) { r.payloads.record(id, bytes); };
  r.result = run_simulation(r.scenario, *model, r.schedule, 1, options);
  r.trace = out.str();
  return r;
}

}  // namespace syncstorm::testing
