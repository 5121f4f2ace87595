// The reports folder's central interface: a comparison of strategies (every model that fits x every
// scenario x the same seeds), its data model, and the writers that turn it into index.html, report.md,
// results.json, results.csv and space-time diagrams. Everything here is computed from simulated
// figures only, in task order, so every output is byte-identical whatever the number of jobs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models/model.hpp"
#include "sim/base/result.hpp"
#include "sim/checkers/invariants.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/scenario/schedule.hpp"

namespace syncstorm {

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

/// A figure summarised across seeds. Each seed contributes its own samples (one for a per-run figure
/// such as bytes per operation, many for latencies). The quantiles describe the pooled samples; the
/// mean and its interval treat the seed as the unit, because seeds, not samples, are independent.
struct Summary {
  std::uint32_t seeds = 0;    ///< seeds that gave the figure (a run where it does not apply gives none)
  std::uint64_t samples = 0;  ///< pooled samples over those seeds
  double mean = 0;            ///< mean over seeds of each seed's mean
  double ci_low = 0;          ///< 95% confidence interval of `mean` (Student's t over seeds)
  double ci_high = 0;
  double median = 0;  ///< of the pooled samples (nearest rank)
  double p95 = 0;
  double p99 = 0;
};

/// Summarises per-seed samples; seeds with no samples are left out. Deterministic: the result
/// depends only on the values and their order.
Summary summarise(const std::vector<std::vector<double>>& per_seed);

/// The q-quantile (0..1) of `sorted` by nearest rank; 0 for an empty input.
double quantile_sorted(const std::vector<double>& sorted, double q);

/// A share of runs, with its 95% Wilson score interval (sound for 0 of 20 and 20 of 20 as well).
struct Rate {
  std::uint32_t hits = 0;
  std::uint32_t runs = 0;
  double rate = 0;
  double ci_low = 0;
  double ci_high = 0;
};
Rate wilson(std::uint32_t hits, std::uint32_t runs);

// ---------------------------------------------------------------------------------------------
// The figures a comparison reports
// ---------------------------------------------------------------------------------------------

enum class Metric : std::uint8_t {
  convergence,        ///< time to converge after the last heal (runs that never converge are counted apart)
  local_latency,      ///< issued -> applied at its own user
  remote_latency,     ///< issued -> visible at another replica
  messages_per_op,    ///< messages sent per user operation
  bytes_per_op,       ///< bytes sent per user operation
  server_load_mean,   ///< messages and connect attempts received by all servers, mean over the run
  server_load_peak,   ///< the same, in the busiest 100 ms bucket, scaled to a second
  metadata_bytes,     ///< the largest metadata any replica holds at the end
  rollbacks_per_kop,  ///< operations rejected per 1,000 operations
  all_reconnected,    ///< after the last reset or crash, until every client is connected again
};
inline constexpr std::size_t kMetricCount = 10;

struct MetricInfo {
  Metric metric;
  std::string_view key;    ///< identifier in JSON and CSV
  std::string_view title;  ///< for humans
  std::string_view unit;   ///< "ms", "messages/op", ...
};
/// Every metric in report order.
std::span<const MetricInfo> metric_infos();
const MetricInfo& info(Metric metric);

/// What one run (one scenario, one model, one seed) leaves for the aggregation. Kept small: the
/// history and the trace are dropped once the figures are taken.
struct RunDigest {
  std::uint64_t seed = 0;
  bool aborted = false;
  bool never_converged = false;
  std::vector<std::pair<Invariant, std::uint32_t>> violations;  ///< count per invariant, in invariant order
  std::vector<std::pair<Invariant, std::string>> first_report;  ///< format_violation of the first of each kind
  std::vector<std::string> features;                            ///< fault settings of the run (see fault_features)
  std::array<std::vector<double>, kMetricCount> values;         ///< samples per metric
  std::vector<std::uint32_t> server_load;                       ///< per 100 ms bucket (backoff study only)
  double storm_peak_per_s = 0;  ///< backoff study only: busiest bucket from the first fault on, per second

  bool violated(Invariant invariant) const;
};

/// The fault settings of a schedule as labels that fault attribution compares between seeds:
/// the fault kinds present, partition shapes, drop rate, offline time and clock skew. Only those
/// that act on a link a run of a model of `topology` has (fault_acts): a swarm-drawn datagram loss
/// on a run over streams did nothing, and naming it would blame it for what the seed's other faults did.
std::vector<std::string> fault_features(const Schedule& schedule, Topology topology);

/// How often a fault setting appears in the seeds that broke an invariant and in those that did not.
struct FeatureShare {
  std::string feature;
  double failing_share = 0;  ///< 0..1
  double passing_share = 0;  ///< 0..1; meaningless when there are no passing seeds
};

struct Attribution {
  std::uint32_t failing_seeds = 0;
  std::uint32_t passing_seeds = 0;
  /// Settings more common among failing seeds than passing ones, most telling first (at most 6).
  std::vector<FeatureShare> features;
};
Attribution attribute_faults(const std::vector<RunDigest>& runs, Invariant invariant);

// ---------------------------------------------------------------------------------------------
// The comparison's data model
// ---------------------------------------------------------------------------------------------

/// One invariant a (scenario, model) pair broke.
struct InvariantResult {
  Invariant invariant = Invariant::convergence;
  Rate rate;                                ///< seeds that broke it
  std::uint64_t count = 0;                  ///< violations over all seeds
  std::vector<std::uint64_t> failing_seeds;  ///< ascending, at most 10
  std::string example;                      ///< the report of the smallest failing seed
  std::string replay;                       ///< the command that reproduces that seed
  std::uint64_t clean_seeds_to_trust = 0;   ///< clean seeds a fix must pass, at 95%, given this rate (clean_seeds_to_trust())
  Attribution attribution;
};

/// Which way a figure moved since a baseline. Every figure a comparison reports is better lower
/// (violation rates, latencies, bytes, load, metadata, rollbacks, reconnect time).
enum class Movement : std::uint8_t { better, worse };
std::string_view to_string(Movement movement);

/// One figure of a (scenario, model) pair whose 95% interval no longer overlaps the baseline's.
struct FigureChange {
  std::string figure;  ///< "violation_rate", "violation_rate.<invariant>" or a metric key, as in results.csv
  Movement movement = Movement::worse;
  double before = 0;  ///< the baseline's figure and its 95% interval
  double before_low = 0;
  double before_high = 0;
  double now = 0;  ///< this comparison's figure and its 95% interval
  double now_low = 0;
  double now_high = 0;
};

/// What a (scenario, model) pair did since the baseline (`compare --baseline`).
struct CellTrend {
  bool is_new = false;                ///< the baseline has no such pair, so nothing was compared
  std::vector<FigureChange> changes;  ///< moved figures only: violation rates first, then metrics in report order
};

/// One model on one scenario, over every seed.
struct Cell {
  std::string model;
  bool correct = true;
  std::optional<Invariant> breaks;  ///< what a buggy baseline advertises it breaks
  Rate violation_rate;              ///< seeds with at least one violation
  std::uint32_t aborted = 0;        ///< seeds a limit stopped
  std::uint32_t never_converged = 0;
  std::vector<InvariantResult> invariants;  ///< only those broken, in invariant order
  std::array<Summary, kMetricCount> metrics;
  std::vector<double> convergence_cdf;     ///< ms at quantiles 0, 1/50, ..., 1 (empty: no samples)
  std::vector<double> remote_latency_cdf;  ///< ms at the same quantiles
  std::optional<CellTrend> trend;          ///< set only when the comparison was held against a baseline
};

/// Which strategies a scenario leaves standing, and the best of them on cost and responsiveness.
struct Decision {
  std::vector<std::string> held;           ///< held every invariant on every seed, never aborted
  std::string cheapest;                    ///< of `held`, fewest bytes per operation ("" if none)
  double cheapest_bytes_per_op = 0;
  std::string most_responsive;             ///< of `held`, lowest remote latency p95 ("" if none)
  double responsive_p95_ms = 0;
};

struct ScenarioResult {
  std::string name;
  std::string description;
  std::vector<Cell> cells;                  ///< models in registry order
  std::vector<std::string> skipped_models;  ///< models that do not fit its data type or topology
  Decision decision;
};

/// Server load during a reconnect storm under one backoff policy.
struct BackoffRun {
  std::string policy;              ///< "none", "exponential", "full jitter", ...
  Summary peak_per_s;              ///< busiest 100 ms bucket from the first fault on, scaled to a second
  Summary all_reconnected_ms;
  Rate violation_rate;             ///< seeds in which the checkers reported any violation
  std::vector<double> load_per_s;  ///< mean over seeds, per 100 ms bucket, scaled to a second
};

struct BackoffStudy {
  std::string scenario;
  std::string model;
  std::uint32_t seeds = 0;
  std::vector<BackoffRun> policies;
};

/// A space-time diagram of the smallest failing seed of one violation kind.
struct Diagram {
  Invariant invariant = Invariant::convergence;
  std::string scenario;
  std::string model;
  std::uint64_t seed = 0;
  std::string file;    ///< file name inside the output folder
  std::string svg;
  std::string caption;  ///< what was lost, where, and which fault made it possible (failure_caption)
  std::string timeline_file;  ///< the same run's interactive timeline page, inside the output folder
  std::string timeline;       ///< its HTML (timeline_html)
  std::string report;   ///< the violation as format_violation prints it
  std::string replay;
};

/// The baseline a comparison was held against, as the reports describe it.
struct BaselineSummary {
  std::uint32_t seeds = 0;
  std::uint64_t first_seed = 1;
  std::uint64_t figures_compared = 0;  ///< figures present on both sides with an interval to compare
  std::vector<std::pair<std::string, std::string>> removed;  ///< (scenario, model) pairs the baseline has and this comparison has not
};

struct Comparison {
  std::uint32_t seeds = 0;
  std::uint64_t first_seed = 1;
  std::vector<std::string> models;
  std::vector<std::string> buggy_models;  ///< the deliberately buggy baselines among `models`, in the same order
  std::vector<ScenarioResult> scenarios;
  std::optional<BackoffStudy> backoff;
  std::vector<Diagram> diagrams;
  std::optional<BaselineSummary> baseline;  ///< set by compare_with_baseline
};

// ---------------------------------------------------------------------------------------------
// Running a comparison
// ---------------------------------------------------------------------------------------------

struct CompareOptions {
  std::vector<Scenario> scenarios;
  std::vector<const ModelInfo*> models;  ///< in the order tables list them
  std::uint32_t seeds = 20;              ///< runs per (scenario, model): seeds first_seed, first_seed+1, ...
  std::uint64_t first_seed = 1;
  unsigned jobs = 1;                     ///< worker threads; never changes a result
  bool progress = false;                 ///< draw a progress bar on stderr
  /// The reconnect-storm scenario to rerun under every backoff policy; nullopt skips the study.
  std::optional<Scenario> storm;
  std::uint32_t storm_seeds = 10;        ///< seeds per policy in the study
  bool diagrams = true;                  ///< rerun the smallest failing seed of each kind with a trace
};

/// Runs the comparison. Models of a data type meet the same schedules (common random numbers): the schedule
/// of a seed depends only on (scenario, data type, seed) and, in a swarm, on which fault kinds act
/// on the model's links.
Comparison run_comparison(const CompareOptions& options);

/// A buggy baseline whose advertised break no run of the comparison showed. A rare break needs more
/// seeds than a comparison runs: the reports say so, so that a reader does not take its absence
/// from the tables for a strategy that keeps that promise.
struct UnshownBreak {
  std::string model;
  Invariant breaks = Invariant::convergence;
  std::uint32_t scenarios = 0;  ///< the scenarios it ran on
  std::uint64_t runs = 0;       ///< its runs over them
};

/// The buggy baselines of `comparison` whose advertised break no cell of theirs shows, in the
/// order of `comparison.models`.
std::vector<UnshownBreak> unshown_breaks(const Comparison& comparison);

/// The scenario the backoff study uses when no shipped one is named like a storm: every client
/// loses its server at once, and all reconnect when it comes back.
Scenario default_storm_scenario();

/// The backoff policies the study compares, with their labels.
std::vector<std::pair<std::string, BackoffOptions>> backoff_policies(const BackoffOptions& base);

// ---------------------------------------------------------------------------------------------
// Trend against a baseline (an older results.json)
// ---------------------------------------------------------------------------------------------

/// The version of results.json's layout. A baseline must carry the same one: figures of another
/// layout could be read wrongly rather than fail.
inline constexpr int kResultsFormatVersion = 1;

/// The figures of one (scenario, model) pair in a baseline.
struct BaselineCell {
  std::string scenario;
  std::string model;
  Rate violation_rate;
  std::vector<std::pair<Invariant, Rate>> invariants;  ///< those broken, as the baseline listed them
  std::array<Summary, kMetricCount> metrics;           ///< seeds, mean and interval only
};

struct Baseline {
  std::string file;
  std::uint32_t seeds = 0;
  std::uint64_t first_seed = 1;
  std::vector<BaselineCell> cells;  ///< in the file's order; no two share a (scenario, model) pair
};

/// Reads an older results.json. Errors name the file, the line for a parse error and the key for
/// a missing or mistyped field; another format version is an error too.
Result<Baseline> read_baseline(const std::string& path);
/// The same, from text already read (`file` names it in errors).
Result<Baseline> parse_baseline(const std::string& text, const std::string& file);

/// Marks every figure whose 95% interval no longer overlaps the baseline's (rates: Wilson's interval
/// recomputed from hits and runs; metrics: Student's t interval of the per-seed mean, at least 2
/// seeds on both sides), and pairs the baseline lacks as new. Both sides are rounded as results.json
/// rounds them first, so an unchanged figure read back from a file never counts as moved.
void compare_with_baseline(Comparison& comparison, const Baseline& baseline);

/// A figure rounded to 6 significant digits, as results.json and results.csv write it.
double round_figure(double value);

// ---------------------------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------------------------

std::string to_json(const Comparison& comparison);
std::string to_csv(const Comparison& comparison);
std::string to_markdown(const Comparison& comparison);
/// The head of report.md that fits a pull-request comment (GitHub takes 65,536 characters): what
/// changed since the baseline, the strategy and cost matrices and the decision table, cut at a line
/// with a note where it would pass kSummaryBytesMax. Written as summary.md.
inline constexpr std::size_t kSummaryBytesMax = 60'000;
std::string to_markdown_summary(const Comparison& comparison);
std::string to_html(const Comparison& comparison);

/// Writes index.html, report.md, summary.md, results.json, results.csv and the diagrams into `dir` (created if
/// missing). Returns an error message, or "" on success.
std::string write_report(const Comparison& comparison, const std::string& dir);

// ---------------------------------------------------------------------------------------------
// Charts (inline SVG)
// ---------------------------------------------------------------------------------------------

struct Bar {
  std::string label;
  double value = 0;
  double low = 0;   ///< confidence interval
  double high = 0;
  bool warn = false;  ///< drawn in the warning colour (a buggy baseline, a violation)
};
std::string bar_chart_svg(std::string_view title, std::string_view unit, const std::vector<Bar>& bars);

struct Series {
  std::string label;
  std::vector<std::pair<double, double>> points;  ///< (x, y), x ascending
};
/// A cumulative distribution: points are (value, fraction 0..1).
std::string cdf_svg(std::string_view title, std::string_view unit, const std::vector<Series>& series);
std::string line_chart_svg(std::string_view title, std::string_view x_unit, std::string_view y_unit,
                           const std::vector<Series>& series);

/// A space-time (Lamport) diagram: nodes as lanes, time left to right, messages as arrows (dropped
/// ones end in a cross), partitions, offline periods and crashes shaded. With violations it tells the
/// first one's story: the messages and faults on the causal path of the operations it names at full
/// strength and the rest greyed, labels at the write, its acknowledgement, the fault and the
/// overwrite or loss, each node's final value at the end of its lane, and the caption below.
/// `trace_jsonl` is the JSON Lines trace of the run, `history` what its checkers judged.
std::string lamport_svg(const Schedule& schedule, std::string_view trace_jsonl, const std::vector<Violation>& violations,
                        const History& history, std::string_view title);

/// The diagram's caption, 1 to 3 sentences from the first violation's data: what was lost, where,
/// and which fault made it possible. Empty without a violation.
std::string failure_caption(const Schedule& schedule, std::string_view trace_jsonl, const std::vector<Violation>& violations,
                            const History& history);

/// Escapes text for HTML and SVG.
std::string markup_escape(std::string_view text);

}  // namespace syncstorm
