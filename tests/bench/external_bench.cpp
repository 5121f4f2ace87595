// External replicas.
//  external_round_trips/<clients>: protocol round trips per second through one adapter process:
//    every node of a run keeps one timer pending in tests/models/adapters/hold.js, so each engine
//    event is one event line and one answer. The aim is 20,000 events per second through Node.js.
//  external/<scenario>/<model>/v2|v1: seeds per second of a shipped adapter on a shipped scenario,
//    seeds run one after the other in this process as one sweep worker runs its chunk, all checkers
//    on. `v2` is the adapter as shipped (protocol version 2: its process kept from one run to the
//    next, states batched, the metadata size read once); `v1` is the same adapter spoken to in
//    version 1, as before version 2 existed (a process per run, one state request per node, the
//    size with every state). The ratio table pairs v2 with v1.
//  external/partition-heal/<model>/v2-unpinned: v2 with SYNCSTORM_EXTERNAL_UNPINNED=1, this thread and
//    the adapter process left wherever the scheduler puts them (v2 pins both to one CPU, as shipped;
//    v1, the code before version 2, runs unpinned). The ratio table pairs v2 with it too.
//  external/<scenario>/or-set-list/in-process: the same seeds of an in-process list CRDT, the yardstick.
//  external/all/<model>/v2|v1: one seed of every shipped scenario the model fits per round.
// Items are runs (seeds); seeds_per_cpu_s counts the CPU time of the adapter processes too.
// The shipped adapters need their npm packages (npm ci --prefix models/adapters/yjs, .../automerge,
// .../sharedb, .../y-websocket, .../loro, .../automerge-repo); every one speaks version 2.
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "models/external/external.hpp"
#include "sim/base/cpu_affinity.hpp"
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

/// Where the runs of one benchmark execute: as shipped (this thread and its adapter process pinned to
/// one CPU, sim/base/cpu_affinity.hpp), or wherever the scheduler puts them, as before the pin.
enum class Cpus : bool { pinned, unpinned };

/// Sets kExternalUnpinnedEnv for one benchmark and puts it back after.
class Placement {
 public:
  explicit Placement(Cpus cpus) : had_(std::getenv(kExternalUnpinnedEnv) != nullptr) {
    if (had_) before_ = std::getenv(kExternalUnpinnedEnv);
    if (cpus == Cpus::unpinned) ::setenv(kExternalUnpinnedEnv, "1", 1);
    else ::unsetenv(kExternalUnpinnedEnv);
  }
  ~Placement() {
    if (had_) ::setenv(kExternalUnpinnedEnv, before_.c_str(), 1);
    else ::unsetenv(kExternalUnpinnedEnv);
  }
  Placement(const Placement&) = delete;
  Placement& operator=(const Placement&) = delete;

 private:
  bool had_;
  std::string before_;
};

/// Runs rounds of `seeds` seeds of each of `scenarios` with `model`.
void external_seeds(benchmark::State& state, std::vector<Scenario> scenarios, const ModelInfo* model, std::uint64_t seeds,
                    Cpus cpus) {
  const Placement placement(cpus);
  std::uint64_t runs = 0;
  std::uint64_t seed = 1;
  const double cpu_before = cpu_seconds_with_children();
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < seeds; ++i, ++seed) {
      for (const Scenario& scenario : scenarios) {
        const RunResult r = run_simulation(scenario, *model, make_schedule(scenario, *model, seed), seed);
        if (!r.aborted.empty()) {
          state.SkipWithError(r.aborted.c_str());
          return;
        }
        ++runs;
      }
    }
  }
  const double cpu = cpu_seconds_with_children() - cpu_before;
  state.SetItemsProcessed(static_cast<std::int64_t>(runs));
  // Seeds per CPU second of syncstorm and its adapter processes together: the figure a noisy
  // shared machine leaves standing.
  state.counters["seeds_per_cpu_s"] = cpu > 0 ? static_cast<double>(runs) / cpu : 0.0;
}

}  // namespace

BENCHMARK(external_round_trips)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond)->UseRealTime();

/// Registers the seeds-per-second benchmarks of the shipped adapters (called from main).
void register_external_benchmarks() {
  // Both live for the benchmark process, with the adapter processes their models keep.
  static const ModelRegistry models = shipped_models();
  static const std::vector<ModelInfo> version1 = [] {
    std::vector<ModelInfo> out;
    for (ExternalSpec spec : shipped_external_specs()) {
      spec.protocol = 1;
      out.push_back(external_model(spec));
    }
    return out;
  }();
  auto scenarios = shipped_scenarios();
  if (!scenarios) {
    fmt::print(stderr, "external benchmarks skipped: {}\n", scenarios.error().to_string());
    return;
  }
  for (const ModelInfo& old : version1) {
    const ModelInfo* shipped = models.find(old.name);
    if (shipped == nullptr) continue;
    std::vector<Scenario> fitting;
    for (const Scenario& scenario : scenarios.value()) {
      if (!fits(scenario, old)) continue;
      fitting.push_back(scenario);
      if (scenario.name != "partition-heal") continue;
      // v1 is the code before version 2, so unpinned as it was; v2-unpinned isolates the pin.
      for (const auto& [model, variant, cpus] : {std::tuple{shipped, "v2", Cpus::pinned}, std::tuple{shipped, "v2-unpinned", Cpus::unpinned},
                                                 std::tuple{static_cast<const ModelInfo*>(&old), "v1", Cpus::unpinned}}) {
        benchmark::RegisterBenchmark(fmt::format("external/{}/{}/{}", scenario.name, old.name, variant).c_str(), external_seeds,
                                     std::vector<Scenario>{scenario}, model, kSeedsPerRound, cpus)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
    for (const ModelInfo* model : {shipped, &old}) {
      benchmark::RegisterBenchmark(fmt::format("external/all/{}/{}", old.name, model == shipped ? "v2" : "v1").c_str(), external_seeds,
                                   fitting, model, std::uint64_t{1}, model == shipped ? Cpus::pinned : Cpus::unpinned)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  for (const Scenario& scenario : scenarios.value()) {
    const ModelInfo* or_set = models.find("or-set-list");
    if (scenario.name != "partition-heal" || or_set == nullptr) continue;
    benchmark::RegisterBenchmark(fmt::format("external/{}/or-set-list/in-process", scenario.name).c_str(), external_seeds,
                                 std::vector<Scenario>{scenario}, or_set, kSeedsPerRound, Cpus::pinned)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}
