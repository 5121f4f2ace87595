// Shrink time per buggy model (the aim: "shrinking takes under 10 seconds per failure").
//  shrink/<model>: the first failure of the model's own invariant on the shipped scenarios (seeds
//    outer, as the canary test searches), shrunk once with check's default limits. Wall time is the
//    benchmark's time; counters give the simulations spent (`runs`, the ratio against one run of
//    the same failure) and the schedule's size before and after.
#include <benchmark/benchmark.h>

#include <algorithm>

#include "sim/sweep/check.hpp"
#include "sim/cli/commands.hpp"
#include "sim/engine/simulation.hpp"

using namespace syncstorm;

namespace {

struct Failure {
  Scenario scenario;
  Schedule schedule;
  std::uint64_t seed = 0;
};

std::optional<Failure> first_failure(const ModelInfo& model, const std::vector<Scenario>& scenarios) {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    for (const Scenario& scenario : scenarios) {
      if (!fits(scenario, model)) continue;
      Schedule schedule = make_schedule(scenario, model, seed);
      const RunResult r = run_simulation(scenario, model, schedule, seed);
      if (std::any_of(r.violations.begin(), r.violations.end(), [&](const Violation& v) { return v.invariant == *model.breaks; })) {
        return Failure{scenario, std::move(schedule), seed};
      }
    }
  }
  return std::nullopt;
}

void shrink(benchmark::State& state, const ModelInfo* model, const std::vector<Scenario>* scenarios) {
  // The search for the failure runs before the timed loop (and only when this benchmark is selected).
  const auto failure = first_failure(*model, *scenarios);
  if (!failure) {
    state.SkipWithError("no failure of its own invariant within 200 seeds");
    return;
  }
  ShrinkResult result;
  for (auto _ : state) {
    result = shrink_failure(failure->scenario, *model, failure->schedule, failure->seed, std::string(to_string(*model->breaks)),
                            ShrinkLimits{});
  }
  state.SetLabel(failure->scenario.name + " seed " + std::to_string(failure->seed) + (result.stopped.empty() ? "" : " (" + result.stopped + ")"));
  state.counters["runs"] = static_cast<double>(result.runs);
  state.counters["clients"] = static_cast<double>(result.after.clients);
  state.counters["clients_before"] = static_cast<double>(result.before.clients);
  state.counters["ops"] = static_cast<double>(result.after.operations);
  state.counters["ops_before"] = static_cast<double>(result.before.operations);
  state.counters["faults"] = static_cast<double>(result.after.faults);
}

}  // namespace

void register_shrink_benchmarks() {
  static const ModelRegistry models = shipped_models();
  static const auto scenarios = shipped_scenarios();
  if (!scenarios.ok()) return;
  for (const ModelInfo& model : models.all()) {
    if (model.correct() || model.external || !model.breaks) continue;
    benchmark::RegisterBenchmark(("shrink/" + model.name).c_str(), shrink, &model, &scenarios.value())
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}
