// `syncstorm compare`: every model that fits x every scenario x the same seeds, written as a report
// folder (index.html, report.md, results.json, results.csv, diagrams).
#include <fmt/format.h>

#include <thread>

#include "reports/report.hpp"
#include "sim/cli/commands.hpp"
#include "sim/scenario/limits.hpp"

namespace syncstorm {

namespace {

struct CompareArgs {
  std::vector<std::string> scenarios;
  std::vector<std::string> models;
  /// 10 keeps the default comparison (every shipped model x scenario) well under a minute on 2 cores.
  std::uint32_t seeds = 10;
  std::uint64_t first_seed = 1;
  std::string out = "syncstorm-report";
  unsigned jobs = 0;
  std::uint32_t storm_seeds = 10;
  bool no_study = false;
  bool no_diagrams = false;
  bool quiet = false;
  std::string baseline;  ///< an older results.json to mark trends against; "" for none
};

Result<std::vector<Scenario>> chosen_scenarios(const CompareArgs& args) {
  if (args.scenarios.empty()) return shipped_scenarios();
  std::vector<Scenario> out;
  for (const std::string& name : args.scenarios) {
    auto s = resolve_scenario(name);
    if (!s) return s.error();
    out.push_back(std::move(s.value()));
  }
  return out;
}

Result<std::vector<const ModelInfo*>> chosen_models(const CompareArgs& args, const ModelRegistry& registry) {
  std::vector<const ModelInfo*> out;
  if (args.models.empty()) {
    // External replicas (a Node.js process per run) are slow enough to dominate the default run;
    // like `check`, the default leaves them out and --model names them in. So it does the bug
    // suite: benchmark targets, not the baselines a comparison shows.
    for (const ModelInfo& m : registry.all()) {
      if (!m.external && !m.bug_suite) out.push_back(&m);
    }
    return out;
  }
  for (const std::string& name : args.models) {
    auto m = resolve_model(registry, name);
    if (!m) return m.error();
    out.push_back(m.value());
  }
  return out;
}

/// The storm of the backoff study: the first chosen scenario named like a storm, else a built-in one.
Scenario storm_scenario(const std::vector<Scenario>& scenarios) {
  for (const Scenario& s : scenarios) {
    if (s.name.find("storm") != std::string::npos) return s;
  }
  return default_storm_scenario();
}

void print_decisions(const Comparison& c, const std::string& out) {
  for (const ScenarioResult& r : c.scenarios) {
    std::string held;
    for (const std::string& m : r.decision.held) held += (held.empty() ? "" : ", ") + m;
    fmt::print("{:<28} held every invariant: {}\n", r.name, held.empty() ? "none" : held);
  }
  for (const UnshownBreak& u : unshown_breaks(c)) {
    fmt::print("{:<28} advertises breaking {}, shown in none of its {} runs: more seeds may show it\n", u.model,
               to_string(u.breaks), u.runs);
  }
  fmt::print("report      {}/index.html ({}/report.md, results.json, results.csv, {} diagrams)\n", out, out, c.diagrams.size());
}

int run_compare(const CompareArgs& args, const ModelRegistry& registry) {
  auto scenarios = chosen_scenarios(args);
  if (!scenarios) return report_input_error(scenarios.error());
  auto models = chosen_models(args, registry);
  if (!models) return report_input_error(models.error());
  if (args.seeds == 0) return report_input_error(InputError{"", 0, 0, "--seeds", "must be at least 1"});
  if (args.first_seed > limits::kSeedMax - (args.seeds - 1)) {
    return report_input_error(InputError{"", 0, 0, "--first-seed", fmt::format("the last seed would pass {} (limits::kSeedMax)", limits::kSeedMax)});
  }
  // Read before the runs, so a bad baseline fails in a moment rather than after the whole comparison.
  std::optional<Baseline> baseline;
  if (!args.baseline.empty()) {
    auto read = read_baseline(args.baseline);
    if (!read) return report_input_error(read.error());
    baseline = std::move(read.value());
  }
  // The report folder is made before the runs too: a path that cannot hold one fails now.
  if (auto unwritable = make_output_folder(args.out, "--out")) return report_input_error(*unwritable);
  CompareOptions options;
  options.scenarios = std::move(scenarios.value());
  options.models = models.value();
  options.seeds = args.seeds;
  options.first_seed = args.first_seed;
  options.jobs = args.jobs ? args.jobs : std::max(1u, std::thread::hardware_concurrency());
  options.progress = !args.quiet;
  options.storm_seeds = args.storm_seeds;
  options.diagrams = !args.no_diagrams;
  if (!args.no_study) options.storm = storm_scenario(options.scenarios);
  Comparison comparison = run_comparison(options);
  if (baseline) compare_with_baseline(comparison, *baseline);
  if (std::string error = write_report(comparison, args.out); !error.empty()) {
    return report_input_error(InputError{args.out, 0, 0, "--out", error});
  }
  print_decisions(comparison, args.out);
  return kExitOk;
}

}  // namespace

void add_compare_command(CLI::App& app, const ModelRegistry& models, Action& action) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand("compare", "run every model on every scenario over the same seeds; write a report");
  cmd->add_option("scenario", args->scenarios, "scenario files or shipped scenario names (default: every shipped one)");
  cmd->add_option("--model,-m", args->models, "strategies to compare (repeatable; default: every in-process model outside the bug suite; name external and bug-suite ones to add them)");
  cmd->add_option("--seeds,-n", args->seeds, "seeds per (scenario, model), a count (default 10)")
      ->transform(whole_number(1, limits::kCompareSeedsMax, "limits::kCompareSeedsMax"));
  cmd->add_option("--first-seed", args->first_seed, "the first seed; the others follow it (default 1)")
      ->transform(whole_number(0, limits::kSeedMax, "limits::kSeedMax"));
  cmd->add_option("--out,-o", args->out, "the report folder (default syncstorm-report)");
  cmd->add_option("--jobs,-j", args->jobs, "worker threads, a count (default: every core); never changes a result")
      ->transform(whole_number(1, limits::kJobsMax, "limits::kJobsMax"));
  cmd->add_option("--storm-seeds", args->storm_seeds, "seeds per backoff policy in the reconnect-storm study, a count (default 10)")
      ->transform(whole_number(1, limits::kCompareSeedsMax, "limits::kCompareSeedsMax"));
  cmd->add_flag("--no-backoff-study", args->no_study, "skip rerunning the reconnect storm under each backoff policy");
  cmd->add_flag("--no-diagrams", args->no_diagrams, "skip the space-time diagrams of failing runs");
  cmd->add_flag("--quiet,-q", args->quiet, "no progress bar");
  cmd->add_option("--baseline", args->baseline,
                  "an older results.json: mark every figure whose 95% interval no longer overlaps the baseline's, better or worse");
  cmd->callback([&action, &models, args] { action = [&models, args] { return run_compare(*args, models); }; });
}

}  // namespace syncstorm
