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
// Items are runs (seeds); seeds_per_cpu_s counts the CPU time of the adapter processes too.
// The shipped adapters need their npm packages (npm ci --prefix models/adapters/yjs, .../automerge).
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
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

/// CPU seconds used so far by this process and its children, reaped or alive: an adapter process
/// kept between runs is never reaped while the benchmark runs, so its share is read from /proc. On a
/// shared machine wall time also measures the other tenants; CPU time measures only our work.
double cpu_seconds_with_children() {
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  rusage self{};
  rusage reaped{};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_CHILDREN, &reaped);
  double total = seconds(self.ru_utime) + seconds(self.ru_stime) + seconds(reaped.ru_utime) + seconds(reaped.ru_stime);
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] < '0' || name[0] > '9') continue;
    std::ifstream file(entry.path() / "stat");
    std::string text;
    std::getline(file, text);
    const auto close = text.rfind(')');  // the command name may hold spaces and parentheses
    if (close == std::string::npos) continue;
    std::istringstream fields(text.substr(close + 1));
    std::string skip;
    long parent = 0;
    fields >> skip >> parent;  // fields 3 (state) and 4 (ppid)
    if (parent != ::getpid()) continue;
    for (int i = 5; i <= 13; ++i) fields >> skip;
    unsigned long user = 0;
    unsigned long system = 0;
    fields >> user >> system;  // fields 14 and 15, in clock ticks
    total += static_cast<double>(user + system) / ticks;
  }
  return total;
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
  const double cpu_before = cpu_seconds_with_children();
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
  const double cpu = cpu_seconds_with_children() - cpu_before;
  ::unsetenv(kExternalFreshEnv);
  state.SetItemsProcessed(static_cast<std::int64_t>(runs));
  // Seeds per CPU second of syncstorm and its adapter processes together: the figure a noisy
  // shared machine leaves standing.
  state.counters["seeds_per_cpu_s"] = cpu > 0 ? static_cast<double>(runs) / cpu : 0.0;
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
