// results.json and results.csv: the simulated figures only (no wall-clock time, no host, no date),
// so both files are byte-identical across machines and job counts and can be diffed between commits.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "reports/report.hpp"

namespace syncstorm {

namespace {

using Json = nlohmann::ordered_json;

double tidy(double v) { return round_figure(v); }

Json summary_json(const Summary& s) {
  return Json{{"seeds", s.seeds},        {"samples", s.samples},   {"mean", tidy(s.mean)},
              {"ci95_low", tidy(s.ci_low)}, {"ci95_high", tidy(s.ci_high)}, {"median", tidy(s.median)},
              {"p95", tidy(s.p95)},      {"p99", tidy(s.p99)}};
}

Json rate_json(const Rate& r) {
  return Json{{"hits", r.hits}, {"runs", r.runs}, {"rate", tidy(r.rate)}, {"ci95_low", tidy(r.ci_low)},
              {"ci95_high", tidy(r.ci_high)}};
}

Json attribution_json(const Attribution& a) {
  Json features = Json::array();
  for (const FeatureShare& f : a.features) {
    features.push_back({{"feature", f.feature}, {"failing_share", tidy(f.failing_share)}, {"passing_share", tidy(f.passing_share)}});
  }
  return Json{{"failing_seeds", a.failing_seeds}, {"passing_seeds", a.passing_seeds}, {"features", features}};
}

Json trend_json(const CellTrend& t) {
  Json changes = Json::array();
  for (const FigureChange& f : t.changes) {
    changes.push_back({{"figure", f.figure},
                       {"movement", to_string(f.movement)},
                       {"baseline", {{"value", tidy(f.before)}, {"ci95_low", tidy(f.before_low)}, {"ci95_high", tidy(f.before_high)}}},
                       {"now", {{"value", tidy(f.now)}, {"ci95_low", tidy(f.now_low)}, {"ci95_high", tidy(f.now_high)}}}});
  }
  return Json{{"new", t.is_new}, {"moved", changes}};
}

Json cell_json(const Cell& c) {
  Json j{{"model", c.model}, {"correct", c.correct}};
  if (c.breaks) j["advertised_break"] = to_string(*c.breaks);
  j["violation_rate"] = rate_json(c.violation_rate);
  j["aborted_runs"] = c.aborted;
  j["never_converged_runs"] = c.never_converged;
  Json invariants = Json::array();
  for (const InvariantResult& r : c.invariants) {
    invariants.push_back({{"invariant", to_string(r.invariant)},
                          {"rate", rate_json(r.rate)},
                          {"count", r.count},
                          {"failing_seeds", r.failing_seeds},
                          {"replay", r.replay},
                          {"clean_seeds_to_trust", r.clean_seeds_to_trust},
                          {"attribution", attribution_json(r.attribution)}});
  }
  j["violations"] = invariants;
  Json metrics = Json::object();
  for (const MetricInfo& m : metric_infos()) metrics[std::string(m.key)] = summary_json(c.metrics[static_cast<std::size_t>(m.metric)]);
  j["metrics"] = metrics;
  Json cdfs = Json::object();
  auto tidy_all = [](const std::vector<double>& v) {
    std::vector<double> out;
    for (double x : v) out.push_back(tidy(x));
    return out;
  };
  cdfs["convergence_ms"] = tidy_all(c.convergence_cdf);
  cdfs["remote_latency_ms"] = tidy_all(c.remote_latency_cdf);
  j["cdf_quantiles"] = cdfs;
  if (c.trend) j["trend"] = trend_json(*c.trend);
  return j;
}

Json scenario_json(const ScenarioResult& s) {
  Json cells = Json::array();
  for (const Cell& c : s.cells) cells.push_back(cell_json(c));
  const Decision& d = s.decision;
  Json decision{{"held_every_invariant", d.held}, {"cheapest", d.cheapest}, {"cheapest_bytes_per_op", tidy(d.cheapest_bytes_per_op)},
                {"most_responsive", d.most_responsive}, {"most_responsive_remote_p95_ms", tidy(d.responsive_p95_ms)}};
  return Json{{"name", s.name}, {"description", s.description}, {"skipped_models", s.skipped_models},
              {"decision", decision}, {"models", cells}};
}

Json backoff_json(const BackoffStudy& b) {
  Json policies = Json::array();
  for (const BackoffRun& r : b.policies) {
    std::vector<double> load;
    for (double v : r.load_per_s) load.push_back(tidy(v));
    policies.push_back({{"policy", r.policy},
                        {"server_load_peak_per_s", summary_json(r.peak_per_s)},
                        {"all_reconnected_ms", summary_json(r.all_reconnected_ms)},
                        {"violation_rate", rate_json(r.violation_rate)},
                        {"server_load_per_s_by_100ms", load}});
  }
  return Json{{"scenario", b.scenario}, {"model", b.model}, {"seeds", b.seeds}, {"policies", policies}};
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string to_json(const Comparison& c) {
  Json j;
  j["format_version"] = kResultsFormatVersion;
  j["seeds"] = c.seeds;
  j["first_seed"] = c.first_seed;
  j["models"] = c.models;
  Json metrics = Json::array();
  for (const MetricInfo& m : metric_infos()) metrics.push_back({{"key", m.key}, {"title", m.title}, {"unit", m.unit}});
  j["metrics"] = metrics;
  Json scenarios = Json::array();
  for (const ScenarioResult& s : c.scenarios) scenarios.push_back(scenario_json(s));
  j["scenarios"] = scenarios;
  j["backoff_study"] = c.backoff ? backoff_json(*c.backoff) : Json(nullptr);
  Json diagrams = Json::array();
  for (const Diagram& d : c.diagrams) {
    diagrams.push_back({{"invariant", to_string(d.invariant)}, {"scenario", d.scenario}, {"model", d.model},
                        {"seed", d.seed}, {"file", d.file}, {"replay", d.replay}});
  }
  j["diagrams"] = diagrams;
  if (c.baseline) {
    Json removed = Json::array();
    for (const auto& [scenario, model] : c.baseline->removed) removed.push_back({{"scenario", scenario}, {"model", model}});
    j["baseline"] = {{"seeds", c.baseline->seeds}, {"first_seed", c.baseline->first_seed},
                     {"figures_compared", c.baseline->figures_compared}, {"removed", removed}};
  } else {
    j["baseline"] = nullptr;
  }
  return j.dump(2) + "\n";
}

std::string to_csv(const Comparison& c) {
  std::string out = "scenario,model,correct,metric,unit,seeds,samples,mean,ci95_low,ci95_high,median,p95,p99\n";
  auto row = [&](const std::string& scenario, const Cell& cell, std::string_view metric, std::string_view unit,
                 const Summary& s) {
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{}\n", csv_field(scenario), csv_field(cell.model),
                       cell.correct ? "true" : "false", metric, csv_field(unit), s.seeds, s.samples, tidy(s.mean),
                       tidy(s.ci_low), tidy(s.ci_high), tidy(s.median), tidy(s.p95), tidy(s.p99));
  };
  for (const ScenarioResult& s : c.scenarios) {
    for (const Cell& cell : s.cells) {
      // The violation rate goes in the same shape: mean = rate, the interval is Wilson's.
      const Rate& r = cell.violation_rate;
      out += fmt::format("{},{},{},violation_rate,share of seeds,{},{},{},{},{},,,\n", csv_field(s.name), csv_field(cell.model),
                         cell.correct ? "true" : "false", r.runs, r.runs, tidy(r.rate), tidy(r.ci_low), tidy(r.ci_high));
      for (const InvariantResult& inv : cell.invariants) {
        out += fmt::format("{},{},{},violation_rate.{},share of seeds,{},{},{},{},{},,,\n", csv_field(s.name),
                           csv_field(cell.model), cell.correct ? "true" : "false", to_string(inv.invariant), inv.rate.runs,
                           inv.count, tidy(inv.rate.rate), tidy(inv.rate.ci_low), tidy(inv.rate.ci_high));
      }
      for (const MetricInfo& m : metric_infos()) row(s.name, cell, m.key, m.unit, cell.metrics[static_cast<std::size_t>(m.metric)]);
    }
  }
  return out;
}

}  // namespace syncstorm
