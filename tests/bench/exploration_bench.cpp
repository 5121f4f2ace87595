// Runs to the first failure per exploration strategy: how many runs (and how much wall time) a
// strategy needs before it first catches each bug of syncstorm::bench::kBugSuite.
//  exploration/<model>: for each strategy, kStreams independent streams; a stream is a deterministic
//    sequence of run seeds derived from its index alone, so every strategy meets the same seeds.
//    Novelty keeps one corpus per stream and plans each generation of runs from
//    it before they run, as check does (novelty_generation_size).
//    A stream stops at its first run that breaks the model's own invariant, or at the run limit (a
//    censored stream, counted at the limit in the quantiles and counted apart). The run counts are
//    simulated facts, identical on every machine; the wall times are this machine's.
// The table after the Google Benchmark output gives per bug and strategy the median, p10 and p90 of
// runs and of wall milliseconds to the first failure, the censored streams, and the ratio of the
// median runs against random's. SYNCSTORM_EXPLORE_STREAMS and SYNCSTORM_EXPLORE_RUN_LIMIT shrink it
// for a quick look (defaults 100 and 10,000).
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "sim/base/rng.hpp"
#include "sim/cli/commands.hpp"
#include "sim/engine/simulation.hpp"
#include "sim/sweep/check.hpp"
#include "sim/sweep/novelty.hpp"
#include "tests/bench/bug_suite.hpp"

using namespace syncstorm;

namespace {

using Clock = std::chrono::steady_clock;  // determinism-ok: measures the benchmark, decides nothing

std::uint64_t env_or(const char* name, std::uint64_t fallback, std::uint64_t most) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (*end != '\0' || value == 0 || value > most) {
    fmt::print(stderr, "exploration bench: {}=\"{}\" is not a whole number from 1 to {}; using {}\n", name, text, most, fallback);
    return fallback;
  }
  return value;
}

/// The seed of run `run` of stream `stream`: from the stream's index alone, never from another stream.
std::uint64_t stream_seed(std::uint64_t stream, std::uint64_t run) {
  return Rng::derive(0x5eed'5eedULL + stream, "exploration-stream", run).next() >> 1;
}

struct Spread {
  double p10 = 0, median = 0, p90 = 0;
};

/// Nearest-rank quantiles of a sample (censored streams enter at the limit).
Spread spread_of(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  const auto at = [&](std::size_t permille) { return values[std::min(values.size() - 1, values.size() * permille / 1000)]; };
  return Spread{at(100), at(500), at(900)};
}

struct Row {
  std::string model;
  std::string scenario;
  std::string depth;
  Exploration explore = Exploration::random;
  Spread runs;
  Spread wall_ms;
  std::uint64_t streams = 0;
  std::uint64_t censored = 0;
  std::uint64_t run_limit = 0;
};

std::vector<Row>& rows() {
  static std::vector<Row> table;  // filled by the benchmarks of this process, printed once at the end
  return table;
}

bool breaks(const RunResult& r, Invariant invariant) {
  return std::any_of(r.violations.begin(), r.violations.end(), [&](const Violation& v) { return v.invariant == invariant; });
}

void explore_bug(benchmark::State& state, const bench::BugCase* bug) {
  static const ModelRegistry models = shipped_models();
  const ModelInfo* model = models.find(bug->model);
  auto scenario = resolve_scenario(bug->scenario);
  if (model == nullptr || !model->breaks || !scenario.ok() || !fits(scenario.value(), *model)) {
    state.SkipWithError("the bug suite names a model or scenario that is not shipped, or that do not fit");
    return;
  }
  const std::uint64_t streams = env_or("SYNCSTORM_EXPLORE_STREAMS", 100, 100'000);
  const std::uint64_t limit = env_or("SYNCSTORM_EXPLORE_RUN_LIMIT", 10'000, 10'000'000);
  for (auto _ : state) {
    for (const auto& [explore, name] : kExplorationNames) {
      Row row{bug->model, bug->scenario, bug->depth, explore, {}, {}, streams, 0, limit};
      std::vector<double> runs, wall_ms;
      for (std::uint64_t s = 0; s < streams; ++s) {
        const auto start = Clock::now();
        std::uint64_t run = 0;
        bool found = false;
        // Novelty, as check runs it: each generation is planned from the corpus before it.
        NoveltyCorpus corpus;
        std::vector<std::pair<Lineage, std::vector<std::uint64_t>>> generation;
        std::uint64_t generations = 0;
        while (run < limit && !found) {
          const std::uint64_t seed = stream_seed(s, run++);
          if (explore != Exploration::novelty) {
            const Schedule schedule = make_schedule(scenario.value(), *model, seed, explore);
            found = breaks(run_simulation(scenario.value(), *model, schedule, seed), *model->breaks);
            continue;
          }
          if (generation.size() == novelty_generation_size(generations)) {
            for (const auto& [lineage, features] : generation) corpus.add(lineage, features);
            generation.clear();
            ++generations;
          }
          Lineage lineage = corpus.plan(seed);
          const Schedule schedule = novelty_schedule(scenario.value(), *model, lineage);
          const RunResult result = run_simulation(scenario.value(), *model, schedule, seed);
          found = breaks(result, *model->breaks);
          generation.emplace_back(std::move(lineage), novelty_features(schedule, result));
        }
        if (!found) ++row.censored;
        runs.push_back(static_cast<double>(run));
        wall_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      }
      row.runs = spread_of(runs);
      row.wall_ms = spread_of(wall_ms);
      state.counters[fmt::format("{}_median_runs", name)] = row.runs.median;
      state.counters[fmt::format("{}_censored", name)] = static_cast<double>(row.censored);
      rows().push_back(std::move(row));
    }
  }
}

}  // namespace

void register_exploration_benchmarks() {
  for (const bench::BugCase& bug : bench::kBugSuite) {
    benchmark::RegisterBenchmark((std::string("exploration/") + bug.model).c_str(), explore_bug, &bug)
        ->Iterations(1)
        ->Unit(benchmark::kSecond)
        ->UseRealTime();
  }
}

void print_exploration_table() {
  if (rows().empty()) return;
  const Row& first = rows().front();
  fmt::print("\nexploration: runs to the first failure, {} streams each, at most {} runs a stream (p10 / median / p90)\n",
             first.streams, first.run_limit);
  fmt::print("{:<30} {:<22} {:<8} {:<9} {:>22} {:>26} {:>8} {:>9}\n", "bug (model)", "scenario", "depth", "explore",
             "runs", "wall ms", "censored", "vs random");
  std::map<std::string, double> random_median;
  for (const Row& r : rows()) {
    if (r.explore == Exploration::random) random_median[r.model] = r.runs.median;
  }
  for (const Row& r : rows()) {
    const auto base = random_median.find(r.model);
    const std::string ratio =
        base == random_median.end() || base->second <= 0 ? "-" : fmt::format("{:.2f}", r.runs.median / base->second);
    fmt::print("{:<30} {:<22} {:<8} {:<9} {:>22} {:>26} {:>8} {:>9}\n", r.model, r.scenario, r.depth,
               name_of(kExplorationNames, r.explore), fmt::format("{:.0f} / {:.0f} / {:.0f}", r.runs.p10, r.runs.median, r.runs.p90),
               fmt::format("{:.1f} / {:.1f} / {:.1f}", r.wall_ms.p10, r.wall_ms.median, r.wall_ms.p90), r.censored, ratio);
  }
}
