// Real work and scale.
//  work/<scenario>/<model>/jobs1|jobs2: every shipped scenario with every correct model that fits it,
//    all checkers on, 20 seeds per iteration on one and on two threads. Items are runs (seeds);
//    counters give simulated seconds per wall second and events per second. The ratio table pairs
//    jobs2 with jobs1 (the speed-up of the second core).
//  scale/reconnect-storm/<clients>: the shipped reconnect storm with 1,000 to 100,000 clients and a
//    fixed total of about 100 user operations, once each, in ascending order: wall time, the process's
//    peak resident memory after the run (getrusage; sizes run smallest first, so it is this size's
//    peak) and bytes per client.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <fmt/format.h>

#include "sim/commands.hpp"
#include "sim/simulation.hpp"
#include "sim/sweep.hpp"

using namespace syncstorm;

namespace {

constexpr std::size_t kSeedsPerIteration = 20;

struct Totals {
  std::uint64_t events = 0;
  std::int64_t simulated_us = 0;
};

void work(benchmark::State& state, Scenario scenario, const ModelInfo* model, unsigned jobs) {
  Totals totals;
  std::uint64_t runs = 0;
  for (auto _ : state) {
    const auto results = run_parallel<Totals>(kSeedsPerIteration, jobs, [&](std::size_t i) {
      const Schedule schedule = make_schedule(scenario, model->data_type, i + 1);
      const RunResult r = run_simulation(scenario, *model, schedule, i + 1);
      return Totals{r.metrics.events, r.metrics.simulated_us};
    });
    for (const auto& r : results) {
      totals.events += r->events;
      totals.simulated_us += r->simulated_us;
    }
    runs += kSeedsPerIteration;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(runs));
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(totals.events), benchmark::Counter::kIsRate);
  state.counters["sim_s_per_s"] =
      benchmark::Counter(static_cast<double>(totals.simulated_us) / 1e6, benchmark::Counter::kIsRate);
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

void scale(benchmark::State& state, Scenario scenario, const ModelInfo* model) {
  const auto clients = static_cast<std::uint32_t>(state.range(0));
  scenario.workload.clients = clients;
  // About 100 operations in all, whatever the size: the storm is about connections, and a write's
  // fan-out to every client is inherently O(clients).
  scenario.workload.think_time_mean = scenario.workload.duration * static_cast<std::int64_t>(clients) / 100;
  std::uint64_t events = 0;
  for (auto _ : state) {
    const Schedule schedule = make_schedule(scenario, model->data_type, 1);
    const RunResult r = run_simulation(scenario, *model, schedule, 1);
    events += r.metrics.events;
    if (!r.violations.empty() || !r.aborted.empty()) state.SkipWithError("the storm run found a violation");
  }
  const double rss = static_cast<double>(peak_rss_kb()) * 1024.0;
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
  state.counters["peak_rss_MB"] = rss / 1e6;
  state.counters["bytes_per_client"] = rss / clients;
}

}  // namespace

/// Registers the benchmarks that need the shipped scenarios and models (called from main).
void register_work_benchmarks() {
  static const ModelRegistry models = shipped_models();  // lives for the benchmark process
  auto scenarios = shipped_scenarios();
  if (!scenarios) {
    fmt::print(stderr, "work benchmarks skipped: {}\n", scenarios.error().to_string());
    return;
  }
  for (const Scenario& scenario : scenarios.value()) {
    for (const ModelInfo& model : models.all()) {
      if (!model.correct || model.external || !fits(scenario, model)) continue;  // external: external_bench.cpp
      for (unsigned jobs : {1u, 2u}) {
        benchmark::RegisterBenchmark(fmt::format("work/{}/{}/jobs{}", scenario.name, model.name, jobs).c_str(), work,
                                     scenario, &model, jobs)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
    if (scenario.name == "partition-heal") {
      // Issue 6's reference: a 10-client, 60-simulated-second partition scenario, all checkers on
      // (the shipped file has 6 clients). 1,000,000 seeds an hour on 2 jobs is 278 per second.
      Scenario ten = scenario;
      ten.name = "partition-heal-10-clients";
      ten.workload.clients = 10;
      for (const ModelInfo& model : models.all()) {
        if (!model.correct || model.external || !fits(ten, model)) continue;
        for (unsigned jobs : {1u, 2u}) {
          benchmark::RegisterBenchmark(fmt::format("work/{}/{}/jobs{}", ten.name, model.name, jobs).c_str(), work, ten,
                                       &model, jobs)
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
        }
      }
    }
    if (scenario.name == "reconnect-storm") {
      const ModelInfo* lww = models.find("lww-map");
      if (lww == nullptr) continue;
      benchmark::RegisterBenchmark("scale/reconnect-storm/lww-map", scale, scenario, lww)
          ->Arg(1'000)
          ->Arg(10'000)
          ->Arg(100'000)
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
}
