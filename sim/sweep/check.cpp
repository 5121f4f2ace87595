#include "sim/sweep/check.hpp"

#include "sim/scenario/limits.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <charconv>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "sim/base/codec.hpp"
#include "sim/sweep/novelty.hpp"
#include "sim/sweep/progress.hpp"
#include "sim/sweep/repro.hpp"
#include "sim/sweep/shrink.hpp"
#include "sim/sweep/sweep.hpp"

namespace syncstorm {

namespace {

// Wall-clock time bounds the work (a time budget, a shrink limit) and is shown to people; it never
// decides a verdict of a run.
using WallClock = std::chrono::steady_clock;  // determinism-ok: budgets and display only

std::int64_t elapsed_ms(WallClock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(WallClock::now() - since).count();
}

double elapsed_s(WallClock::time_point since) {
  return std::chrono::duration<double>(WallClock::now() - since).count();
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

/// The failing verdicts of one run: the distinct invariants it broke, in the checkers' order, each
/// with the report of its first violation; or the abort.
std::vector<std::pair<std::string, std::string>> verdicts_of(const RunResult& r) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!r.aborted.empty()) {
    out.emplace_back(std::string(kAbortedVerdict), r.aborted);
    return out;
  }
  for (const Violation& v : r.violations) {
    const std::string name(to_string(v.invariant));
    const bool seen = std::any_of(out.begin(), out.end(), [&](const auto& p) { return p.first == name; });
    if (!seen) out.emplace_back(name, format_violation(v, r.history));
  }
  return out;
}

/// What a sweep keeps of one run: small, so a long sweep does not hold every History.
struct SeedOutcome {
  std::uint64_t trace_hash = 0;
  std::vector<std::pair<std::string, std::string>> verdicts;
  double wall_seconds = 0;
  std::vector<std::uint64_t> features;  ///< novelty_features of the run; empty unless --explore novelty
};

/// The schedule seed `seed` of `target` runs: under novelty the one its lineage breeds (a lineage
/// of the seed alone when none was planned), else the strategy's draw.
Schedule schedule_for(const CheckTarget& target, std::uint64_t seed, const Lineage& lineage) {
  if (target.explore != Exploration::novelty) return make_schedule(target.scenario, *target.model, seed, target.explore);
  assert((lineage.empty() || lineage.back() == seed) && "a lineage ends with its run's seed");
  return novelty_schedule(target.scenario, *target.model, lineage.empty() ? Lineage{seed} : lineage);
}

SeedOutcome run_seed(const CheckTarget& target, std::uint64_t seed, const Lineage& lineage = {}) {
  const auto start = WallClock::now();
  const Schedule schedule = schedule_for(target, seed, lineage);
  const RunResult r = run_simulation(target.scenario, *target.model, schedule, seed);
  SeedOutcome o{r.trace_hash, verdicts_of(r), elapsed_s(start), {}};
  if (target.explore == Exploration::novelty) o.features = novelty_features(schedule, r);
  return o;
}

// ---- runs in child processes ----

// Every run of a model under test happens in a child process (run_isolated), so a model that
// crashes is a finding of its seed. A child runs a chunk of runs and hands each outcome back as
// these few bytes.

IsolationOptions isolation(const CheckOptions& options) {
  return IsolationOptions{options.jobs, options.run_timeout_ms};
}

std::string encode_outcome(const SeedOutcome& o) {
  Writer w;
  w.u64(o.trace_hash).u64(std::bit_cast<std::uint64_t>(o.wall_seconds)).u32(static_cast<std::uint32_t>(o.verdicts.size()));
  for (const auto& [verdict, report] : o.verdicts) w.bytes(verdict).bytes(report);
  w.u32(static_cast<std::uint32_t>(o.features.size()));
  for (std::uint64_t f : o.features) w.u64(f);
  return w.take();
}

/// A crashed run has no trace hash (0) and one verdict, kCrashedVerdict or kHungVerdict, saying how
/// it ended.
SeedOutcome crashed_outcome(const Crash& crash) {
  if (crash.hung) return SeedOutcome{0, {{std::string(kHungVerdict), fmt::format("the model did not finish this seed: {}", crash.cause)}}, 0, {}};
  return SeedOutcome{0, {{std::string(kCrashedVerdict), fmt::format("the model crashed on this seed: {}", crash.cause)}}, 0, {}};
}

SeedOutcome decode_outcome(const Isolated& result) {
  if (const Crash* crash = std::get_if<Crash>(&result)) return crashed_outcome(*crash);
  Reader r(std::get<std::string>(result));
  SeedOutcome o;
  o.trace_hash = r.u64();
  o.wall_seconds = std::bit_cast<double>(r.u64());
  const std::uint32_t n = r.u32();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    std::string verdict(r.bytes());
    o.verdicts.emplace_back(std::move(verdict), std::string(r.bytes()));
  }
  const std::uint32_t features = r.u32();
  for (std::uint32_t i = 0; i < features && r.ok(); ++i) o.features.push_back(r.u64());
  assert(r.ok() && r.at_end() && "a child's outcome decodes as it was encoded");
  return o;
}

/// Chunks of at most kChunkSeeds tasks over [first, last).
void add_chunks(std::vector<TaskRange>& chunks, std::size_t first, std::size_t last) {
  for (std::size_t begin = first; begin < last; begin += kChunkSeeds) chunks.push_back(TaskRange{begin, std::min<std::size_t>(begin + kChunkSeeds, last)});
}

// ---- the sweep ----

}  // namespace

std::vector<TaskRange> batch_chunks(std::size_t targets, std::uint64_t count) {
  std::vector<TaskRange> chunks;
  if (targets == 0 || count == 0) return chunks;
  if (count >= kChunkSeeds) {
    for (std::uint64_t begin = 0; begin < count; begin += kChunkSeeds) {
      for (std::size_t t = 0; t < targets; ++t) {
        chunks.push_back(TaskRange{t * count + begin, t * count + std::min(begin + kChunkSeeds, count)});
      }
    }
    return chunks;
  }
  // One chunk of seeds a target, so consecutive targets' tasks are contiguous: group them.
  const std::size_t fit = static_cast<std::size_t>(kChunkSeeds / count);
  const std::size_t spread = (targets + kBatchChunksMin - 1) / kBatchChunksMin;
  const std::size_t group = std::max<std::size_t>(1, std::min(fit, spread));
  for (std::size_t t = 0; t < targets; t += group) {
    chunks.push_back(TaskRange{t * count, std::min(t + group, targets) * count});
  }
  return chunks;
}

namespace {

/// The per-target outcomes of one batch of seeds, folded into the report in seed order.
void fold(TargetResult& t, std::uint64_t seed, const SeedOutcome& o, const Lineage& lineage) {
  ++t.seeds_run;
  t.hashes.push_back(o.trace_hash);
  if (t.explore == Exploration::novelty) t.lineages.push_back(lineage);
  t.wall_seconds += o.wall_seconds;
  if (!o.verdicts.empty()) ++t.failing_seeds;
  for (const auto& [verdict, report] : o.verdicts) t.failures.push_back(SeedFailure{seed, verdict, o.trace_hash, report, lineage});
}

/// A shipped scenario is named by its short name on command lines, which works from any folder;
/// any other by its path.
std::string command_name(const Scenario& scenario) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path file(scenario.file);
  if (!scenario.file.empty() && file.stem() == scenario.name &&
      fs::equivalent(file.parent_path(), shipped_scenario_dir(), ec) && !ec) {
    return scenario.name;
  }
  return scenario_argument(scenario);
}

TargetResult empty_result(const CheckTarget& target) {
  TargetResult t;
  t.scenario = target.scenario.name;
  t.scenario_file = target.scenario.file;
  t.model = target.model->name;
  t.replay_scenario = command_name(target.scenario);
  t.explore = target.explore;
  return t;
}

/// Runs seeds next .. next + count - 1 of every target in child processes: task t * count + j is
/// seed next + j of target t, and one child runs a chunk (batch_chunks). Chunks go out seed-major
/// (the first chunk of every target, then the second), so a budget that stops the batch early leaves
/// a prefix of seeds nearly done everywhere. `on_done` sees each outcome as it comes.
std::vector<std::optional<SeedOutcome>> run_batch(const std::vector<CheckTarget>& targets, std::uint64_t next, std::uint64_t count,
                                                  const std::vector<Lineage>& lineages, const CheckOptions& options,
                                                  const std::function<bool(const SeedOutcome&)>& on_done) {
  const std::size_t n = targets.size();
  const std::vector<TaskRange> chunks = batch_chunks(n, count);
  std::vector<std::optional<SeedOutcome>> outcomes(n * count);
  run_isolated(
      chunks, isolation(options), [&](std::size_t i) { return encode_outcome(run_seed(targets[i / count], next + i % count, lineages[i])); },
      [&](std::size_t i, const Isolated& result) {
        outcomes[i] = decode_outcome(result);
        return on_done(*outcomes[i]);
      });
  return outcomes;
}

/// Runs the seeds of `options` over every target, batch by batch until the range or the budget ends.
void sweep(const std::vector<CheckTarget>& targets, const CheckOptions& options, CheckReport& report) {
  const std::size_t n = targets.size();
  const auto start = WallClock::now();
  const auto over_budget = [&] { return options.time_budget_ms && elapsed_ms(start) >= *options.time_budget_ms; };
  Progress progress("check", options.seeds.size() * n, options.progress);
  report.covered = SeedRange{options.seeds.first, options.seeds.first - 1};
  // A multiple of kChunkSeeds, so chunks start at the same seeds on any --jobs. Under novelty a
  // batch is a generation, planned from the corpus before it: its size cannot depend on --jobs.
  const bool novelty = std::any_of(targets.begin(), targets.end(), [](const CheckTarget& t) { return t.explore == Exploration::novelty; });
  const std::uint64_t batch = std::max<std::uint64_t>(4, std::max(options.jobs, 1u)) * kChunkSeeds;
  static_assert(novelty_generation_size(0) % kChunkSeeds == 0 && novelty_generation_size(9) % kChunkSeeds == 0);
  std::uint64_t generation = 0;
  std::vector<NoveltyCorpus> corpora(n);
  std::uint64_t next = options.seeds.first;
  while (n > 0 && next <= options.seeds.last && next >= options.seeds.first) {
    if (over_budget()) {
      report.budget_stopped = true;
      break;
    }
    const std::uint64_t count = std::min(novelty ? novelty_generation_size(generation++) : batch, options.seeds.last - next + 1);
    // Lineage t * count + j: seed next + j of target t (empty where the strategy is not novelty).
    std::vector<Lineage> lineages(n * count);
    for (std::size_t t = 0; t < n; ++t) {
      if (targets[t].explore != Exploration::novelty) continue;
      for (std::uint64_t j = 0; j < count; ++j) lineages[t * count + j] = corpora[t].plan(next + j);
    }
    const auto outcomes = run_batch(targets, next, count, lineages, options, [&](const SeedOutcome& o) {
      progress.tick(!o.verdicts.empty());
      return !over_budget();
    });
    // Seeds are folded in order while every target has that seed's outcome.
    std::uint64_t done = 0;
    const auto seed_done = [&](std::uint64_t j) {
      for (std::size_t t = 0; t < n; ++t) {
        if (!outcomes[t * count + j]) return false;
      }
      return true;
    };
    bool failing = false;
    for (; done < count && !failing && seed_done(done); ++done) {
      for (std::size_t t = 0; t < n; ++t) {
        const std::size_t i = t * count + done;
        fold(report.targets[t], next + done, *outcomes[i], lineages[i]);
        if (targets[t].explore == Exploration::novelty) corpora[t].add(lineages[i], outcomes[i]->features);
        failing = failing || (options.fail_fast && !outcomes[i]->verdicts.empty());
      }
    }
    report.covered.last = next + done - 1;
    if (failing) {
      // Seeds after the first failing one may have run in this batch; counting them would make
      // the covered range depend on how the batch was cut.
      report.fail_fast_stopped = true;
      for (TargetResult& t : report.targets) t.stopped_at_failure = true;
      break;
    }
    if (done < count) {
      report.budget_stopped = true;
      break;
    }
    next += count;
  }
  progress.finish();
}

/// The first failure of each verdict, per target, in the order they were found.
std::vector<std::pair<std::size_t, const SeedFailure*>> first_failures(const CheckReport& report) {
  std::vector<std::pair<std::size_t, const SeedFailure*>> out;
  for (std::size_t t = 0; t < report.targets.size(); ++t) {
    std::set<std::string> seen;
    for (const SeedFailure& f : report.targets[t].failures) {
      if (seen.insert(f.invariant).second) out.emplace_back(t, &f);
    }
  }
  return out;
}

std::string encode_shrink(const ShrinkResult& r) {
  Writer w;
  w.bytes(r.invariant).u64(r.seed).u32(r.runs).bytes(r.stopped).u64(r.trace_hash).bytes(r.report);
  for (const ScheduleSize& size : {r.before, r.after}) w.u32(size.clients).u64(size.operations).u64(size.faults);
  w.bytes(format_repro(r.repro));
  return w.take();
}

std::optional<ShrinkResult> decode_shrink(std::string_view bytes) {
  Reader rd(bytes);
  ShrinkResult r;
  r.invariant = rd.bytes();
  r.seed = rd.u64();
  r.runs = rd.u32();
  r.stopped = rd.bytes();
  r.trace_hash = rd.u64();
  r.report = rd.bytes();
  for (ScheduleSize* size : {&r.before, &r.after}) *size = ScheduleSize{rd.u32(), rd.u64(), rd.u64()};
  auto repro = parse_repro(rd.bytes(), "shrunk repro");
  if (!rd.ok() || !repro) return std::nullopt;
  r.repro = std::move(repro.value());
  return r;
}

/// What a shrink that crashed leaves: the failure as the sweep found it, with its whole schedule.
ShrinkResult unshrunk(const CheckTarget& target, const SeedFailure& failure, const Schedule& schedule, const std::string& stopped) {
  ShrinkResult r;
  r.invariant = failure.invariant;
  r.seed = failure.seed;
  r.before = r.after = size_of(schedule);
  r.stopped = stopped;
  r.trace_hash = failure.trace_hash;
  r.report = failure.report;
  r.repro = Repro{target.scenario.name, repro_scenario_file(target.scenario), target.model->name, failure.seed, failure.invariant,
                  failure.trace_hash, r.before, target.scenario.persistence, target.scenario.invariants, schedule};
  return r;
}

void shrink_all(const std::vector<CheckTarget>& targets, const CheckOptions& options, CheckReport& report) {
  auto firsts = first_failures(report);
  // A crash ends its run before any checker looks at it: there is no failure to keep while cutting
  // the schedule, and its seed replays it already.
  std::erase_if(firsts, [](const auto& first) { return is_crash_verdict(first.second->invariant); });
  if (firsts.empty() || !options.shrink_enabled) return;
  // Shrinking can take seconds per failure with no bar to show for it; say what is going on.
  if (options.progress) {
    fmt::print(stderr, "check: shrinking {} failure{} (at most {} runs each)\n", firsts.size(), firsts.size() == 1 ? "" : "s",
               options.shrink.max_runs);
  }
  const auto schedule_of = [&](std::size_t i) {
    const CheckTarget& target = targets[firsts[i].first];
    return schedule_for(target, firsts[i].second->seed, firsts[i].second->lineage);
  };
  // Each shrink runs in a child process of its own: a candidate schedule may crash the model where
  // the original did not, and then the failure keeps its whole schedule. A shrink is many runs, so
  // a time limit per run becomes one on the shrink: its own limit plus one run's.
  IsolationOptions isolated = isolation(options);
  isolated.run_timeout_ms = options.run_timeout_ms > 0 && options.shrink.max_wall_ms > 0 ? options.run_timeout_ms + options.shrink.max_wall_ms : 0;
  std::vector<TaskRange> chunks;
  for (std::size_t i = 0; i < firsts.size(); ++i) chunks.push_back(TaskRange{i, i + 1});
  const auto shrunk = run_isolated(chunks, isolated, [&](std::size_t i) {
    const CheckTarget& target = targets[firsts[i].first];
    const SeedFailure& failure = *firsts[i].second;
    return encode_shrink(shrink_failure(target.scenario, *target.model, schedule_of(i), failure.seed, failure.invariant, options.shrink));
  });
  for (std::size_t i = 0; i < firsts.size(); ++i) {
    const auto& [t, failure] = firsts[i];
    const Crash* crash = std::get_if<Crash>(&*shrunk[i]);
    std::optional<ShrinkResult> decoded = crash ? std::nullopt : decode_shrink(std::get<std::string>(*shrunk[i]));
    ShrinkResult r = decoded ? std::move(*decoded)
                     : crash ? unshrunk(targets[t], *failure, schedule_of(i), fmt::format("{}: {}", crash->hung ? "hung" : "crashed", crash->cause))
                             : unshrunk(targets[t], *failure, schedule_of(i), "crashed: its shrunk repro did not read back");
    if (!options.repro_dir.empty()) {
      const std::string path =
          (std::filesystem::path(options.repro_dir) / repro_file_name(r.repro.scenario_name, r.repro.model, r.invariant, r.seed))
              .lexically_normal()
              .string();
      auto written = save_repro(r.repro, path);
      if (written) r.repro_path = written.value();
      else r.repro_error = written.error().to_string();
    }
    report.targets[t].shrunk.push_back(std::move(r));
  }
}

/// Which seeds of `range` the determinism check re-runs: evenly spread, at least one.
std::vector<std::uint64_t> verify_seeds(const SeedRange& range, std::uint32_t percent) {
  std::vector<std::uint64_t> out;
  const std::uint64_t n = range.size();
  if (n == 0 || percent == 0) return out;
  const std::uint64_t count = std::clamp<std::uint64_t>((n * std::min(percent, 100u) + 99) / 100, 1, n);
  for (std::uint64_t j = 0; j < count; ++j) out.push_back(range.first + j * n / count);
  return out;
}

std::string trace_of(const CheckTarget& target, std::uint64_t seed, const Lineage& lineage) {
  std::ostringstream trace;
  RunOptions options;
  options.trace_out = &trace;
  const Schedule schedule = schedule_for(target, seed, lineage);
  run_simulation(target.scenario, *target.model, schedule, seed, options);
  return trace.str();
}

/// Records two more traces of `seed` one after the other in one child process and names where
/// they part (line 0: they agreed).
Divergence divergence_of(const CheckTarget& target, std::uint64_t seed, const Lineage& lineage, const CheckOptions& options) {
  IsolationOptions isolated = isolation(options);
  isolated.run_timeout_ms *= 2;
  const auto result = run_isolated({TaskRange{0, 1}}, isolated, [&](std::size_t) {
    const Divergence d = first_divergence(trace_of(target, seed, lineage), trace_of(target, seed, lineage));
    return Writer().u64(d.line).bytes(d.first_event).bytes(d.second_event).take();
  });
  Divergence d;
  if (const Crash* crash = std::get_if<Crash>(&*result.front())) {
    d.first_event = fmt::format("(a recorded run {}: {})", crash->hung ? "hung" : "crashed", crash->cause);
    return d;
  }
  Reader r(std::get<std::string>(*result.front()));
  d.line = r.u64();
  d.first_event = r.bytes();
  d.second_event = r.bytes();
  return d;
}

/// Re-runs the chosen seeds; where a hash differs, records two traces and names where they part.
/// Each seed runs twice in a row in one child (a chunk holds up to kChunkSeeds seeds of one target).
/// The sweep ran the seed in another child after other seeds; here the second run follows a run of
/// the same seed, so state a model carries from one run to the next in its process (a global, a
/// static) shows as another trace hash.
void verify_determinism(const std::vector<CheckTarget>& targets, const CheckOptions& options, CheckReport& report) {
  const std::vector<std::uint64_t> seeds = verify_seeds(report.covered, options.verify_percent);
  const std::size_t n = targets.size();
  const std::size_t count = seeds.size();
  if (count == 0 || n == 0) return;
  // Tasks 2p and 2p + 1 are the two runs of pair p = t * count + j: seed seeds[j] of target t.
  std::vector<TaskRange> chunks;
  for (std::size_t begin = 0; begin < count; begin += kChunkSeeds) {
    for (std::size_t t = 0; t < n; ++t) chunks.push_back(TaskRange{2 * (t * count + begin), 2 * (t * count + std::min<std::size_t>(begin + kChunkSeeds, count))});
  }
  const auto lineage_of = [&](std::size_t t, std::uint64_t seed) {
    const std::vector<Lineage>& planned = report.targets[t].lineages;
    return planned.empty() ? Lineage{} : planned.at(seed - report.covered.first);
  };
  const auto rerun = run_isolated(chunks, isolation(options), [&](std::size_t i) {
    const std::size_t t = i / 2 / count;
    const std::uint64_t seed = seeds[i / 2 % count];
    return encode_outcome(run_seed(targets[t], seed, lineage_of(t, seed)));
  });
  for (std::size_t t = 0; t < n; ++t) {
    TargetResult& result = report.targets[t];
    for (std::size_t j = 0; j < count; ++j) {
      const std::uint64_t seed = seeds[j];
      ++result.verified;
      const std::uint64_t first_hash = result.hashes.at(seed - report.covered.first);
      const std::uint64_t once = decode_outcome(*rerun[2 * (t * count + j)]).trace_hash;
      const std::uint64_t twice = decode_outcome(*rerun[2 * (t * count + j) + 1]).trace_hash;
      const std::uint64_t second_hash = once != first_hash ? once : twice;
      if (second_hash == first_hash) continue;
      // The sweep kept no trace; two more recorded runs usually part where the first two did.
      Divergence d = divergence_of(targets[t], seed, lineage_of(t, seed), options);
      d.seed = seed;
      d.first_hash = first_hash;
      d.second_hash = second_hash;
      result.divergences.push_back(std::move(d));
    }
  }
}

void replay_corpus(const std::vector<CorpusEntry>& corpus, const CheckOptions& options, CheckReport& report) {
  std::vector<TaskRange> chunks;
  add_chunks(chunks, 0, corpus.size());
  const auto results = run_isolated(chunks, isolation(options), [&](std::size_t i) {
    const auto start = WallClock::now();
    const RunResult r = replay_repro(corpus[i].repro, *corpus[i].model);
    return encode_outcome(SeedOutcome{r.trace_hash, verdicts_of(r), elapsed_s(start), {}});
  });
  for (std::size_t i = 0; i < corpus.size(); ++i) {
    const CorpusEntry& e = corpus[i];
    const SeedOutcome o = decode_outcome(*results[i]);
    CorpusResult r{e.file, e.repro.scenario_name, e.repro.model, e.repro.invariant, e.repro.trace_hash, o.trace_hash, {}, {}, o.wall_seconds};
    for (const auto& [verdict, text] : o.verdicts) {
      r.failing.push_back(verdict);
      r.report += (r.report.empty() ? "" : "\n\n") + text;
    }
    report.corpus.push_back(std::move(r));
  }
}

std::string safe_name(std::string_view text) {
  std::string out;
  for (char c : text) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '-';
  return out;
}


// ---- JSON ----

using Json = nlohmann::ordered_json;

std::string hex(std::uint64_t value) { return fmt::format("{:016x}", value); }

Json size_json(const ScheduleSize& s) {
  return Json{{"clients", s.clients}, {"operations", s.operations}, {"faults", s.faults}};
}

Json target_json(const TargetResult& t) {
  Json j{{"scenario", t.scenario}, {"scenario_file", t.scenario_file}, {"model", t.model}};
  // Random runs say nothing: a summary of the default strategy keeps the bytes it always had.
  if (t.explore != Exploration::random) j["explore"] = std::string(name_of(kExplorationNames, t.explore));
  j["seeds_run"] = t.seeds_run;
  j["failing_seeds"] = t.failing_seeds;
  j["failures"] = Json::array();
  for (const SeedFailure& f : t.failures) {
    Json failure{{"seed", f.seed}, {"invariant", f.invariant}, {"trace_hash", hex(f.trace_hash)},
                 {"replay", replay_command(t.replay_scenario, t.model, f.seed, t.explore, f.lineage)}};
    // Under novelty a seed's schedule is bred from earlier seeds: the lineage says which.
    if (t.explore == Exploration::novelty) failure["lineage"] = f.lineage;
    // A crash has no violation report to point to: the entry says how the run ended.
    if (is_crash_verdict(f.invariant)) failure["crash"] = f.report;
    j["failures"].push_back(std::move(failure));
  }
  j["findability"] = Json::array();
  for (const Findability& f : findability(t)) {
    j["findability"].push_back({{"invariant", f.invariant}, {"failing_seeds", f.failing_seeds},
                                {"clean_seeds_to_trust", f.clean_seeds_to_trust}});
  }
  j["shrunk"] = Json::array();
  for (const ShrinkResult& r : t.shrunk) {
    j["shrunk"].push_back({{"invariant", r.invariant}, {"seed", r.seed}, {"before", size_json(r.before)},
                           {"after", size_json(r.after)}, {"shrink_runs", r.runs}, {"stopped", r.stopped},
                           {"trace_hash", hex(r.trace_hash)}, {"repro", r.repro_path},
                           {"replay", r.repro_path.empty() ? "" : "syncstorm replay " + r.repro_path}});
    if (!r.repro_error.empty()) j["shrunk"].back()["repro_error"] = r.repro_error;  // why "repro" is empty
  }
  j["verified"] = t.verified;
  j["divergences"] = Json::array();
  for (const Divergence& d : t.divergences) {
    j["divergences"].push_back({{"seed", d.seed}, {"first_hash", hex(d.first_hash)}, {"second_hash", hex(d.second_hash)},
                                {"line", d.line}, {"first_event", d.first_event}, {"second_event", d.second_event}});
  }
  return j;
}

Json corpus_json(const CorpusResult& c) {
  return Json{{"file", c.file},         {"scenario", c.scenario},
              {"model", c.model},       {"invariant", c.invariant},
              {"verdict", c.failed() ? "fail" : "pass"}, {"failing", c.failing},
              {"expected_hash", hex(c.expected_hash)}, {"trace_hash", hex(c.trace_hash)}};
}

Json range_json(const SeedRange& r) { return Json{{"first", r.first}, {"last", r.last}}; }

/// Sorts ranges and joins the ones that overlap or touch.
std::vector<SeedRange> join_ranges(std::vector<SeedRange> ranges) {
  std::erase_if(ranges, [](const SeedRange& r) { return r.size() == 0; });
  std::sort(ranges.begin(), ranges.end(), [](const SeedRange& a, const SeedRange& b) { return a.first < b.first; });
  std::vector<SeedRange> out;
  for (const SeedRange& r : ranges) {
    if (!out.empty() && r.first <= out.back().last + 1) out.back().last = std::max(out.back().last, r.last);
    else out.push_back(r);
  }
  return out;
}

bool json_failed(const Json& doc) {
  for (const Json& c : doc["corpus"]) {
    if (c["verdict"] == "fail") return true;
  }
  for (const Json& r : doc["results"]) {
    if (r["failing_seeds"].get<std::uint64_t>() > 0 || !r["divergences"].empty()) return true;
  }
  return false;
}

/// Folds one shard's result for a (scenario, model) into the merged one.
void merge_target(Json& into, const Json& from) {
  into["seeds_run"] = into["seeds_run"].get<std::uint64_t>() + from["seeds_run"].get<std::uint64_t>();
  into["failing_seeds"] = into["failing_seeds"].get<std::uint64_t>() + from["failing_seeds"].get<std::uint64_t>();
  into["verified"] = into["verified"].get<std::uint64_t>() + from["verified"].get<std::uint64_t>();
  for (const char* list : {"failures", "shrunk", "divergences"}) {
    for (const Json& item : from[list]) into[list].push_back(item);
    std::stable_sort(into[list].begin(), into[list].end(),
                     [](const Json& a, const Json& b) { return a["seed"].get<std::uint64_t>() < b["seed"].get<std::uint64_t>(); });
  }
  // One shrunk repro per invariant: the one of the lowest seed, as a single run would have kept.
  Json kept = Json::array();
  std::set<std::string> seen;
  for (const Json& r : into["shrunk"]) {
    if (seen.insert(r["invariant"].get<std::string>()).second) kept.push_back(r);
  }
  into["shrunk"] = kept;
  // Rates over the merged seeds: each shard's failing counts summed, the seeds to trust recomputed.
  Json merged = Json::array();
  for (const Json& f : into["failures"]) {
    const std::string invariant = f["invariant"].get<std::string>();
    auto it = std::find_if(merged.begin(), merged.end(), [&](const Json& m) { return m["invariant"] == invariant; });
    if (it == merged.end()) merged.push_back({{"invariant", invariant}, {"failing_seeds", 1}, {"clean_seeds_to_trust", 0}});
    else (*it)["failing_seeds"] = (*it)["failing_seeds"].get<std::uint64_t>() + 1;
  }
  for (Json& m : merged) {
    m["clean_seeds_to_trust"] = clean_seeds_to_trust(m["failing_seeds"].get<std::uint64_t>(), into["seeds_run"].get<std::uint64_t>());
  }
  into["findability"] = merged;
}

std::optional<InputError> check_shape(const Json& doc, const std::string& file) {
  if (!doc.is_object() || !doc.contains("syncstorm_check") || doc["syncstorm_check"] != 1) {
    return InputError{file, 0, 0, "syncstorm_check", "not a syncstorm check JSON summary (format 1)"};
  }
  for (const char* key : {"requested", "covered", "corpus", "results"}) {
    if (!doc.contains(key)) return InputError{file, 0, 0, key, "missing key"};
  }
  return std::nullopt;
}

}  // namespace

Result<SeedRange> parse_seed_range(std::string_view text, const std::string& key) {
  const auto colon = text.find(':');
  const auto first = colon == std::string_view::npos ? std::nullopt : parse_u64(text.substr(0, colon));
  const auto last = colon == std::string_view::npos ? std::nullopt : parse_u64(text.substr(colon + 1));
  if (!first || !last) return InputError{"", 0, 0, key, fmt::format("expected A:B with whole numbers, got \"{}\"", text)};
  if (*first == 0 || *last < *first) return InputError{"", 0, 0, key, fmt::format("expected 0 < A <= B, got \"{}\"", text)};
  return SeedRange{*first, *last};
}

Result<Exploration> parse_exploration(std::string_view text, const std::string& key) {
  if (auto explore = parse_enum(kExplorationNames, text)) return *explore;
  return InputError{"", 0, 0, key, fmt::format("expected one of {}, got \"{}\"", names_list(kExplorationNames), text)};
}

Result<Shard> parse_shard(std::string_view text) {
  const auto slash = text.find('/');
  const auto k = slash == std::string_view::npos ? std::nullopt : parse_u64(text.substr(0, slash));
  const auto n = slash == std::string_view::npos ? std::nullopt : parse_u64(text.substr(slash + 1));
  if (!k || !n || *k == 0 || *n == 0 || *k > *n || *n > limits::kShardsMax) {
    return InputError{"", 0, 0, "--shard", fmt::format("expected K/N with 1 <= K <= N, got \"{}\"", text)};
  }
  return Shard{static_cast<std::uint32_t>(*k), static_cast<std::uint32_t>(*n)};
}

SeedRange shard_range(const SeedRange& range, const Shard& shard) {
  // Shard k takes [size*(k-1)/N, size*k/N): neighbours share a boundary, so the parts meet exactly.
  // size*k/N is computed as q*k + r*k/N (size = q*N + r) so that it cannot overflow.
  const std::uint64_t size = range.size();
  const auto boundary = [&](std::uint64_t k) {
    return size / shard.count * k + size % shard.count * k / shard.count;
  };
  return SeedRange{range.first + boundary(shard.index - 1), range.first + boundary(shard.index) - 1};
}

Result<std::int64_t> parse_time_budget_ms(std::string_view text) {
  std::int64_t unit_ms = 1'000;
  std::string_view digits = text;
  if (text.ends_with("ms")) {
    unit_ms = 1;
    digits.remove_suffix(2);
  } else if (text.ends_with('s')) {
    digits.remove_suffix(1);
  } else if (text.ends_with('m')) {
    unit_ms = 60'000;
    digits.remove_suffix(1);
  } else if (text.ends_with('h')) {
    unit_ms = 3'600'000;
    digits.remove_suffix(1);
  }
  const auto value = parse_u64(digits);
  if (!value || *value == 0 || *value > limits::kTimeBudgetCountMax) {
    return InputError{"", 0, 0, "--time-budget", fmt::format("expected a duration like \"90s\", \"10m\" or \"1h\", got \"{}\"", text)};
  }
  return static_cast<std::int64_t>(*value) * unit_ms;
}

bool CheckReport::failed() const {
  const bool corpus_failed = std::any_of(corpus.begin(), corpus.end(), [](const CorpusResult& c) { return c.failed(); });
  return corpus_failed || std::any_of(targets.begin(), targets.end(), [](const TargetResult& t) { return t.failed(); });
}

RunResult replay_repro(const Repro& repro, const ModelInfo& model, const RunOptions& options) {
  return run_simulation(repro_scenario(repro), model, repro.schedule, repro.seed, options);
}

ShrinkResult shrink_failure(const Scenario& scenario, const ModelInfo& model, const Schedule& schedule, std::uint64_t seed,
                            const std::string& verdict, const ShrinkLimits& limits) {
  Shrunk shrunk = shrink_schedule(scenario, model, schedule, seed, verdict, limits);
  Schedule& s = shrunk.schedule;
  const RunResult final_run = run_simulation(scenario, model, s, seed);
  ShrinkResult r;
  r.invariant = verdict;
  r.seed = seed;
  r.before = size_of(schedule);
  r.after = size_of(s);
  r.runs = shrunk.runs;
  r.stopped = shrunk.stopped;
  r.trace_hash = final_run.trace_hash;
  for (const auto& [name, text] : verdicts_of(final_run)) {
    if (name == verdict) r.report = text;
  }
  r.repro = Repro{scenario.name, repro_scenario_file(scenario), model.name, seed, verdict, final_run.trace_hash, r.before,
                  scenario.persistence, scenario.invariants, std::move(s)};
  return r;
}

std::string repro_file_name(const std::string& scenario, const std::string& model, const std::string& verdict, std::uint64_t seed) {
  return fmt::format("{}__{}__{}__seed{}.repro.toml", safe_name(scenario), safe_name(model), safe_name(verdict), seed);
}

CheckReport run_check(const std::vector<CheckTarget>& targets, const std::vector<CorpusEntry>& corpus, const CheckOptions& options) {
  const auto start = WallClock::now();
  CheckReport report;
  report.requested = options.seeds;
  report.verify_percent = options.verify_percent;
  for (const CheckTarget& t : targets) report.targets.push_back(empty_result(t));
  replay_corpus(corpus, options, report);
  sweep(targets, options, report);
  shrink_all(targets, options, report);
  verify_determinism(targets, options, report);
  report.wall_seconds = elapsed_s(start);
  return report;
}

Divergence first_divergence(const std::string& first, const std::string& second) {
  std::istringstream a(first);
  std::istringstream b(second);
  std::string line_a;
  std::string line_b;
  Divergence d;
  for (std::uint64_t line = 1;; ++line) {
    const bool more_a = static_cast<bool>(std::getline(a, line_a));
    const bool more_b = static_cast<bool>(std::getline(b, line_b));
    if (!more_a && !more_b) return d;
    if (more_a != more_b || line_a != line_b) {
      d.line = line;
      d.first_event = more_a ? line_a : "(end of trace)";
      d.second_event = more_b ? line_b : "(end of trace)";
      return d;
    }
  }
}

std::string check_json(const CheckReport& report) {
  Json doc{{"syncstorm_check", 1}, {"verdict", report.failed() ? "fail" : "pass"}};
  doc["requested"] = range_json(report.requested);
  doc["covered"] = Json::array();
  if (report.covered.size() > 0) doc["covered"].push_back(range_json(report.covered));
  doc["budget_stopped"] = report.budget_stopped;
  doc["fail_fast_stopped"] = report.fail_fast_stopped;
  doc["shard"] = report.shard;
  doc["verify_determinism_percent"] = report.verify_percent;
  doc["corpus"] = Json::array();
  for (const CorpusResult& c : report.corpus) doc["corpus"].push_back(corpus_json(c));
  doc["results"] = Json::array();
  for (const TargetResult& t : report.targets) doc["results"].push_back(target_json(t));
  return doc.dump(2) + "\n";
}

Result<std::string> merge_check_json(const std::vector<std::string>& files, bool& failed) {
  Json merged{{"syncstorm_check", 1}, {"verdict", "pass"}};
  std::vector<SeedRange> requested;
  std::vector<SeedRange> covered;
  Json corpus = Json::array();
  std::set<std::string> corpus_files;
  Json results = Json::array();
  std::map<std::pair<std::string, std::string>, std::size_t> index;
  bool budget_stopped = false;
  bool fail_fast_stopped = false;
  std::uint64_t percent = 0;
  // The strategy each file's results were swept with, and the first file that used it: shards of
  // different strategies ran different schedules for the same seeds, so their sum means nothing.
  std::map<std::string, std::string> strategy_file;
  for (const std::string& file : files) {
    std::ifstream in(file);
    if (!in) return InputError{file, 0, 0, "", "cannot open the JSON summary"};
    Json doc = Json::parse(in, nullptr, false);
    if (doc.is_discarded()) return InputError{file, 0, 0, "", "not valid JSON"};
    if (auto error = check_shape(doc, file)) return *error;
    try {
      requested.push_back(SeedRange{doc["requested"]["first"].get<std::uint64_t>(), doc["requested"]["last"].get<std::uint64_t>()});
      for (const Json& r : doc["covered"]) covered.push_back(SeedRange{r["first"].get<std::uint64_t>(), r["last"].get<std::uint64_t>()});
      budget_stopped = budget_stopped || doc.value("budget_stopped", false);
      fail_fast_stopped = fail_fast_stopped || doc.value("fail_fast_stopped", false);
      percent = std::max<std::uint64_t>(percent, doc.value("verify_determinism_percent", 0));
      for (const Json& c : doc["corpus"]) {
        if (corpus_files.insert(c["file"].get<std::string>()).second) corpus.push_back(c);
      }
      for (const Json& r : doc["results"]) {
        const std::string strategy = r.value("explore", std::string(name_of(kExplorationNames, Exploration::random)));
        strategy_file.emplace(strategy, file);
        if (strategy_file.size() > 1) {
          const auto& [other, other_file] = *std::find_if(strategy_file.begin(), strategy_file.end(), [&](const auto& e) { return e.first != strategy; });
          return InputError{file, 0, 0, "explore",
                            fmt::format("swept with --explore {}, but {} was swept with --explore {}; merge only shards of one strategy",
                                        strategy, other_file, other)};
        }
        const auto key = std::make_pair(r["scenario"].get<std::string>(), r["model"].get<std::string>());
        if (auto it = index.find(key); it != index.end()) {
          merge_target(results[it->second], r);
        } else {
          index[key] = results.size();
          results.push_back(r);
        }
      }
    } catch (const nlohmann::json::exception& e) {
      return InputError{file, 0, 0, "", fmt::format("malformed check summary: {}", e.what())};
    }
  }
  const std::vector<SeedRange> joined = join_ranges(requested);
  merged["requested"] = joined.empty() ? range_json(SeedRange{1, 0})
                                       : range_json(SeedRange{joined.front().first, joined.back().last});
  merged["covered"] = Json::array();
  for (const SeedRange& r : join_ranges(covered)) merged["covered"].push_back(range_json(r));
  merged["budget_stopped"] = budget_stopped;
  merged["fail_fast_stopped"] = fail_fast_stopped;
  // A shard that stopped at its first failure measured no failure rate: neither does the whole.
  if (fail_fast_stopped) {
    for (Json& r : results) r["findability"] = Json::array();
  }
  merged["shard"] = fmt::format("merged from {} files", files.size());
  merged["verify_determinism_percent"] = percent;
  merged["corpus"] = corpus;
  merged["results"] = results;
  failed = json_failed(merged);
  merged["verdict"] = failed ? "fail" : "pass";
  return merged.dump(2) + "\n";
}

std::uint64_t clean_seeds_to_trust(std::uint64_t failing, std::uint64_t seeds, double confidence) {
  if (failing == 0 || seeds == 0) return 0;
  if (failing >= seeds) return 1;
  const double miss = 1.0 - static_cast<double>(failing) / static_cast<double>(seeds);  // a seed not showing it
  const double allowed = 1.0 - confidence;
  // n is about 3 / rate at 95%, so at most about 3 * seeds steps: cheap for any sweep we run.
  double unseen = 1.0;
  std::uint64_t n = 0;
  while (unseen > allowed) {
    unseen *= miss;
    ++n;
  }
  return n;
}

std::vector<Findability> findability(const TargetResult& t) {
  std::vector<Findability> out;
  if (t.stopped_at_failure) return out;
  for (const SeedFailure& f : t.failures) {
    auto it = std::find_if(out.begin(), out.end(), [&](const Findability& x) { return x.invariant == f.invariant; });
    if (it == out.end()) it = out.insert(out.end(), Findability{f.invariant, 0, t.seeds_run, 0});
    ++it->failing_seeds;  // failures hold one entry per (seed, invariant)
  }
  for (Findability& f : out) f.clean_seeds_to_trust = clean_seeds_to_trust(f.failing_seeds, f.seeds_run);
  return out;
}

std::string findability_line(const Findability& f) {
  return fmt::format("{} failed {} of {} seeds ({:.1f}%); trust a fix after {} clean seed{} ({:.0f}% confidence)", f.invariant,
                     f.failing_seeds, f.seeds_run, 100.0 * f.rate(), f.clean_seeds_to_trust,
                     f.clean_seeds_to_trust == 1 ? "" : "s", 100.0 * kTrustConfidence);
}

}  // namespace syncstorm
