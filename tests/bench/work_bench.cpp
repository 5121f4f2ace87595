// Real work and scale.
//  work/<scenario>/<model>/jobs1|jobs2: every shipped scenario with every correct model that fits it,
//    all checkers on, 20 seeds per iteration on one and on two threads. Items are runs (seeds);
//    counters give simulated seconds per wall second and events per second. The ratio table pairs
//    jobs2 with jobs1 (the speed-up of the second core).
//  scale/reconnect-storm/<clients>: the shipped reconnect storm with 1,000 to 100,000 clients and a
//    fixed total of about 100 user operations, in ascending order, each timed storm after an untimed
//    one of the same size (sizes under 10,000 clients run 10,000 / clients timed storms an iteration,
//    to be measured over as long): wall time per storm, the process's
//    peak resident memory during the run (the kernel's high-water mark, restarted before it, after
//    the memory earlier benchmarks freed is given back) and bytes per client.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "sim/cli/commands.hpp"
#include "sim/engine/simulation.hpp"
#include "sim/sweep/sweep.hpp"

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
      const Schedule schedule = make_schedule(scenario, *model, i + 1);
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

}  // namespace

// jemalloc's control interface, declared weak: null when the benchmark links another allocator.
extern "C" int mallctl(const char* name, void* old_value, std::size_t* old_length, void* new_value,
                       std::size_t new_length) __attribute__((weak));

namespace {

/// Makes the next peak this run's own, whatever ran before it in this process (the hold benchmarks'
/// hundred thousand nodes, the real-work runs): gives back the pages jemalloc keeps after frees,
/// then restarts the kernel's high-water mark at the current size. Where /proc/self/clear_refs is
/// not writable the mark stays the process's, as getrusage reports it.
void restart_peak_rss() {
  if (mallctl != nullptr) mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);  // 4096: MALLCTL_ARENAS_ALL
  std::ofstream("/proc/self/clear_refs") << "5";
}

long peak_rss_kb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmHWM:")) return std::stol(line.substr(6));
  }
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
  // Every storm timed here runs in memory an identical storm has just used, as in a check sweep,
  // where one process runs seed after seed: the figure is the simulator's work and its waits for
  // memory, not the kernel zeroing fresh pages (which this virtual machine does at about 0.5 GB/s
  // for huge pages; the README gives single cold runs apart). A 1,000-client storm takes about
  // 70 ms, where a scheduler's hiccup is a tenth of the figure every larger size is divided by:
  // small sizes run several storms an iteration.
  const std::uint32_t storms = std::max<std::uint32_t>(1, 10'000 / clients);
  const Schedule schedule = make_schedule(scenario, *model, 1);
  std::uint64_t events = 0;
  restart_peak_rss();
  for (auto _ : state) {
    state.PauseTiming();
    (void)run_simulation(scenario, *model, schedule, 1);  // the warm-up
    state.ResumeTiming();
    for (std::uint32_t i = 0; i < storms; ++i) {
      const RunResult r = run_simulation(scenario, *model, schedule, 1);
      events += r.metrics.events;
      if (!r.violations.empty() || !r.aborted.empty()) state.SkipWithError("the storm run found a violation");
    }
  }
  const double rss = static_cast<double>(peak_rss_kb()) * 1024.0;
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
  state.counters["storms"] = storms;
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
      if (!model.correct() || model.external || !fits(scenario, model)) continue;  // external: external_bench.cpp
      for (unsigned jobs : {1u, 2u}) {
        benchmark::RegisterBenchmark(fmt::format("work/{}/{}/jobs{}", scenario.name, model.name, jobs).c_str(), work,
                                     scenario, &model, jobs)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
    if (scenario.name == "partition-heal") {
      // The reference workload: a 10-client, 60-simulated-second partition scenario, all checkers on
      // (the shipped file has 6 clients). 1,000,000 seeds an hour on 2 jobs is 278 per second.
      Scenario ten = scenario;
      ten.name = "partition-heal-10-clients";
      ten.workload.clients = 10;
      for (const ModelInfo& model : models.all()) {
        if (!model.correct() || model.external || !fits(ten, model)) continue;
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
