// External replicas.
//  external_round_trips/<clients>: protocol round trips per second through one adapter process:
//    every node of a run keeps one timer pending in tests/models/adapters/hold.js, so each engine
//    event is one event line and one answer. The aim is 20,000 events per second through Node.js.
//  external/<scenario>/<model>/reuse|fresh: seeds per second of a shipped adapter on a shipped
//    scenario, seeds run one after the other in this process as one sweep worker runs its chunk,
//    all checkers on. `reuse` keeps the adapter's process from one run to the next (protocol version
//    2, reset between runs); `fresh` starts one per run (SYNCSTORM_EXTERNAL_FRESH=1, as version 1
//    does). The ratio table pairs reuse with fresh.
//  external/<scenario>/or-set-list/in-process: the same seeds of an in-process list CRDT, the yardstick.
//  external/all/<model>/reuse|fresh: one seed of every shipped scenario the model fits per round.
// The shipped adapters need their npm packages (npm ci --prefix models/adapters/yjs, .../automerge).
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "models/external/external.hpp"
#include "sim/cli/commands.hpp"
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

/// Seeds of one round: `seeds` seeds of each scenario, the seed numbers going on from round to round
/// so no round repeats another's work.
constexpr std::uint64_t kSeedsPerRound = 4;

/// Runs rounds of seeds of `scenarios` with `model`; `fresh` forces a new adapter process per run.
void external_seeds(benchmark::State& state, std::vector<Scenario> scenarios, const ModelInfo* model, bool fresh,
                    std::uint64_t seeds) {
  if (fresh) ::setenv(kExternalFreshEnv, "1", 1);
  std::uint64_t runs = 0;
  std::uint64_t seed = 1;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < seeds; ++i, ++seed) {
      for (const Scenario& scenario : scenarios) {
        const RunResult r = run_simulation(scenario, *model, make_schedule(scenario, model->data_type, seed), seed);
        if (!r.aborted.empty()) {
          ::unsetenv(kExternalFreshEnv);
          state.SkipWithError(r.aborted.c_str());
          return;
        }
        ++runs;
      }
    }
  }
  ::unsetenv(kExternalFreshEnv);
  state.SetItemsProcessed(static_cast<std::int64_t>(runs));
}

}  // namespace

BENCHMARK(external_round_trips)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond)->UseRealTime();

/// Registers the seeds-per-second benchmarks of the shipped adapters (called from main).
void register_external_benchmarks() {
  static const ModelRegistry models = shipped_models();  // lives for the benchmark process, with its adapter processes
  auto scenarios = shipped_scenarios();
  if (!scenarios) {
    fmt::print(stderr, "external benchmarks skipped: {}\n", scenarios.error().to_string());
    return;
  }
  for (const char* name : {"yjs-list", "yjs-text", "automerge-map", "automerge-list"}) {
    const ModelInfo* model = models.find(name);
    if (model == nullptr) continue;
    std::vector<Scenario> fitting;
    for (const Scenario& scenario : scenarios.value()) {
      if (!fits(scenario, *model)) continue;
      fitting.push_back(scenario);
      if (scenario.name != "partition-heal") continue;
      for (const bool fresh : {false, true}) {
        benchmark::RegisterBenchmark(fmt::format("external/{}/{}/{}", scenario.name, name, fresh ? "fresh" : "reuse").c_str(),
                                     external_seeds, std::vector<Scenario>{scenario}, model, fresh, kSeedsPerRound)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
    for (const bool fresh : {false, true}) {
      benchmark::RegisterBenchmark(fmt::format("external/all/{}/{}", name, fresh ? "fresh" : "reuse").c_str(), external_seeds,
                                   fitting, model, fresh, std::uint64_t{1})
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  for (const Scenario& scenario : scenarios.value()) {
    const ModelInfo* or_set = models.find("or-set-list");
    if (scenario.name != "partition-heal" || or_set == nullptr) continue;
    benchmark::RegisterBenchmark(fmt::format("external/{}/or-set-list/in-process", scenario.name).c_str(), external_seeds,
                                 std::vector<Scenario>{scenario}, or_set, false, kSeedsPerRound)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}
