// `syncstorm check` (the CI gate), `syncstorm merge` (shard summaries into one verdict) and the
// repro-file form of `syncstorm replay`.
#include <fmt/format.h>

#include <algorithm>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "reports/junit.hpp"
#include "sim/base/atomic_file.hpp"
#include "sim/sweep/check.hpp"
#include "sim/cli/commands.hpp"
#include "sim/scenario/limits.hpp"
#include "sim/sweep/repro.hpp"
#include "sim/engine/simulation.hpp"

namespace syncstorm {

namespace {

namespace fs = std::filesystem;

/// The corpus folder used when --corpus is not given, if it exists.
constexpr const char* kDefaultCorpus = "syncstorm-corpus";
/// The seed range of a --time-budget run given no range: far more than any budget covers.
constexpr std::uint64_t kOpenEndedLastSeed = 1'000'000'000'000ULL;

struct CheckArgs {
  std::vector<std::string> inputs;
  std::vector<std::string> models;
  std::uint64_t seeds = 0;
  std::string seed_range;
  std::string time_budget;
  unsigned jobs = 0;
  std::string shard;
  std::string junit;
  std::string json;
  std::string markdown;
  std::string corpus;
  std::vector<std::string> verify;  ///< empty: off; [""]: the default share; ["P"]: P percent
  std::uint32_t shrink_runs = 2'000;
  std::int64_t shrink_ms = 10'000;
  std::uint32_t run_timeout_s = 0;
  bool no_shrink = false;
  bool fail_fast = false;
  bool no_progress = false;
  std::string explore = "random";
};

/// Expands the positional arguments: folders into their *.toml files, names into shipped files.
/// Repro files go to `repros` and are replayed with the corpus.
Result<std::vector<Scenario>> scenarios_of(const std::vector<std::string>& inputs, std::vector<std::string>& repros) {
  if (inputs.empty()) return shipped_scenarios();
  std::vector<Scenario> out;
  for (const std::string& input : inputs) {
    if (is_repro_path(input)) {
      repros.push_back(input);
      continue;
    }
    std::vector<std::string> files{input};
    if (fs::is_directory(input)) files = scenario_files_in(input);
    for (const std::string& file : files) {
      auto scenario = resolve_scenario(file);
      if (!scenario) return scenario.error();
      out.push_back(std::move(scenario.value()));
    }
  }
  return out;
}

/// Scenario x model pairs: every correct in-process model that fits when none is named (external
/// models need Node.js and are slow: they run only by name), else the named ones wherever they fit.
Result<std::vector<CheckTarget>> targets_of(const std::vector<Scenario>& scenarios, const CheckArgs& args,
                                            const ModelRegistry& models) {
  std::vector<const ModelInfo*> chosen;
  for (const std::string& name : args.models) {
    auto model = resolve_model(models, name);
    if (!model) return model.error();
    chosen.push_back(model.value());
  }
  if (chosen.empty()) {
    for (const ModelInfo& m : models.all()) {
      if (m.correct() && !m.external) chosen.push_back(&m);
    }
  }
  std::vector<CheckTarget> out;
  for (const Scenario& s : scenarios) {
    for (const ModelInfo* m : chosen) {
      if (fits(s, *m)) out.push_back(CheckTarget{s, m});
    }
  }
  for (const ModelInfo* m : chosen) {
    const bool used = std::any_of(out.begin(), out.end(), [&](const CheckTarget& t) { return t.model == m; });
    if (!used && !args.models.empty()) {
      // Why, for the first scenario: with one scenario checked (the usual case) that is the answer.
      const std::optional<InputError> why = scenarios.empty() ? std::nullopt : check_fit(scenarios.front(), *m);
      return InputError{"", 0, 0, "--model",
                        fmt::format("model '{}' fits none of the scenarios checked{}", m->name,
                                    why ? fmt::format(" ({}: {})", scenarios.front().name, why->message) : "")};
    }
  }
  return out;
}

Result<CorpusEntry> corpus_entry(const std::string& file, const ModelRegistry& models) {
  auto repro = load_repro(file);
  if (!repro) return repro.error();
  auto model = resolve_model(models, repro.value().model, "model");
  if (!model) {
    InputError e = model.error();
    e.file = file;
    return e;
  }
  return CorpusEntry{file, std::move(repro.value()), model.value()};
}

/// The corpus folder's repros (sorted by name) and any repro files named on the command line.
Result<std::vector<CorpusEntry>> corpus_of(const std::string& dir, const std::vector<std::string>& extra,
                                           const ModelRegistry& models) {
  std::vector<std::string> files;
  if (!dir.empty() && fs::is_directory(dir)) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.is_regular_file() && is_repro_path(entry.path().filename().string())) files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
  }
  files.insert(files.end(), extra.begin(), extra.end());
  std::vector<CorpusEntry> out;
  for (const std::string& file : files) {
    auto entry = corpus_entry(file, models);
    if (!entry) return entry.error();
    out.push_back(std::move(entry.value()));
  }
  return out;
}

/// Where new repros go: the corpus, else beside the JSON or JUnit output, else the current folder.
std::string repro_dir_of(const CheckArgs& args, const std::string& corpus) {
  if (!corpus.empty()) return corpus;
  for (const std::string& output : {args.json, args.junit}) {
    if (!output.empty()) {
      const fs::path parent = fs::path(output).parent_path();
      return parent.empty() ? "." : parent.string();
    }
  }
  return ".";
}

/// A --seed-range within limits.hpp: seeds a repro file can hold, and no more seeds than one check keeps
/// (a time budget stops earlier, so it may name a longer range).
std::optional<InputError> check_seed_range(const SeedRange& range, bool budget) {
  if (range.last > limits::kSeedMax) {
    return InputError{"", 0, 0, "--seed-range", fmt::format("seeds go up to {} (limits::kSeedMax)", limits::kSeedMax)};
  }
  if (!budget && range.size() > limits::kCheckSeedsMax) {
    return InputError{"", 0, 0, "--seed-range",
                      fmt::format("{} seeds are more than the {} one check runs (limits::kCheckSeedsMax): split the range into "
                                  "shards (--shard K/N) or consecutive ranges and join them with `syncstorm merge`",
                                  range.size(), limits::kCheckSeedsMax)};
  }
  return std::nullopt;
}

/// The seeds to run and the time budget, from --seeds, --seed-range, --time-budget and --shard.
std::optional<InputError> seed_options(const CheckArgs& args, CheckOptions& options, std::string& shard_label) {
  if (args.seeds > 0 && !args.seed_range.empty()) return InputError{"", 0, 0, "--seeds", "give --seeds or --seed-range, not both"};
  if (!args.time_budget.empty()) {
    auto budget = parse_time_budget_ms(args.time_budget);
    if (!budget) return budget.error();
    options.time_budget_ms = budget.value();
  }
  if (args.seeds > 0) {
    options.seeds = SeedRange{1, args.seeds};
  } else if (!args.seed_range.empty()) {
    auto range = parse_seed_range(args.seed_range);
    if (!range) return range.error();
    options.seeds = range.value();
    if (auto error = check_seed_range(options.seeds, options.time_budget_ms.has_value())) return error;
  } else if (options.time_budget_ms) {
    options.seeds = SeedRange{1, kOpenEndedLastSeed};
    if (!args.shard.empty()) return InputError{"", 0, 0, "--shard", "a shard needs a finite range: add --seeds or --seed-range"};
  } else {
    options.seeds = SeedRange{1, 100};
  }
  if (!args.shard.empty()) {
    auto shard = parse_shard(args.shard);
    if (!shard) return shard.error();
    options.seeds = shard_range(options.seeds, shard.value());
    shard_label = args.shard;
  }
  return std::nullopt;
}

std::optional<InputError> verify_option(const CheckArgs& args, CheckOptions& options) {
  if (args.verify.empty()) return std::nullopt;
  const std::string& text = args.verify.front();
  if (text.empty()) {
    options.verify_percent = 5;
    return std::nullopt;
  }
  std::uint32_t percent = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), percent);
  if (ec != std::errc() || end != text.data() + text.size() || percent == 0 || percent > 100) {
    return InputError{"", 0, 0, "--verify-determinism", fmt::format("expected a percentage from 1 to 100, got \"{}\"", text)};
  }
  options.verify_percent = percent;
  return std::nullopt;
}

/// The old file or the whole new one, never a part (write_file_atomically).
std::optional<InputError> write_file(const std::string& path, const std::string& text, const std::string& key) {
  if (std::error_code ec = write_file_atomically(path, text)) return InputError{path, 0, 0, key, "cannot write the file: " + ec.message()};
  return std::nullopt;
}

void print_target(const TargetResult& t) {
  if (!t.failed()) {
    fmt::print("  PASS {} / {}: {} seed{}\n", t.scenario, t.model, t.seeds_run, t.seeds_run == 1 ? "" : "s");
    return;
  }
  fmt::print("  FAIL {} / {}: {} of {} seeds failed\n", t.scenario, t.model, t.failing_seeds, t.seeds_run);
  for (const Findability& f : findability(t)) fmt::print("    {}\n", findability_line(f));
  if (t.stopped_at_failure) fmt::print("    no failure rate: --fail-fast stopped the sweep at a failing seed\n");
  const auto lineage_of = [&](std::uint64_t seed) {
    const auto it = std::find_if(t.failures.begin(), t.failures.end(), [&](const SeedFailure& f) { return f.seed == seed; });
    return it == t.failures.end() ? std::vector<std::uint64_t>{} : it->lineage;
  };
  for (const ShrinkResult& r : t.shrunk) {
    fmt::print("\n    {} first at seed {}; shrunk from {} clients, {} operations, {} faults to {} clients, {} operations, "
               "{} faults ({} runs, {})\n",
               r.invariant, r.seed, r.before.clients, r.before.operations, r.before.faults, r.after.clients,
               r.after.operations, r.after.faults, r.runs, r.stopped);
    fmt::print("{}\n", r.report);
    if (!r.repro_path.empty()) {
      fmt::print("    replay: syncstorm replay {}\n", r.repro_path);
      // The shrunk run is the clearest picture of the failure: its timeline page goes beside the repro.
      std::string page = r.repro_path;
      if (page.ends_with(".repro.toml")) page.resize(page.size() - std::string_view(".repro.toml").size());
      fmt::print("    see it: syncstorm replay {} --html {}.html\n", r.repro_path, page);
    }
    if (!r.repro_error.empty()) fmt::print("    NO REPRO FILE: {}\n", r.repro_error);
    fmt::print("    replay the original: {}\n\n", replay_command(t.replay_scenario, t.model, r.seed, t.explore, lineage_of(r.seed)));
  }
  // Seeds no shrink stands for: every failure when nothing was shrunk, and crashes (never shrunk).
  for (const SeedFailure& f : t.failures) {
    if (!t.shrunk.empty() && !is_crash_verdict(f.invariant)) continue;
    fmt::print("    {} at seed {}: {}\n", f.invariant, f.seed, replay_command(t.replay_scenario, t.model, f.seed, t.explore, f.lineage));
    if (is_crash_verdict(f.invariant)) fmt::print("      {}\n", f.report);
  }
  for (const Divergence& d : t.divergences) {
    fmt::print("    NONDETERMINISTIC seed {}: trace hash {:016x} then {:016x}\n", d.seed, d.first_hash, d.second_hash);
    if (d.line > 0) fmt::print("      first divergent event, trace line {}:\n      {}\n      {}\n", d.line, d.first_event, d.second_event);
    else if (!d.first_event.empty()) fmt::print("      {}\n", d.first_event);
    else fmt::print("      two further recorded runs agreed: the divergence does not repeat on demand\n");
  }
}

void print_report(const CheckReport& report, const CheckOptions& options) {
  std::size_t corpus_failed = 0;
  for (const CorpusResult& c : report.corpus) {
    if (!c.failed()) continue;
    ++corpus_failed;
    fmt::print("  FAIL corpus {}: {}\n{}\n    replay: syncstorm replay {}\n", c.file, fmt::join(c.failing, ", "), c.report, c.file);
  }
  if (!report.corpus.empty()) fmt::print("corpus: {} repros replayed, {} failing\n", report.corpus.size(), corpus_failed);
  for (const TargetResult& t : report.targets) print_target(t);
  // How to go on from where the sweep stopped, when any seed of the range is left.
  const std::string rest = report.covered.last < options.seeds.last
                               ? fmt::format("; continue with --seed-range {}:{}", report.covered.last + 1, options.seeds.last)
                               : std::string("; no seed of the range is left");
  if (report.fail_fast_stopped) {
    fmt::print("stopped at the first failing seed (--fail-fast): covered seeds {}..{}{}\n", report.covered.first,
               report.covered.last, rest);
  } else if (report.budget_stopped) {
    fmt::print("time budget spent: covered seeds {}..{}{}\n", report.covered.first, report.covered.last, rest);
  } else if (report.covered.size() > 0) {
    fmt::print("covered seeds {}..{}\n", report.covered.first, report.covered.last);
  }
  if (report.verify_percent > 0) fmt::print("determinism: re-ran {}% of the seeds\n", report.verify_percent);
  fmt::print("verdict: {} ({:.1f} s)\n", report.failed() ? "FAIL" : "PASS", report.wall_seconds);
}

int run_check_command(const CheckArgs& args, const ModelRegistry& models) {
  // Flags first: a typo in a flag should not wait for every scenario to load, nor an output path
  // for the whole sweep.
  CheckOptions options;
  std::string shard_label;
  for (const auto& [path, flag] :
       {std::pair{&args.json, "--json"}, std::pair{&args.junit, "--junit"}, std::pair{&args.markdown, "--markdown"}}) {
    if (auto unwritable = check_output_folder(*path, flag)) return report_input_error(*unwritable);
  }
  if (auto error = seed_options(args, options, shard_label)) return report_input_error(*error);
  if (auto error = verify_option(args, options)) return report_input_error(*error);
  auto explore = parse_exploration(args.explore);
  if (!explore) return report_input_error(explore.error());
  std::vector<std::string> repro_args;
  auto scenarios = scenarios_of(args.inputs, repro_args);
  if (!scenarios) return report_input_error(scenarios.error());
  auto targets = targets_of(scenarios.value(), args, models);
  if (!targets) return report_input_error(targets.error());
  for (CheckTarget& target : targets.value()) target.explore = explore.value();
  if (targets.value().empty() && repro_args.empty()) {
    // Why, for the first scenario: the reason of the first model the sweep would have run, preferring
    // one that shares the scenario's data type and is among its models (its reason is the telling one).
    std::optional<InputError> why;
    std::string whose;
    for (const ModelInfo& m : models.all()) {
      if (!m.correct() || m.external || scenarios.value().empty()) continue;
      std::optional<InputError> reason = check_fit(scenarios.value().front(), m);
      if (!reason) continue;
      const bool telling = reason->key != "data_type" && reason->key != "models";
      if (!why || telling) {
        why = std::move(reason);
        whose = m.name;
      }
      if (telling) break;
    }
    if (why) {
      why->message = fmt::format("nothing to check: no scenario x model pair fits; with model '{}': {}", whose, why->message);
      return report_input_error(*why);
    }
    return report_input_error(InputError{"", 0, 0, "scenarios", "nothing to check: no scenario x model pair fits"});
  }
  // New repros go to the corpus folder: made now, so that a path that cannot hold one fails before
  // the sweep rather than after it (with --no-shrink no repro is written: it is only read).
  if (!args.corpus.empty() && !args.no_shrink) {
    if (auto unwritable = make_output_folder(args.corpus, "--corpus")) return report_input_error(*unwritable);
  }
  const std::string corpus_dir = !args.corpus.empty() ? args.corpus : (fs::is_directory(kDefaultCorpus) ? kDefaultCorpus : "");
  auto corpus = corpus_of(corpus_dir, repro_args, models);
  if (!corpus) return report_input_error(corpus.error());
  options.jobs = args.jobs > 0 ? args.jobs : std::max(1u, std::thread::hardware_concurrency());
  options.run_timeout_ms = std::int64_t{args.run_timeout_s} * 1'000;
  options.shrink = ShrinkLimits{args.shrink_runs, args.shrink_ms};
  options.shrink_enabled = !args.no_shrink;
  options.fail_fast = args.fail_fast;
  options.progress = !args.no_progress;
  options.repro_dir = repro_dir_of(args, corpus_dir);
  fmt::print("check: {} scenario x model pairs, seeds {}..{}{}{}, {} jobs; {}\n", targets.value().size(),
             options.seeds.first, options.seeds.last, shard_label.empty() ? "" : " (shard " + shard_label + ")",
             explore.value() == Exploration::random ? "" : ", explore " + args.explore, options.jobs,
             options.shrink_enabled ? "new repros go to " + options.repro_dir : std::string("no shrinking, no repro files (--no-shrink)"));
  std::fflush(stdout);
  CheckReport report = run_check(targets.value(), corpus.value(), options);
  report.shard = shard_label;
  print_report(report, options);
  const std::string summary = check_json(report);
  if (!args.json.empty()) {
    if (auto error = write_file(args.json, summary, "--json")) return report_input_error(*error);
  }
  if (!args.markdown.empty()) {
    if (auto error = write_file(args.markdown, check_markdown(summary), "--markdown")) return report_input_error(*error);
  }
  if (!args.junit.empty()) {
    if (auto error = write_file(args.junit, check_junit(report), "--junit")) return report_input_error(*error);
  }
  return report.failed() ? kExitViolation : kExitOk;
}

int run_merge_command(const std::vector<std::string>& files, const std::string& output, const std::string& markdown) {
  if (auto unwritable = check_output_folder(output, "--json")) return report_input_error(*unwritable);
  if (auto unwritable = check_output_folder(markdown, "--markdown")) return report_input_error(*unwritable);
  bool failed = false;
  auto merged = merge_check_json(files, failed);
  if (!merged) return report_input_error(merged.error());
  if (output.empty()) {
    fmt::print("{}", merged.value());
  } else if (auto error = write_file(output, merged.value(), "--json")) {
    return report_input_error(*error);
  }
  if (!markdown.empty()) {
    if (auto error = write_file(markdown, check_markdown(merged.value()), "--markdown")) return report_input_error(*error);
  }
  fmt::print(stderr, "merge: {} summaries, verdict {}\n", files.size(), failed ? "FAIL" : "PASS");
  return failed ? kExitViolation : kExitOk;
}

void add_check_options(CLI::App* cmd, CheckArgs& a) {
  cmd->add_option("scenarios", a.inputs,
                  "scenario files, shipped scenario names, folders of scenarios, or *.repro.toml files to replay "
                  "(default: every shipped scenario)");
  cmd->add_option("--model,-m", a.models, "models to check, buggy ones included (default: every correct in-process model that fits; external ones only by name)");
  cmd->add_option("--seeds", a.seeds, "run seeds 1..N (default 100)")->transform(whole_number(1, limits::kCheckSeedsMax, "limits::kCheckSeedsMax"));
  cmd->add_option("--seed-range", a.seed_range, "run seeds A..B, both inclusive, as A:B");
  cmd->add_option("--time-budget", a.time_budget,
                  "wall-clock budget such as 90s, 10m, 1h: run seeds until it is spent and print the range covered");
  cmd->add_option("--jobs,-j", a.jobs, "child processes running models at a time (default: the number of cores); results do not depend on it")
      ->transform(whole_number(1, limits::kJobsMax, "limits::kJobsMax"));
  cmd->add_option("--run-timeout", a.run_timeout_s,
                  "kill a run that takes more than this many wall-clock seconds and report its seed as hung (default 0: never)")
      ->transform(whole_number(0, limits::kRunTimeoutSecondsMax, "limits::kRunTimeoutSecondsMax"));
  cmd->add_option("--shard", a.shard, "run part K of N of the seed range, as K/N; `syncstorm merge` joins the JSON");
  cmd->add_option("--junit", a.junit, "write JUnit XML to this file");
  cmd->add_option("--json", a.json, "write the JSON summary (simulated figures only) to this file");
  cmd->add_option("--markdown", a.markdown,
                  "write a Markdown summary to this file: the page a CI job shows, e.g. --markdown \"$GITHUB_STEP_SUMMARY\"")
      ->check(file_name("is the variable that names it set?"));
  cmd->add_option("--corpus", a.corpus,
                  "folder of *.repro.toml replayed first and where new repros go (default ./syncstorm-corpus if it exists)");
  cmd->add_option("--verify-determinism", a.verify, "re-run PERCENT of the seeds (default 5, at least one) and compare traces")
      ->expected(0, 1);
  cmd->add_option("--shrink-runs", a.shrink_runs, "at most this many simulations to shrink one failure (default 2000)")
      ->transform(whole_number(1, limits::kShrinkRunsMax, "limits::kShrinkRunsMax"));
  cmd->add_option("--shrink-time", a.shrink_ms, "at most this many wall-clock milliseconds to shrink one failure (default 10000; 0 = no limit)")
      ->transform(whole_number(0, limits::kShrinkTimeMsMax, "limits::kShrinkTimeMsMax"));
  cmd->add_option("--explore", a.explore,
                  "how runs are chosen: random (independent draws, the default), priority (PCT-style priorities over "
                  "connections and resets while writes are in flight) or novelty (a corpus of runs that reached something "
                  "new, bred by small mutations of their faults and operations); recorded in repros and replay commands");
  cmd->add_flag("--no-shrink", a.no_shrink, "report failing seeds without shrinking them");
  cmd->add_flag("--fail-fast", a.fail_fast,
                "end the sweep with the batch of seeds (64 a model, or 16 x --jobs) that holds its first failing seed, "
                "counting seeds up to that one only (the same on any --jobs); shrink and report it as usual");
  cmd->add_flag("--no-progress", a.no_progress, "no progress bar or progress lines on stderr");
}

}  // namespace

int replay_repro_file(const std::string& path, const ModelRegistry& models, RunOutputs& outputs, const std::string& model) {
  auto entry = corpus_entry(path, models);
  if (!entry) return report_input_error(entry.error());
  const Repro& repro = entry.value().repro;
  const ModelInfo* target = entry.value().model;
  if (!model.empty()) {
    auto other = resolve_model(models, model);
    if (!other) return report_input_error(other.error());
    if (other.value()->data_type != target->data_type) {
      return report_input_error(InputError{"--model", 0, 0, "--model",
                                           fmt::format("{} is a {} model; the repro's schedule has {} operations ({})", model,
                                                       to_string(other.value()->data_type), to_string(target->data_type), repro.model)});
    }
    target = other.value();
  }
  if (auto error = outputs.open()) return report_input_error(*error);
  const RunResult r = replay_repro(repro, *target, outputs.options());
  std::string replay = fmt::format("syncstorm replay {}", path);
  if (target->name != repro.model) replay += fmt::format(" --model {}", target->name);
  if (auto error = outputs.finish(repro.schedule, r,
                                  fmt::format("{} on {}, repro of seed {}", target->name, repro.scenario_name, repro.seed), replay)) {
    return report_input_error(*error);
  }
  const ScheduleSize size = size_of(repro.schedule);
  fmt::print("repro       {}\n", path);
  fmt::print("scenario    {} ({} clients, {} servers, {} operations, {} faults)\n", repro.scenario_name, size.clients,
             repro.schedule.servers, size.operations, size.faults);
  if (target->name == repro.model) fmt::print("model       {}\nseed        {}\n", repro.model, repro.seed);
  else fmt::print("model       {} (the repro was written for {})\nseed        {}\n", target->name, repro.model, repro.seed);
  if (!r.aborted.empty()) fmt::print("aborted     {}\n", r.aborted);
  fmt::print("violations  {}\n", r.violations.size());
  for (const Violation& v : r.violations) fmt::print("\n{}\n", format_violation(v, r.history));
  fmt::print("{}trace hash  {:016x} (the repro recorded {:016x})\n", r.violations.empty() ? "" : "\n", r.trace_hash, repro.trace_hash);
  if (shows(r, repro.invariant) && r.trace_hash == repro.trace_hash) {
    fmt::print("reproduced  {}, same trace hash\n", repro.invariant);
  } else if (shows(r, repro.invariant)) {
    fmt::print("reproduced  {}, another trace (the model or the engine changed since the repro was written)\n", repro.invariant);
  } else {
    fmt::print("not reproduced: {} holds now\n", repro.invariant);
  }
  if (!r.aborted.empty()) return kExitViolation;
  return r.violations.empty() ? kExitOk : kExitViolation;
}

void add_check_commands(CLI::App& app, const ModelRegistry& models, Action& action) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* check = app.add_subcommand("check", "the CI gate: sweep seeds, shrink failures to repro files, write JUnit and JSON");
  add_check_options(check, *args);
  check->callback([&action, &models, args] { action = [&models, args] { return run_check_command(*args, models); }; });

  auto files = std::make_shared<std::vector<std::string>>();
  auto output = std::make_shared<std::string>();
  CLI::App* merge = app.add_subcommand("merge", "combine the JSON summaries of check shards into one verdict");
  merge->add_option("files", *files, "JSON summaries written by `syncstorm check --json`")->required();
  auto markdown = std::make_shared<std::string>();
  merge->add_option("--json,-o", *output, "write the merged summary here (default: stdout)");
  merge->add_option("--markdown", *markdown, "write the merged verdict as a Markdown summary to this file (as check --markdown)")
      ->check(file_name("is the variable that names it set?"));
  merge->callback([&action, files, output, markdown] {
    action = [files, output, markdown] { return run_merge_command(*files, *output, *markdown); };
  });
}

}  // namespace syncstorm
