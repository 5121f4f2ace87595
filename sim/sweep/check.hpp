// `syncstorm check`, the CI gate: sweeps seeds over scenario x model pairs in parallel, shrinks the
// first failure of each (scenario, model, invariant) to a small explicit schedule, replays a corpus
// of earlier repros first, and re-runs a share of the seeds to catch nondeterminism. Everything it
// returns is in a fixed order and, wall-clock fields aside, identical for any --jobs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/model.hpp"
#include "sim/sweep/repro.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/scenario/scenario_file.hpp"
#include "sim/scenario/schedule.hpp"
#include "sim/engine/simulation.hpp"
#include "sim/sweep/shrink.hpp"
#include "sim/sweep/sweep.hpp"

namespace syncstorm {

/// Seeds first..last, both inclusive. Empty when last < first (a shard with no seeds).
struct SeedRange {
  std::uint64_t first = 1;
  std::uint64_t last = 100;
  std::uint64_t size() const { return last < first ? 0 : last - first + 1; }
  friend bool operator==(const SeedRange&, const SeedRange&) = default;
};
/// "A:B" with 0 < A <= B; `key` names the flag in errors.
Result<SeedRange> parse_seed_range(std::string_view text, const std::string& key = "--seed-range");

/// Shard `index` of `count` (1-based), as "K/N".
struct Shard {
  std::uint32_t index = 1;
  std::uint32_t count = 1;
};
Result<Shard> parse_shard(std::string_view text);
/// The contiguous part of `range` that shard K/N runs: the N parts cover it with no overlap or gap.
SeedRange shard_range(const SeedRange& range, const Shard& shard);

/// "90s", "10m", "1h" or bare seconds; the wall-clock budget of a --time-budget sweep, in ms.
Result<std::int64_t> parse_time_budget_ms(std::string_view text);

/// One pair that a check sweeps, and how its runs are chosen.
struct CheckTarget {
  Scenario scenario;
  const ModelInfo* model = nullptr;
  Exploration explore = Exploration::random;
};

/// The value of `--explore` (`key` names the flag in errors): one of kExplorationNames.
Result<Exploration> parse_exploration(std::string_view text, const std::string& key = "--explore");

/// A repro from the corpus, already read, with its model resolved.
struct CorpusEntry {
  std::string file;
  Repro repro;
  const ModelInfo* model = nullptr;
};

struct CheckOptions {
  SeedRange seeds;
  std::optional<std::int64_t> time_budget_ms;  ///< wall clock: stop handing out seeds after this
  unsigned jobs = 1;                           ///< child processes running models at a time
  std::int64_t run_timeout_ms = 0;             ///< wall clock: a run longer than this is killed as hung; 0 = never
  std::uint32_t verify_percent = 0;            ///< share of seeds re-run to check determinism; 0 = off
  ShrinkLimits shrink;
  bool shrink_enabled = true;
  /// Stop the sweep at its first failing seed: the covered range ends with it, the same seed on any
  /// --jobs (the rest of its batch runs, but is not counted). Corpus replays run in full.
  bool fail_fast = false;
  bool progress = true;                        ///< a bar or periodic lines on stderr
  std::string repro_dir;                       ///< where shrunk repros go; "" = write none
};

/// The verdict of a seed whose run crashed the model (a signal, an abort, an uncaught exception):
/// check runs the models in child processes, so a crash is a finding of its seed.
inline constexpr std::string_view kCrashedVerdict = "crashed";
/// The verdict of a seed whose run passed CheckOptions::run_timeout_ms and was killed.
inline constexpr std::string_view kHungVerdict = "hung";
/// Whether `verdict` says the run never finished (crashed or hung): no checker saw it.
inline bool is_crash_verdict(std::string_view verdict) { return verdict == kCrashedVerdict || verdict == kHungVerdict; }

/// One failing run of the sweep: one line per (seed, invariant).
struct SeedFailure {
  std::uint64_t seed = 0;
  std::string invariant;  ///< invariant name, kAbortedVerdict, kCrashedVerdict or kHungVerdict
  std::uint64_t trace_hash = 0;  ///< 0 for a crash: the run never finished
  std::string report;     ///< format_violation of its first violation of that invariant; for a crash, how it ended
  /// Under --explore novelty, the seeds its schedule was bred from, ending with `seed`; else empty.
  std::vector<std::uint64_t> lineage;
};

/// The result of shrinking the first failure of one invariant.
struct ShrinkResult {
  std::string invariant;
  std::uint64_t seed = 0;
  ScheduleSize before;
  ScheduleSize after;
  std::uint32_t runs = 0;     ///< simulations the shrink spent
  std::string stopped;        ///< "done", "run limit", "time limit", or "crashed: ..." or "hung: ..." (the schedule is then unshrunk)
  std::uint64_t trace_hash = 0;  ///< of the shrunk schedule's run
  std::string report;         ///< the violation report of the shrunk run
  std::string repro_path;     ///< "" when no repro was written
  std::string repro_error;    ///< why the repro could not be written (a full disk, a folder that is a file); "" otherwise
  Repro repro;
};

/// A seed whose re-run produced another trace.
struct Divergence {
  std::uint64_t seed = 0;
  std::uint64_t first_hash = 0;
  std::uint64_t second_hash = 0;
  std::uint64_t line = 0;     ///< 1-based trace line of the first divergent event; 0 when the traces agreed
  std::string first_event;
  std::string second_event;
};

struct TargetResult {
  std::string scenario;
  std::string scenario_file;
  std::string model;
  std::string replay_scenario;  ///< how a command line names the scenario
  Exploration explore = Exploration::random;  ///< named in replay commands, and in JSON unless random
  std::uint64_t seeds_run = 0;
  std::uint64_t failing_seeds = 0;
  std::vector<SeedFailure> failures;  ///< by seed, then invariant
  std::vector<ShrinkResult> shrunk;   ///< one per failing invariant, in order of first failure
  std::uint64_t verified = 0;         ///< seeds re-run for the determinism check
  std::vector<Divergence> divergences;
  std::vector<std::uint64_t> hashes;  ///< trace hash of each seed run, in seed order (not in JSON)
  /// Under --explore novelty, the lineage of each seed run, in seed order (else empty).
  std::vector<std::vector<std::uint64_t>> lineages;
  double wall_seconds = 0;            ///< summed run time, for JUnit only (never in JSON)
  /// --fail-fast ended the sweep at a failing seed: the seeds run were chosen by a failure, so their
  /// failure rate says nothing about the model, and findability() gives none.
  bool stopped_at_failure = false;
  bool failed() const { return failing_seeds > 0 || !divergences.empty(); }
};

/// How findable one failure of a target is: its observed rate per seed, and how many clean seeds a
/// fix must pass before a failure that frequent would have shown (at kTrustConfidence). A rare
/// failure needs many: one seen in 3 of 1,000 seeds needs 997 clean seeds before "fixed" means more
/// than "not seen yet".
struct Findability {
  std::string invariant;             ///< as in SeedFailure
  std::uint64_t failing_seeds = 0;   ///< seeds that failed it
  std::uint64_t seeds_run = 0;
  std::uint64_t clean_seeds_to_trust = 0;
  double rate() const { return seeds_run == 0 ? 0.0 : static_cast<double>(failing_seeds) / static_cast<double>(seeds_run); }
};

/// The confidence the findability figures are for.
inline constexpr double kTrustConfidence = 0.95;

/// The least n with (1 - failing/seeds)^n <= 1 - confidence: the clean seeds after which a fix can
/// be trusted, at that confidence, against a failure seen at that rate; 0 when nothing failed.
/// Computed by repeated multiplication (no libm), so every machine prints the same figure.
std::uint64_t clean_seeds_to_trust(std::uint64_t failing, std::uint64_t seeds, double confidence = kTrustConfidence);

/// One entry per failing invariant (verdict) of `t`, in order of first failure.
std::vector<Findability> findability(const TargetResult& t);

/// The console and JUnit line for one: "monotonic-reads failed 29 of 30 seeds (96.7%); trust a fix after 1 clean seed (95% confidence)".
std::string findability_line(const Findability& f);

struct CorpusResult {
  std::string file;
  std::string scenario;
  std::string model;
  std::string invariant;           ///< what the repro was written for
  std::uint64_t expected_hash = 0;
  std::uint64_t trace_hash = 0;
  std::vector<std::string> failing;  ///< invariants the replay broke (kAbortedVerdict, kCrashedVerdict, kHungVerdict)
  std::string report;
  double wall_seconds = 0;
  bool failed() const { return !failing.empty(); }
};

struct CheckReport {
  SeedRange requested;
  SeedRange covered;        ///< the seeds every target ran (a time budget may stop early)
  bool budget_stopped = false;
  bool fail_fast_stopped = false;  ///< --fail-fast ended the sweep at covered.last, a failing seed
  std::string shard;        ///< "K/N", "" when not sharded
  std::uint32_t verify_percent = 0;
  std::vector<CorpusResult> corpus;
  std::vector<TargetResult> targets;
  double wall_seconds = 0;  ///< for JUnit and the console only
  bool failed() const;
};

/// Replays a repro's explicit schedule against `model`.
RunResult replay_repro(const Repro& repro, const ModelInfo& model, const RunOptions& options = {});

/// Shrinks (shrink_schedule) and replays the result: cuts `schedule` down while `model` still fails `verdict` with `seed`: clients, faults, operations
/// (delta debugging), fault durations, the workload window; never the settle period.
ShrinkResult shrink_failure(const Scenario& scenario, const ModelInfo& model, const Schedule& schedule, std::uint64_t seed,
                            const std::string& verdict, const ShrinkLimits& limits);

/// The file name a shrunk repro gets inside the repro folder.
std::string repro_file_name(const std::string& scenario, const std::string& model, const std::string& verdict,
                            std::uint64_t seed);

/// Seeds one child process of a sweep runs in a row, at most: forks stay rare (one per 16 runs) while
/// two jobs still share one scenario x model evenly. Chunks start at fixed offsets from the first
/// seed whatever --jobs is, so even a model that keeps state from one run to the next in its process
/// gives the same results on any --jobs.
inline constexpr std::uint64_t kChunkSeeds = 16;
/// How many chunks a batch is cut into at least, when it has the tasks: enough to keep the jobs of
/// a 2- or 4-core machine busy, and the same on any --jobs.
inline constexpr std::size_t kBatchChunksMin = 4;

/// The chunks (one child process each) of a batch of `count` seeds of each of `targets` targets,
/// where task t * count + j is seed j of target t. Seed-major: every target's first kChunkSeeds
/// seeds, then the next. With fewer than kChunkSeeds seeds a target, a chunk takes the seeds of
/// several targets in a row (up to kChunkSeeds tasks, leaving at least kBatchChunksMin chunks), so a
/// model whose runs share a process (an external adapter) starts it once for several scenarios. The
/// chunks depend on nothing but these two numbers: never on --jobs.
std::vector<TaskRange> batch_chunks(std::size_t targets, std::uint64_t count);

/// Replays the corpus, sweeps the seeds, shrinks, verifies determinism.
CheckReport run_check(const std::vector<CheckTarget>& targets, const std::vector<CorpusEntry>& corpus,
                      const CheckOptions& options);

/// The JSON summary: simulated figures only, so any --jobs gives the same bytes.
std::string check_json(const CheckReport& report);
/// Combines the JSON summaries of shards into one; `failed` receives the verdict.
Result<std::string> merge_check_json(const std::vector<std::string>& files, bool& failed);

/// A Markdown page of a JSON summary (check_json's or merge_check_json's): the verdict, a table of
/// the failing pairs, the passing ones folded, and per failure its repro and the commands that replay
/// and draw it. What CI systems show on a job's page: `--markdown "$GITHUB_STEP_SUMMARY"`.
std::string check_markdown(const std::string& summary_json);

/// First differing line of two JSON Lines traces: its 1-based number and both lines; 0 when equal.
Divergence first_divergence(const std::string& first, const std::string& second);

}  // namespace syncstorm
