// Running a comparison: every model that fits x every scenario x the same seeds on the shared pool,
// then the aggregation into cells, fault attribution, decisions, the backoff study and the diagrams.
// Results come back from run_parallel in task order and are folded in that order, so nothing here
// depends on the number of jobs.
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "reports/report.hpp"
#include "reports/timeline.hpp"
#include "sim/sweep/check.hpp"
#include "sim/sweep/progress.hpp"
#include "sim/scenario/scenario_file.hpp"
#include "sim/engine/simulation.hpp"
#include "sim/sweep/sweep.hpp"

namespace syncstorm {

namespace {

constexpr MetricInfo kMetrics[kMetricCount] = {
    {Metric::convergence, "convergence_ms", "Time to converge after the heal", "ms"},
    {Metric::local_latency, "local_latency_ms", "Local latency", "ms"},
    {Metric::remote_latency, "remote_latency_ms", "Remote latency", "ms"},
    {Metric::messages_per_op, "messages_per_op", "Messages per operation", "messages/op"},
    {Metric::bytes_per_op, "bytes_per_op", "Bytes per operation", "bytes/op"},
    {Metric::server_load_mean, "server_load_mean_per_s", "Server load (mean)", "messages/s"},
    {Metric::server_load_peak, "server_load_peak_per_s", "Server load (peak 100 ms, per second)", "messages/s"},
    {Metric::metadata_bytes, "metadata_bytes", "Metadata per replica (largest)", "bytes"},
    {Metric::rollbacks_per_kop, "rollbacks_per_1000_ops", "Rollbacks (rejections)", "per 1,000 ops"},
    {Metric::all_reconnected, "all_reconnected_ms", "Until every client is back after a disruption", "ms"},
};

/// Points of the stored CDFs: quantiles 0, 1/50, ..., 1. Enough to draw a smooth curve, small in JSON.
constexpr int kCdfSteps = 50;

/// Simulations the shrinker may spend per diagram: enough to cut most failures down a lot, small
/// enough to keep the default comparison fast.
constexpr std::uint32_t kShrinkRuns = 40;

/// Server load is counted per 100 ms bucket; the reports speak in messages per second.
constexpr double kBucketsPerSecond = 10;

std::string shape_of(const Schedule& schedule, const ScheduledFault& f) {
  if (f.one_way) return std::string(to_string(PartitionShape::one_way));
  if (!f.bridge.empty()) return std::string(to_string(PartitionShape::bridge));
  auto all_servers = [&](const std::vector<NodeId>& nodes) {
    return !nodes.empty() && std::all_of(nodes.begin(), nodes.end(), [&](NodeId n) { return schedule.is_server(n); });
  };
  auto no_servers = [&](const std::vector<NodeId>& nodes) {
    return std::none_of(nodes.begin(), nodes.end(), [&](NodeId n) { return schedule.is_server(n); });
  };
  if ((all_servers(f.side_a) && no_servers(f.side_b)) || (all_servers(f.side_b) && no_servers(f.side_a))) {
    return std::string(to_string(PartitionShape::isolate_servers));
  }
  return std::string(to_string(f.side_a.size() == 1 ? PartitionShape::isolate : PartitionShape::halves));
}

double per_op(std::uint64_t amount, std::uint64_t operations) {
  return static_cast<double>(amount) / static_cast<double>(operations);
}

std::vector<double> to_millis(const std::vector<std::int64_t>& micros) {
  std::vector<double> out;
  out.reserve(micros.size());
  for (std::int64_t us : micros) out.push_back(static_cast<double>(us) / 1e3);
  return out;
}

void take_metrics(const Metrics& m, RunDigest& d) {
  auto& v = d.values;
  auto put = [&](Metric metric, double value) { v[static_cast<std::size_t>(metric)].push_back(value); };
  if (m.convergence_us >= 0) put(Metric::convergence, static_cast<double>(m.convergence_us) / 1e3);
  v[static_cast<std::size_t>(Metric::local_latency)] = to_millis(m.local_latency_us);
  v[static_cast<std::size_t>(Metric::remote_latency)] = to_millis(m.remote_latency_us);
  if (m.operations > 0) {
    put(Metric::messages_per_op, per_op(m.messages_sent, m.operations));
    put(Metric::bytes_per_op, per_op(m.bytes_sent, m.operations));
    put(Metric::rollbacks_per_kop, per_op(m.rejected * 1000, m.operations));
  }
  if (!m.server_load.empty()) {
    std::uint64_t total = 0;
    for (std::uint32_t load : m.server_load) total += load;
    put(Metric::server_load_mean, per_op(total, m.server_load.size()) * kBucketsPerSecond);
    put(Metric::server_load_peak, m.server_load_peak * kBucketsPerSecond);
  }
  put(Metric::metadata_bytes, static_cast<double>(m.metadata_bytes_max));
  if (m.all_reconnected_us >= 0) put(Metric::all_reconnected, static_cast<double>(m.all_reconnected_us) / 1e3);
}

RunDigest digest_run(const Schedule& schedule, Topology topology, std::uint64_t seed, const RunResult& r,
                     bool keep_load) {
  RunDigest d;
  d.seed = seed;
  d.aborted = !r.aborted.empty();
  d.never_converged = r.metrics.convergence_us < 0;
  for (Invariant invariant : kAllInvariants) {
    std::uint32_t count = 0;
    for (const Violation& v : r.violations) {
      if (v.invariant != invariant) continue;
      if (count++ == 0) d.first_report.emplace_back(invariant, format_violation(v, r.history));
    }
    if (count > 0) d.violations.emplace_back(invariant, count);
  }
  d.features = fault_features(schedule, topology);
  take_metrics(r.metrics, d);
  if (keep_load) {
    d.server_load = r.metrics.server_load;
    // The storm is what follows the first fault: the initial connects at time zero are not part of it.
    const std::int64_t from = schedule.faults.empty() ? 0 : schedule.faults.front().start.us / 100'000;
    std::uint32_t peak = 0;
    for (std::size_t i = static_cast<std::size_t>(from); i < d.server_load.size(); ++i) peak = std::max(peak, d.server_load[i]);
    d.storm_peak_per_s = peak * kBucketsPerSecond;
  }
  return d;
}

/// One simulation to run: a scenario (by index into the task list's scenarios), a model and a seed.
struct Task {
  std::size_t scenario = 0;
  const ModelInfo* model = nullptr;
  std::uint64_t seed = 0;
  std::optional<BackoffOptions> backoff;  ///< set for the backoff study: overrides the schedule's
};

RunDigest run_task(const std::vector<Scenario>& scenarios, const Task& task) {
  const Scenario& scenario = scenarios[task.scenario];
  Schedule schedule = make_schedule(scenario, task.model->data_type, task.seed);
  if (task.backoff) schedule.network.backoff = *task.backoff;
  const RunResult r = run_simulation(scenario, *task.model, schedule, task.seed);
  return digest_run(schedule, task.model->topology, task.seed, r, task.backoff.has_value());
}

std::vector<double> cdf_points(const std::vector<RunDigest>& runs, Metric metric) {
  std::vector<double> pooled;
  for (const RunDigest& r : runs) {
    const auto& v = r.values[static_cast<std::size_t>(metric)];
    pooled.insert(pooled.end(), v.begin(), v.end());
  }
  if (pooled.empty()) return {};
  std::sort(pooled.begin(), pooled.end());
  std::vector<double> points;
  for (int i = 0; i <= kCdfSteps; ++i) points.push_back(quantile_sorted(pooled, static_cast<double>(i) / kCdfSteps));
  return points;
}

Summary summarise_metric(const std::vector<RunDigest>& runs, Metric metric) {
  std::vector<std::vector<double>> per_seed;
  per_seed.reserve(runs.size());
  for (const RunDigest& r : runs) per_seed.push_back(r.values[static_cast<std::size_t>(metric)]);
  return summarise(per_seed);
}

InvariantResult invariant_result(const Scenario& scenario, const ModelInfo& model, const std::vector<RunDigest>& runs,
                                 Invariant invariant) {
  InvariantResult out;
  out.invariant = invariant;
  std::uint32_t hits = 0;
  for (const RunDigest& r : runs) {
    for (const auto& [kind, count] : r.violations) {
      if (kind == invariant) out.count += count;
    }
    if (!r.violated(invariant)) continue;
    ++hits;
    if (out.failing_seeds.size() < 10) out.failing_seeds.push_back(r.seed);
  }
  std::sort(out.failing_seeds.begin(), out.failing_seeds.end());
  out.rate = wilson(hits, static_cast<std::uint32_t>(runs.size()));
  out.clean_seeds_to_trust = clean_seeds_to_trust(hits, runs.size());
  for (const RunDigest& r : runs) {
    if (out.failing_seeds.empty() || r.seed != out.failing_seeds.front()) continue;
    for (const auto& [kind, text] : r.first_report) {
      if (kind == invariant) out.example = text;
    }
  }
  if (!out.failing_seeds.empty()) out.replay = replay_command(scenario, model, out.failing_seeds.front());
  out.attribution = attribute_faults(runs, invariant);
  return out;
}

Cell make_cell(const Scenario& scenario, const ModelInfo& model, const std::vector<RunDigest>& runs) {
  Cell c;
  c.model = model.name;
  c.correct = model.correct();
  c.breaks = model.breaks;
  std::uint32_t failing = 0;
  for (const RunDigest& r : runs) {
    if (!r.violations.empty()) ++failing;
    if (r.aborted) ++c.aborted;
    if (r.never_converged) ++c.never_converged;
  }
  c.violation_rate = wilson(failing, static_cast<std::uint32_t>(runs.size()));
  for (Invariant invariant : kAllInvariants) {
    const bool found = std::any_of(runs.begin(), runs.end(), [&](const RunDigest& r) { return r.violated(invariant); });
    if (found) c.invariants.push_back(invariant_result(scenario, model, runs, invariant));
  }
  for (const MetricInfo& m : kMetrics) c.metrics[static_cast<std::size_t>(m.metric)] = summarise_metric(runs, m.metric);
  c.convergence_cdf = cdf_points(runs, Metric::convergence);
  c.remote_latency_cdf = cdf_points(runs, Metric::remote_latency);
  return c;
}

Decision decide(const std::vector<Cell>& cells) {
  Decision d;
  const Cell* cheapest = nullptr;
  const Cell* responsive = nullptr;
  for (const Cell& c : cells) {
    if (c.violation_rate.hits > 0 || c.aborted > 0) continue;
    d.held.push_back(c.model);
    const Summary& bytes = c.metrics[static_cast<std::size_t>(Metric::bytes_per_op)];
    const Summary& remote = c.metrics[static_cast<std::size_t>(Metric::remote_latency)];
    if (bytes.seeds > 0 && (!cheapest || bytes.mean < cheapest->metrics[static_cast<std::size_t>(Metric::bytes_per_op)].mean)) {
      cheapest = &c;
    }
    if (remote.samples > 0 &&
        (!responsive || remote.p95 < responsive->metrics[static_cast<std::size_t>(Metric::remote_latency)].p95)) {
      responsive = &c;
    }
  }
  if (cheapest) {
    d.cheapest = cheapest->model;
    d.cheapest_bytes_per_op = cheapest->metrics[static_cast<std::size_t>(Metric::bytes_per_op)].mean;
  }
  if (responsive) {
    d.most_responsive = responsive->model;
    d.responsive_p95_ms = responsive->metrics[static_cast<std::size_t>(Metric::remote_latency)].p95;
  }
  return d;
}

BackoffRun make_backoff_run(const std::string& policy, const std::vector<RunDigest>& runs) {
  BackoffRun b;
  b.policy = policy;
  std::vector<std::vector<double>> peaks;
  for (const RunDigest& r : runs) peaks.push_back({r.storm_peak_per_s});
  b.peak_per_s = summarise(peaks);
  b.all_reconnected_ms = summarise_metric(runs, Metric::all_reconnected);
  // A backoff policy must not buy a lower peak with lost data: the study reports the checkers too.
  const auto failing = std::count_if(runs.begin(), runs.end(), [](const RunDigest& r) { return !r.violations.empty(); });
  b.violation_rate = wilson(static_cast<std::uint32_t>(failing), static_cast<std::uint32_t>(runs.size()));
  std::size_t buckets = 0;
  for (const RunDigest& r : runs) buckets = std::max(buckets, r.server_load.size());
  b.load_per_s.assign(buckets, 0.0);
  for (const RunDigest& r : runs) {
    for (std::size_t i = 0; i < r.server_load.size(); ++i) b.load_per_s[i] += r.server_load[i];
  }
  for (double& v : b.load_per_s) v = v * kBucketsPerSecond / static_cast<double>(std::max<std::size_t>(1, runs.size()));
  return b;
}

const ModelInfo* storm_model(const CompareOptions& options) {
  const ModelInfo* fallback = nullptr;
  for (const ModelInfo* m : options.models) {
    if (!fits(*options.storm, *m)) continue;
    if (m->correct() && m->topology == Topology::client_server) return m;
    if (!fallback) fallback = m;
  }
  return fallback;
}

/// Every task of the comparison, and the scenarios they index (the study's copies appended).
struct Plan {
  std::vector<Scenario> scenarios;
  std::vector<Task> tasks;
  std::size_t main_tasks = 0;
  const ModelInfo* storm_model = nullptr;
  std::vector<std::string> policy_labels;
};

Plan make_plan(const CompareOptions& options) {
  Plan plan;
  plan.scenarios = options.scenarios;
  for (std::size_t s = 0; s < options.scenarios.size(); ++s) {
    for (const ModelInfo* m : options.models) {
      if (!fits(options.scenarios[s], *m)) continue;
      for (std::uint32_t k = 0; k < options.seeds; ++k) plan.tasks.push_back(Task{s, m, options.first_seed + k, {}});
    }
  }
  plan.main_tasks = plan.tasks.size();
  if (!options.storm) return plan;
  plan.storm_model = storm_model(options);
  if (!plan.storm_model) return plan;
  const std::size_t storm_index = plan.scenarios.size();
  plan.scenarios.push_back(*options.storm);
  for (const auto& [label, backoff] : backoff_policies(options.storm->network.backoff)) {
    plan.policy_labels.push_back(label);
    for (std::uint32_t k = 0; k < options.storm_seeds; ++k) {
      plan.tasks.push_back(Task{storm_index, plan.storm_model, options.first_seed + k, backoff});
    }
  }
  return plan;
}

std::vector<RunDigest> run_plan(const Plan& plan, const CompareOptions& options) {
  Progress progress("compare", plan.tasks.size(), options.progress);
  const std::function<RunDigest(std::size_t)> work = [&](std::size_t i) { return run_task(plan.scenarios, plan.tasks[i]); };
  const std::function<bool(std::size_t, const RunDigest&)> done = [&](std::size_t, const RunDigest& d) {
    progress.tick(!d.violations.empty());
    return true;
  };
  auto results = run_parallel<RunDigest>(plan.tasks.size(), options.jobs, work, done);
  progress.finish();
  std::vector<RunDigest> out;
  out.reserve(results.size());
  for (auto& r : results) out.push_back(std::move(*r));
  return out;
}

std::vector<ScenarioResult> aggregate(const Plan& plan, const CompareOptions& options, const std::vector<RunDigest>& runs) {
  std::vector<ScenarioResult> out;
  std::size_t next = 0;
  for (const Scenario& scenario : options.scenarios) {
    ScenarioResult sr;
    sr.name = scenario.name;
    sr.description = scenario.description;
    for (const ModelInfo* m : options.models) {
      if (!fits(scenario, *m)) {
        sr.skipped_models.push_back(m->name);
        continue;
      }
      const std::vector<RunDigest> cell_runs(runs.begin() + static_cast<std::ptrdiff_t>(next),
                                             runs.begin() + static_cast<std::ptrdiff_t>(next + options.seeds));
      next += options.seeds;
      sr.cells.push_back(make_cell(scenario, *m, cell_runs));
    }
    sr.decision = decide(sr.cells);
    out.push_back(std::move(sr));
  }
  (void)plan;
  return out;
}

std::optional<BackoffStudy> study(const Plan& plan, const CompareOptions& options, const std::vector<RunDigest>& runs) {
  if (!plan.storm_model) return std::nullopt;
  BackoffStudy s;
  s.scenario = options.storm->name;
  s.model = plan.storm_model->name;
  s.seeds = options.storm_seeds;
  std::size_t next = plan.main_tasks;
  for (const std::string& label : plan.policy_labels) {
    const std::vector<RunDigest> policy_runs(runs.begin() + static_cast<std::ptrdiff_t>(next),
                                             runs.begin() + static_cast<std::ptrdiff_t>(next + options.storm_seeds));
    next += options.storm_seeds;
    s.policies.push_back(make_backoff_run(label, policy_runs));
  }
  return s;
}

Diagram draw_failing_run(const Scenario& scenario, const ModelInfo& model, std::uint64_t seed, Invariant invariant) {
  // The smallest failing seed is rerun with a trace: the comparison itself keeps no traces, which
  // would cost memory for every run to serve a handful of pictures.
  // The failure is first shrunk (check's shrinker) so the picture shows few nodes, operations and
  // faults. Only a run count bounds it, never wall-clock time: the diagram must not depend on the machine.
  const Schedule original = make_schedule(scenario, model.data_type, seed);
  ShrinkLimits limits;
  limits.max_runs = kShrinkRuns;
  limits.max_wall_ms = 0;
  const ShrinkResult shrunk = shrink_failure(scenario, model, original, seed, std::string(to_string(invariant)), limits);
  auto shows_kind = [&](const RunResult& run) {
    return std::any_of(run.violations.begin(), run.violations.end(), [&](const Violation& v) { return v.invariant == invariant; });
  };
  std::ostringstream trace;
  PayloadRecorder payloads;
  RunOptions options;
  options.trace_out = &trace;
  options.on_send = [&payloads](std::uint64_t id, std::string_view bytes) { payloads.record(id, bytes); };
  bool drew_shrunk = shrunk.repro.schedule.node_count() > 0;
  RunResult r = drew_shrunk ? replay_repro(shrunk.repro, model, options) : RunResult{};
  if (!drew_shrunk || !shows_kind(r)) {
    // No shrunk schedule, or it no longer shows the failure: draw the original run instead.
    drew_shrunk = false;
    trace.str("");
    payloads = PayloadRecorder();
    r = run_simulation(scenario, model, original, seed, options);
  }
  const Schedule& schedule = drew_shrunk ? shrunk.repro.schedule : original;
  std::vector<Violation> kind;
  for (const Violation& v : r.violations) {
    if (v.invariant == invariant) kind.push_back(v);
  }
  Diagram d;
  d.invariant = invariant;
  d.scenario = scenario.name;
  d.model = model.name;
  d.seed = seed;
  d.file = "diagram-" + std::string(to_string(invariant)) + ".svg";
  const std::string title = std::string(to_string(invariant)) + ": " + model.name + " on " + scenario.name + ", seed " +
                            std::to_string(seed) + (drew_shrunk ? " (shrunk schedule)" : "");
  d.svg = lamport_svg(schedule, trace.str(), kind, r.history, title);
  d.caption = failure_caption(schedule, trace.str(), kind, r.history);
  if (!kind.empty()) d.report = format_violation(kind.front(), r.history);
  d.replay = replay_command(scenario, model, seed);
  // The same run, explorable: every violation of the run is listed there, not only this kind.
  d.timeline_file = "timeline-" + std::string(to_string(invariant)) + ".html";
  const std::string jsonl = trace.str();
  d.timeline = timeline_html(TimelineRun{title, d.replay, &schedule, jsonl, &r.violations, &r.history, &payloads.payloads()});
  return d;
}

std::vector<Diagram> diagrams(const CompareOptions& options, const std::vector<ScenarioResult>& results) {
  std::vector<Diagram> out;
  for (Invariant invariant : kAllInvariants) {
    bool drawn = false;
    for (std::size_t s = 0; s < results.size() && !drawn; ++s) {
      for (const Cell& c : results[s].cells) {
        auto it = std::find_if(c.invariants.begin(), c.invariants.end(),
                               [&](const InvariantResult& r) { return r.invariant == invariant; });
        if (it == c.invariants.end() || it->failing_seeds.empty()) continue;
        auto model = std::find_if(options.models.begin(), options.models.end(),
                                  [&](const ModelInfo* m) { return m->name == c.model; });
        out.push_back(draw_failing_run(options.scenarios[s], **model, it->failing_seeds.front(), invariant));
        drawn = true;
        break;
      }
    }
  }
  return out;
}

}  // namespace

std::span<const MetricInfo> metric_infos() { return kMetrics; }

std::vector<UnshownBreak> unshown_breaks(const Comparison& comparison) {
  std::vector<UnshownBreak> out;
  for (const std::string& model : comparison.models) {
    std::optional<UnshownBreak> unshown;
    bool shown = false;
    for (const ScenarioResult& r : comparison.scenarios) {
      for (const Cell& c : r.cells) {
        if (c.model != model || !c.breaks) continue;
        if (!unshown) unshown = UnshownBreak{model, *c.breaks, 0, 0};
        ++unshown->scenarios;
        unshown->runs += c.violation_rate.runs;
        shown = shown || std::any_of(c.invariants.begin(), c.invariants.end(),
                                     [&](const InvariantResult& i) { return i.invariant == *c.breaks; });
      }
    }
    if (unshown && !shown) out.push_back(*unshown);
  }
  return out;
}

const MetricInfo& info(Metric metric) { return kMetrics[static_cast<std::size_t>(metric)]; }

bool RunDigest::violated(Invariant invariant) const {
  return std::any_of(violations.begin(), violations.end(), [&](const auto& v) { return v.first == invariant; });
}

std::vector<std::string> fault_features(const Schedule& schedule, Topology topology) {
  const auto acts = [&](FaultKind kind) {
    return fault_acts(kind, schedule.servers, schedule.network.client_link, topology);
  };
  std::set<std::string> features;
  Ppm drop = acts(FaultKind::drop) ? schedule.network.drop : 0;
  Duration longest_offline;
  for (const ScheduledFault& f : schedule.faults) {
    if (!acts(f.kind)) continue;
    features.insert("fault " + std::string(to_string(f.kind)));
    if (f.kind == FaultKind::partition) features.insert("partition " + shape_of(schedule, f));
    if (f.kind == FaultKind::drop) drop = std::max(drop, f.ppm);
    if (f.kind == FaultKind::offline) longest_offline = max(longest_offline, f.duration);
  }
  if (drop > 0) features.insert("drop > 0");
  if (drop >= 50'000) features.insert("drop >= 5%");
  if (acts(FaultKind::duplicate) && schedule.network.duplicate > 0) features.insert("duplicate > 0");
  if (acts(FaultKind::reorder) && schedule.network.reorder > 0) features.insert("reorder > 0");
  if (longest_offline >= Duration::seconds(10)) features.insert("offline >= 10 s");
  Duration skew;
  for (Duration s : schedule.clock_skew) skew = max(skew, s < Duration::zero() ? Duration::zero() - s : s);
  if (skew > Duration::zero()) features.insert("clock skew > 0");
  if (skew >= Duration::millis(100)) features.insert("clock skew >= 100 ms");
  if (skew >= Duration::seconds(1)) features.insert("clock skew >= 1 s");
  return {features.begin(), features.end()};
}

Attribution attribute_faults(const std::vector<RunDigest>& runs, Invariant invariant) {
  Attribution a;
  std::map<std::string, std::pair<std::uint32_t, std::uint32_t>> seen;  // feature -> (failing, passing)
  for (const RunDigest& r : runs) {
    const bool failing = r.violated(invariant);
    ++(failing ? a.failing_seeds : a.passing_seeds);
    for (const std::string& f : r.features) ++(failing ? seen[f].first : seen[f].second);
  }
  if (a.failing_seeds == 0) return a;
  for (const auto& [feature, counts] : seen) {
    FeatureShare share{feature, static_cast<double>(counts.first) / a.failing_seeds,
                       a.passing_seeds ? static_cast<double>(counts.second) / a.passing_seeds : 0.0};
    if (share.failing_share > share.passing_share) a.features.push_back(share);
  }
  std::stable_sort(a.features.begin(), a.features.end(), [](const FeatureShare& x, const FeatureShare& y) {
    const double dx = x.failing_share - x.passing_share;
    const double dy = y.failing_share - y.passing_share;
    return dx != dy ? dx > dy : x.failing_share > y.failing_share;
  });
  if (a.features.size() > 6) a.features.resize(6);
  return a;
}

std::vector<std::pair<std::string, BackoffOptions>> backoff_policies(const BackoffOptions& base) {
  auto with = [&](BackoffPolicy policy, Jitter jitter) {
    BackoffOptions b = base;
    b.policy = policy;
    b.jitter = jitter;
    b.jitter_first_attempt = true;
    return b;
  };
  BackoffOptions first_at_once = with(BackoffPolicy::exponential, Jitter::full);
  first_at_once.jitter_first_attempt = false;
  // The presets keep their own base, cap and multiplier: they are what real clients ship with.
  return {
      {"none", with(BackoffPolicy::none, Jitter::none)},
      {"exponential, no jitter", with(BackoffPolicy::exponential, Jitter::none)},
      {"full jitter", with(BackoffPolicy::exponential, Jitter::full)},
      {"equal jitter", with(BackoffPolicy::exponential, Jitter::equal)},
      {"decorrelated jitter", with(BackoffPolicy::exponential, Jitter::decorrelated)},
      {"full jitter, first attempt at once", first_at_once},
      {"socket.io preset", *backoff_preset("socket.io")},
      {"grpc preset", *backoff_preset("grpc")},
  };
}

Scenario default_storm_scenario() {
  Scenario s;
  s.name = "reconnect-storm (built in)";
  s.description = "every client loses its server for 5 s at once, then all reconnect";
  s.servers = 1;
  s.workload.clients = 50;
  s.workload.duration = Duration::seconds(20);
  s.workload.think_time_mean = Duration::seconds(4);
  FaultSpec down;
  down.kind = FaultKind::down;
  down.at = Instant{Duration::seconds(5).us};
  down.duration = Duration::seconds(5);
  down.target = Target{Target::Kind::servers, 0};
  s.faults.push_back(down);
  s.invariants.settle = Duration::seconds(15);
  return s;
}

Comparison run_comparison(const CompareOptions& options) {
  const Plan plan = make_plan(options);
  const std::vector<RunDigest> runs = run_plan(plan, options);
  Comparison c;
  c.seeds = options.seeds;
  c.first_seed = options.first_seed;
  for (const ModelInfo* m : options.models) {
    c.models.push_back(m->name);
    if (!m->correct()) c.buggy_models.push_back(m->name);
  }
  c.scenarios = aggregate(plan, options, runs);
  c.backoff = study(plan, options, runs);
  if (options.diagrams) c.diagrams = diagrams(options, c.scenarios);
  return c;
}

}  // namespace syncstorm
