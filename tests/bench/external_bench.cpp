// Protocol round trips per second through one adapter process: every node of a run keeps one timer
// pending in tests/models/adapters/hold.js, so each engine event is one event line and one answer.
// The aim is 20,000 events per second through a Node.js adapter.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>

#include "models/external/external.hpp"
#include "sim/engine/simulation.hpp"

using namespace syncstorm;

namespace {

void external_round_trips(benchmark::State& state) {
  const auto clients = static_cast<std::uint32_t>(state.range(0));
  // This file is compiled from <source>/tests/bench/: the adapter sits in <source>/tests/models/adapters/.
  const auto adapter = std::filesystem::path(__FILE__).parent_path().parent_path() / "models" / "adapters" / "hold.js";
  auto model = describe_external("node " + adapter.string());
  if (!model) {
    state.SkipWithError(model.error().message.c_str());
    return;
  }
  Scenario scenario;
  scenario.servers = 1;
  scenario.workload.clients = clients;
  // About 20,000 timer events per run (a mean hold of 100 ms), so the process start is amortised.
  scenario.workload.duration = Duration::seconds(2'000 / clients);
  scenario.workload.think_time_mean = Duration::seconds(1'000'000);  // timers only: no user operations
  scenario.invariants.settle = Duration::zero();
  const Schedule schedule = make_schedule(scenario, DataType::map, 1);
  std::uint64_t events = 0;
  for (auto _ : state) {
    const RunResult r = run_simulation(scenario, model.value(), schedule, 1);
    if (!r.aborted.empty()) {
      state.SkipWithError(r.aborted.c_str());
      return;
    }
    events += r.metrics.events;
  }
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(external_round_trips)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond)->UseRealTime();
