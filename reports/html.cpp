// index.html: one self-contained page (inline CSS, inline SVG, inline script; nothing from a network)
// with the decision summary, a sortable table and charts per scenario, the backoff study and the
// space-time diagrams of failing runs.
#include <fmt/format.h>

#include "reports/matrix.hpp"
#include "reports/report.hpp"
#include "reports/svg_util.hpp"

namespace syncstorm {

namespace {

constexpr std::string_view kStyle = R"(<style>
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1320px;padding:0 1em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:13px} th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f4f4f4;cursor:pointer;user-select:none} td:first-child,th:first-child{text-align:left}
th.sorted-asc::after{content:" \25B2"} th.sorted-desc::after{content:" \25BC"}
tr.buggy td:first-child{color:#a33} .bad{color:#b00;font-weight:bold} .ok{color:#070}
.charts{display:flex;flex-wrap:wrap;gap:10px} .charts svg{border:1px solid #eee}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:12px} code{background:#f3f3f3;padding:0 3px}
.lamport-wrap{overflow-x:auto;border:1px solid #eee}
.matrix-wrap{overflow-x:auto} table.matrix{font-size:12px} table.matrix th{cursor:default}
table.matrix th.model{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;vertical-align:bottom;font-weight:normal;padding:4px 2px}
table.matrix th.group{text-align:center} table.matrix th.buggy{color:#a33;font-style:italic}
table.matrix td{text-align:center;padding:0;min-width:2.2em;max-width:5em;line-height:1.15} table.matrix tbody th{white-space:nowrap;text-align:left} table.matrix td a{display:block;padding:3px 4px;color:#111;text-decoration:none}
table.matrix .gap{border-left:3px solid #555}
td.r0{background:#cdebc5} td.r1{background:#fff0b3} td.r2{background:#f7bd78} td.r3{background:#e0625a}
td.c0{background:#cdebc5} td.c1{background:#eef5c8} td.c2{background:#f7d9a8} td.c3{background:#eba07f}
td.nf{background:repeating-linear-gradient(45deg,#f4f4f4,#f4f4f4 4px,#e2e2e2 4px,#e2e2e2 8px);color:#888}
td.worse{outline:2px solid #b00;outline-offset:-3px} td.better{outline:2px solid #070;outline-offset:-3px}
.legend span.key{display:inline-block;width:1.4em;margin:0 .3em 0 .8em;border:1px solid #ccc}
ul.changes li.worse::marker{color:#b00} ul.changes li.better::marker{color:#070}
</style>
)";

/// Sortable tables (click a header; numbers sort as numbers via data-v) and a self-check the
/// browser test reads: how many charts drew a non-empty box.
constexpr std::string_view kScript = R"(<script>
(function () {
  function key(cell) { var v = cell.getAttribute('data-v'); return v === null ? cell.textContent.trim() : parseFloat(v); }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('th').forEach(function (th, column) {
      th.addEventListener('click', function () {
        var asc = !th.classList.contains('sorted-asc');
        table.querySelectorAll('th').forEach(function (h) { h.classList.remove('sorted-asc', 'sorted-desc'); });
        th.classList.add(asc ? 'sorted-asc' : 'sorted-desc');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[column]), y = key(b.cells[column]);
          var c = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var charts = document.querySelectorAll('svg.chart'), drawn = 0;
  charts.forEach(function (svg) { var box = svg.getBBox(); if (box.width > 0 && box.height > 0 && svg.childElementCount > 2) drawn++; });
  document.body.setAttribute('data-charts-total', String(charts.length));
  document.body.setAttribute('data-charts-drawn', String(drawn));
})();
</script>
)";

const Summary& metric(const Cell& c, Metric m) { return c.metrics[static_cast<std::size_t>(m)]; }

std::string percent(double share) { return fmt::format("{:.0f}%", share * 100); }

/// A numeric table cell that sorts by its value; "n/a" sorts last.
std::string number_cell(const Summary& s, double value) {
  if (s.seeds == 0) return "<td data-v=\"1e300\">n/a</td>";
  return fmt::format("<td data-v=\"{}\">{}</td>", value, svg::number(value));
}

// ---- The strategy and cost matrices, and what changed since a baseline ----

constexpr std::string_view kRateBandText[] = {"no violation", "up to 10% of seeds", "up to 50% of seeds", "over 50% of seeds"};
constexpr std::string_view kCostBandText[] = {"within 10% of the best, or below it", "up to 2x the best", "up to 5x the best", "over 5x the best"};

std::string move_mark(std::optional<Movement> m, bool is_new) {
  if (is_new) return "<sup title=\"not in the baseline\">new</sup>";
  if (!m) return "";
  return *m == Movement::worse ? "<b title=\"worse than the baseline\">&#8593;</b>" : "<b title=\"better than the baseline\">&#8595;</b>";
}

std::string move_class(std::optional<Movement> m) {
  if (!m) return "";
  return *m == Movement::worse ? " worse" : " better";
}

std::string matrix_head(const matrix::Matrix& m) {
  std::string s = "<thead><tr><th rowspan=\"2\">scenario</th>";
  if (!m.correct_models.empty()) s += fmt::format("<th class=\"group\" colspan=\"{}\">correct models</th>", m.correct_models.size());
  if (!m.buggy_models.empty()) {
    s += fmt::format("<th class=\"group buggy gap\" colspan=\"{}\">buggy baselines (built to fail)</th>", m.buggy_models.size());
  }
  s += "</tr>\n<tr>";
  for (const std::string& name : m.correct_models) s += fmt::format("<th class=\"model\">{}</th>", markup_escape(name));
  for (std::size_t i = 0; i < m.buggy_models.size(); ++i) {
    s += fmt::format("<th class=\"model buggy{}\">{}</th>", i == 0 ? " gap" : "", markup_escape(m.buggy_models[i]));
  }
  return s + "</tr></thead>\n";
}

/// One row of either matrix; `cell_html` draws a cell that ran, given its extra class ("gap" or "").
template <typename CellHtml>
std::string matrix_row(const matrix::MatrixRow& row, CellHtml cell_html) {
  std::string s = fmt::format("<tr><th><a href=\"#{}\">{}</a></th>", markup_escape(row.anchor), markup_escape(row.scenario));
  auto one = [&](const matrix::MatrixCell& cell, bool gap) {
    if (cell.cell == nullptr) {
      s += fmt::format("<td class=\"nf{}\" title=\"{} does not fit {}: not run\">&#183;</td>", gap ? " gap" : "",
                       markup_escape(cell.model), markup_escape(row.scenario));
    } else {
      s += cell_html(cell, gap ? " gap" : "");
    }
  };
  for (const matrix::MatrixCell& cell : row.correct) one(cell, false);
  for (std::size_t i = 0; i < row.buggy.size(); ++i) one(row.buggy[i], i == 0);
  return s + "</tr>\n";
}

std::string strategy_matrix(const matrix::Matrix& m, bool with_baseline) {
  std::string s = "<h2 id=\"matrix\">Strategy matrix</h2>\n<p class=\"legend\">Each cell: the share of seeds on which the model broke "
                  "an invariant, and which ones. Click a cell for the scenario's section.";
  for (int band = 0; band < matrix::kRateBands; ++band) {
    s += fmt::format("<span class=\"key\" style=\"background:{}\">&nbsp;</span>{}", std::array{"#cdebc5", "#fff0b3", "#f7bd78", "#e0625a"}[band],
                     kRateBandText[band]);
  }
  s += "<span class=\"key\" style=\"background:#e2e2e2\">&#183;</span>does not fit the scenario (not run)<br>Invariants: ";
  for (std::size_t i = 0; i < std::size(kAllInvariants); ++i) {
    s += fmt::format("{}<b>{}</b> {}", i ? ", " : "", matrix::code(kAllInvariants[i]), to_string(kAllInvariants[i]));
  }
  s += "; <b>AB</b> runs stopped by a limit. &#10003;: held every invariant on every seed.";
  if (with_baseline) s += " Since the baseline: &#8593; worse, &#8595; better (95% intervals no longer overlap), <sup>new</sup> not in it.";
  s += "</p>\n<div class=\"matrix-wrap\"><table class=\"matrix\" id=\"strategy-matrix\">\n" + matrix_head(m) + "<tbody>\n";
  for (const matrix::MatrixRow& row : m.rows) {
    s += matrix_row(row, [&](const matrix::MatrixCell& cell, std::string_view extra) {
      const Rate& r = cell.cell->violation_rate;
      std::string codes;
      for (Invariant inv : cell.broken) codes += (codes.empty() ? "" : " ") + std::string(matrix::code(inv));
      if (cell.cell->aborted > 0) codes += (codes.empty() ? "" : " ") + std::string("AB");
      if (codes.empty()) codes = "&#10003;";
      return fmt::format("<td class=\"r{}{}{}\"><a href=\"#{}\" title=\"{} on {}: {}/{} seeds with a violation ({}, 95% CI {}&#8211;{})\">{}{}</a></td>",
                         matrix::rate_band(r), extra, move_class(cell.violation_move), markup_escape(row.anchor), markup_escape(cell.model),
                         markup_escape(row.scenario), r.hits, r.runs, percent(r.rate), percent(r.ci_low), percent(r.ci_high), codes,
                         move_mark(cell.violation_move, cell.is_new));
    });
  }
  return s + "</tbody></table></div>\n";
}

std::string cost_matrix(const matrix::Matrix& m, bool with_baseline) {
  const MetricInfo& cost = info(matrix::kCostMetric);
  std::string s = fmt::format("<h2 id=\"cost-matrix\">Cost matrix</h2>\n<p class=\"legend\">Each cell: {} (mean over seeds) relative to "
                              "the lowest correct model in its row (buggy baselines are shown against it, never chosen as it).",
                              markup_escape(cost.title));
  for (int band = 0; band < matrix::kCostBands; ++band) {
    s += fmt::format("<span class=\"key\" style=\"background:{}\">&nbsp;</span>{}", std::array{"#cdebc5", "#eef5c8", "#f7d9a8", "#eba07f"}[band],
                     kCostBandText[band]);
  }
  s += " n/a: no seed gave the figure.";
  if (with_baseline) s += " Since the baseline: &#8593; worse, &#8595; better.";
  s += "</p>\n<div class=\"matrix-wrap\"><table class=\"matrix\" id=\"cost-matrix-table\">\n" + matrix_head(m) + "<tbody>\n";
  for (const matrix::MatrixRow& row : m.rows) {
    s += matrix_row(row, [&](const matrix::MatrixCell& cell, std::string_view extra) {
      const Summary& x = cell.cell->metrics[static_cast<std::size_t>(matrix::kCostMetric)];
      if (!cell.cost_ratio) {
        return fmt::format("<td class=\"{}\"><a href=\"#{}\" title=\"{} on {}: no figure\">n/a</a></td>", extra.empty() ? "" : "gap",
                           markup_escape(row.anchor), markup_escape(cell.model), markup_escape(row.scenario));
      }
      return fmt::format("<td class=\"c{}{}{}\"><a href=\"#{}\" title=\"{} on {}: {} {} (95% CI {}&#8211;{}); best in row: {} {}\">&#215;{}{}</a></td>",
                         matrix::cost_band(*cell.cost_ratio), extra, move_class(cell.cost_move), markup_escape(row.anchor),
                         markup_escape(cell.model), markup_escape(row.scenario), svg::number(x.mean), markup_escape(cost.unit),
                         svg::number(x.ci_low), svg::number(x.ci_high), markup_escape(row.best_cost_model), svg::number(*row.best_cost),
                         svg::number(*cell.cost_ratio), move_mark(cell.cost_move, cell.is_new));
    });
  }
  return s + "</tbody></table></div>\n";
}

/// A rate as a percentage, a metric as a number.
std::string change_value(std::string_view figure, double v) {
  return figure.starts_with("violation_rate") ? percent(v) : svg::number(v);
}

/// results.json lists every moved figure; the page stops after this many.
constexpr std::size_t kChangesListedMax = 200;

std::string changes_section(const Comparison& c) {
  const BaselineSummary& b = *c.baseline;
  std::string s = fmt::format("<h2 id=\"changes\">What changed since the baseline</h2>\n<p>Baseline: {} seeds from seed {}; {} figures "
                              "compared. A figure counts as moved when its 95% interval no longer overlaps the baseline's.</p>\n",
                              b.seeds, b.first_seed, b.figures_compared);
  std::string items;
  std::size_t listed = 0;
  for (const ScenarioResult& r : c.scenarios) {
    for (const Cell& cell : r.cells) {
      if (!cell.trend) continue;
      if (cell.trend->is_new) {
        if (listed < kChangesListedMax) items += fmt::format("<li>new: <b>{}</b> on <a href=\"#{}\">{}</a> (not in the baseline)</li>\n", markup_escape(cell.model),
                             markup_escape(matrix::anchor(r.name)), markup_escape(r.name));
        ++listed;
      }
      for (const FigureChange& f : cell.trend->changes) {
        if (listed < kChangesListedMax) items += fmt::format("<li class=\"{}\">{}: <b>{}</b> on <a href=\"#{}\">{}</a>: <code>{}</code> {} ({}&#8211;{}) &#8594; {} ({}&#8211;{})</li>\n",
                             to_string(f.movement), to_string(f.movement), markup_escape(cell.model), markup_escape(matrix::anchor(r.name)),
                             markup_escape(r.name), markup_escape(f.figure), change_value(f.figure, f.before),
                             change_value(f.figure, f.before_low), change_value(f.figure, f.before_high), change_value(f.figure, f.now),
                             change_value(f.figure, f.now_low), change_value(f.figure, f.now_high));
        ++listed;
      }
    }
  }
  for (const auto& [scenario, model] : b.removed) {
    if (listed < kChangesListedMax) items += fmt::format("<li>removed: <b>{}</b> on {} (in the baseline, not compared now)</li>\n", markup_escape(model), markup_escape(scenario));
    ++listed;
  }
  if (listed == 0) return s + "<p class=\"ok\">Nothing moved beyond its 95% interval.</p>\n";
  if (listed > kChangesListedMax) items += fmt::format("<li>&#8230; and {} more (results.json lists every one)</li>\n", listed - kChangesListedMax);
  return s + "<ul class=\"changes\">\n" + items + "</ul>\n";
}

std::string decision_section(const Comparison& c) {
  std::string s = "<h2>Decision summary</h2>\n<table class=\"sortable\"><thead><tr><th>scenario</th><th>held every invariant "
                  "on every seed</th><th>cheapest (bytes/op)</th><th>most responsive (remote latency p95)</th></tr></thead><tbody>\n";
  for (const ScenarioResult& r : c.scenarios) {
    const Decision& d = r.decision;
    std::string held;
    for (const std::string& m : d.held) held += (held.empty() ? "" : ", ") + markup_escape(m);
    s += fmt::format("<tr><td><a href=\"#{}\">{}</a></td><td style=\"text-align:left\">{}</td><td>{}</td><td>{}</td></tr>\n",
                     markup_escape(matrix::anchor(r.name)), markup_escape(r.name), held.empty() ? "<span class=\"bad\">none</span>" : held,
                     d.cheapest.empty() ? "—" : fmt::format("{} ({})", markup_escape(d.cheapest), svg::number(d.cheapest_bytes_per_op)),
                     d.most_responsive.empty()
                         ? "—"
                         : fmt::format("{} ({} ms)", markup_escape(d.most_responsive), svg::number(d.responsive_p95_ms)));
  }
  return s + "</tbody></table>\n";
}

/// The buggy baselines whose advertised break no run showed (markdown.cpp says why).
std::string unshown_breaks_section(const Comparison& c) {
  const std::vector<UnshownBreak> unshown = unshown_breaks(c);
  if (unshown.empty()) return "";
  std::string s = "<h2>Advertised breaks not shown</h2>\n<p>These buggy baselines advertise a break that no run of "
                  "this comparison showed. A rare break needs more seeds than a comparison runs: its absence here is "
                  "not a pass.</p>\n<ul>\n";
  for (const UnshownBreak& u : unshown) {
    s += fmt::format("<li><b>{}</b> advertises breaking <code>{}</code>: none of its {} run{} on {} scenario{} showed "
                     "it (<code>syncstorm check --model {} --seeds 1000</code> sweeps for it).</li>\n",
                     markup_escape(u.model), to_string(u.breaks), u.runs, u.runs == 1 ? "" : "s", u.scenarios,
                     u.scenarios == 1 ? "" : "s", markup_escape(u.model));
  }
  return s + "</ul>\n";
}

std::string cells_table(const ScenarioResult& r) {
  std::string s = "<table class=\"sortable\"><thead><tr><th>model</th><th>seeds with violations</th><th>converge p95 (ms)</th>"
                  "<th>never converged</th><th>local p95 (ms)</th><th>remote p50 (ms)</th><th>remote p95 (ms)</th>"
                  "<th>messages/op</th><th>bytes/op</th><th>server load mean (/s)</th><th>server load peak p95 (/s)</th>"
                  "<th>metadata p95 (bytes)</th><th>rollbacks /1k ops</th><th>all back p95 (ms)</th></tr></thead><tbody>\n";
  for (const Cell& c : r.cells) {
    const Rate& v = c.violation_rate;
    s += fmt::format("<tr class=\"{}\"><td>{}{}</td><td data-v=\"{}\" class=\"{}\">{}/{} ({})</td>", c.correct ? "" : "buggy",
                     markup_escape(c.model), c.correct ? "" : " (buggy)", v.rate, v.hits ? "bad" : "ok", v.hits, v.runs,
                     percent(v.rate));
    s += number_cell(metric(c, Metric::convergence), metric(c, Metric::convergence).p95);
    s += fmt::format("<td data-v=\"{}\">{}</td>", c.never_converged, c.never_converged);
    s += number_cell(metric(c, Metric::local_latency), metric(c, Metric::local_latency).p95);
    s += number_cell(metric(c, Metric::remote_latency), metric(c, Metric::remote_latency).median);
    s += number_cell(metric(c, Metric::remote_latency), metric(c, Metric::remote_latency).p95);
    s += number_cell(metric(c, Metric::messages_per_op), metric(c, Metric::messages_per_op).mean);
    s += number_cell(metric(c, Metric::bytes_per_op), metric(c, Metric::bytes_per_op).mean);
    s += number_cell(metric(c, Metric::server_load_mean), metric(c, Metric::server_load_mean).mean);
    s += number_cell(metric(c, Metric::server_load_peak), metric(c, Metric::server_load_peak).p95);
    s += number_cell(metric(c, Metric::metadata_bytes), metric(c, Metric::metadata_bytes).p95);
    s += number_cell(metric(c, Metric::rollbacks_per_kop), metric(c, Metric::rollbacks_per_kop).mean);
    s += number_cell(metric(c, Metric::all_reconnected), metric(c, Metric::all_reconnected).p95);
    s += "</tr>\n";
  }
  return s + "</tbody></table>\n";
}

std::string violations_section(const ScenarioResult& r) {
  std::string s;
  for (const Cell& c : r.cells) {
    for (const InvariantResult& inv : c.invariants) {
      s += fmt::format("<li><b>{}</b> broke <code>{}</code> in {}/{} seeds ({}, 95% CI {}–{}), {} violations{}. Smallest "
                       "failing seed: <code>{}</code><br>A fix needs {} clean seed{} before it can be trusted at 95% "
                       "confidence.<br>Fault attribution: ",
                       markup_escape(c.model), to_string(inv.invariant), inv.rate.hits, inv.rate.runs, percent(inv.rate.rate),
                       percent(inv.rate.ci_low), percent(inv.rate.ci_high), inv.count,
                       c.breaks == inv.invariant ? ", as this baseline advertises" : "", markup_escape(inv.replay),
                       inv.clean_seeds_to_trust, inv.clean_seeds_to_trust == 1 ? "" : "s");
      const Attribution& a = inv.attribution;
      if (a.features.empty()) s += "no fault setting sets the failing seeds apart";
      if (!a.features.empty() && a.passing_seeds == 0) s += "every seed failed, so no setting can be told apart; the failing seeds had: ";
      for (std::size_t i = 0; i < a.features.size(); ++i) {
        const FeatureShare& f = a.features[i];
        s += fmt::format("{}<code>{}</code> in {} of failing seeds{}", i ? "; " : "", markup_escape(f.feature), percent(f.failing_share),
                         a.passing_seeds ? fmt::format(", {} of passing", percent(f.passing_share)) : "");
      }
      s += fmt::format("<details><summary>report of seed {}</summary><pre>{}</pre></details></li>\n",
                       inv.failing_seeds.empty() ? 0 : inv.failing_seeds.front(), markup_escape(inv.example));
    }
  }
  return s.empty() ? "<p class=\"ok\">No violations.</p>\n" : "<ul>\n" + s + "</ul>\n";
}

std::string metric_charts(const ScenarioResult& r) {
  std::string s = "<div class=\"charts\">\n";
  std::vector<Bar> rates;
  for (const Cell& c : r.cells) {
    const Rate& v = c.violation_rate;
    rates.push_back(Bar{c.model, v.rate * 100, v.ci_low * 100, v.ci_high * 100, v.hits > 0});
  }
  s += bar_chart_svg("Seeds with a violation (95% CI)", "% of seeds", rates);
  for (const MetricInfo& m : metric_infos()) {
    std::vector<Bar> bars;
    for (const Cell& c : r.cells) {
      const Summary& x = metric(c, m.metric);
      if (x.seeds > 0) bars.push_back(Bar{c.model, x.mean, x.ci_low, x.ci_high, !c.correct});
    }
    if (bars.empty()) continue;  // a figure no run produced (e.g. no disruption to reconnect from)
    s += bar_chart_svg(fmt::format("{}: mean (95% CI)", m.title), m.unit, bars);
  }
  return s + "</div>\n";
}

std::vector<Series> cdf_series(const ScenarioResult& r, bool convergence) {
  std::vector<Series> out;
  for (const Cell& c : r.cells) {
    const std::vector<double>& q = convergence ? c.convergence_cdf : c.remote_latency_cdf;
    if (q.empty()) continue;
    Series s{c.model, {}};
    for (std::size_t i = 0; i < q.size(); ++i) {
      s.points.emplace_back(q[i], static_cast<double>(i) / static_cast<double>(q.size() - 1));
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string scenario_section(const ScenarioResult& r) {
  std::string s = fmt::format("<h2 id=\"{}\">Scenario {}</h2>\n<p>{}</p>\n", markup_escape(matrix::anchor(r.name)), markup_escape(r.name),
                              markup_escape(r.description));
  s += cells_table(r);
  if (!r.skipped_models.empty()) {
    std::string skipped;
    for (const std::string& m : r.skipped_models) skipped += (skipped.empty() ? "" : ", ") + markup_escape(m);
    s += fmt::format("<p>Not run (data type or topology does not fit): {}.</p>\n", skipped);
  }
  s += violations_section(r);
  s += metric_charts(r);
  s += "<div class=\"charts\">\n";
  s += cdf_svg("Time to converge after the heal (CDF over runs)", "ms", cdf_series(r, true));
  s += cdf_svg("Remote latency (CDF over operations)", "ms", cdf_series(r, false));
  return s + "</div>\n";
}

std::string backoff_section(const BackoffStudy& b) {
  std::string s = fmt::format("<h2 id=\"backoff\">Reconnect storm: server load by backoff policy</h2>\n<p>Scenario <code>{}</code>, "
                              "model <code>{}</code>, {} seeds per policy; the load curve is the mean over seeds.</p>\n",
                              markup_escape(b.scenario), markup_escape(b.model), b.seeds);
  std::vector<Series> lines;
  std::vector<Bar> peaks;
  for (const BackoffRun& r : b.policies) {
    Series line{r.policy, {}};
    for (std::size_t i = 0; i < r.load_per_s.size(); ++i) line.points.emplace_back(static_cast<double>(i) / 10, r.load_per_s[i]);
    lines.push_back(std::move(line));
    peaks.push_back(Bar{r.policy, r.peak_per_s.mean, r.peak_per_s.ci_low, r.peak_per_s.ci_high, false});
  }
  s += "<div class=\"charts\">\n";
  s += line_chart_svg("Server load over time (messages and connects per second)", "time (s)", "per second", lines);
  s += bar_chart_svg("Peak server load: mean (95% CI)", "per second", peaks);
  s += "</div>\n<table class=\"sortable\"><thead><tr><th>policy</th><th>peak mean (/s)</th><th>peak p95 (/s)</th>"
       "<th>every client back mean (ms)</th><th>every client back p95 (ms)</th><th>seeds with a violation</th></tr></thead><tbody>\n";
  for (const BackoffRun& r : b.policies) {
    s += fmt::format("<tr><td>{}</td>", markup_escape(r.policy));
    s += number_cell(r.peak_per_s, r.peak_per_s.mean) + number_cell(r.peak_per_s, r.peak_per_s.p95) +
         number_cell(r.all_reconnected_ms, r.all_reconnected_ms.mean) + number_cell(r.all_reconnected_ms, r.all_reconnected_ms.p95) +
         fmt::format("<td>{}/{}</td></tr>\n", r.violation_rate.hits, r.violation_rate.runs);
  }
  return s + "</tbody></table>\n";
}

std::string diagrams_section(const std::vector<Diagram>& diagrams) {
  std::string s = "<h2 id=\"diagrams\">Space-time diagrams of failing runs</h2>\n";
  for (const Diagram& d : diagrams) {
    s += fmt::format("<h3>{}: {} on {}, seed {} (<a href=\"{}\">{}</a>, <a href=\"{}\">interactive timeline</a>)</h3>\n"
                     "<p><code>{}</code></p>\n<div class=\"lamport-wrap\">{}</div>\n"
                     "{}<details><summary>violation report</summary><pre>{}</pre></details>\n",
                     to_string(d.invariant), markup_escape(d.model), markup_escape(d.scenario), d.seed, markup_escape(d.file),
                     markup_escape(d.file), markup_escape(d.timeline_file), markup_escape(d.replay), d.svg,
                     d.caption.empty() ? std::string() : fmt::format("<p class=\"caption\">{}</p>\n", markup_escape(d.caption)),
                     markup_escape(d.report));
  }
  return s;
}

}  // namespace

std::string to_html(const Comparison& c) {
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>syncstorm comparison</title>\n";
  s += kStyle;
  s += "</head><body>\n<h1>syncstorm comparison</h1>\n";
  s += fmt::format("<p>{} seeds per scenario and model (seeds {}–{}); models of a data type meet the same schedules for a seed "
                   "(common random numbers; in a swarm, those whose links take the same fault kinds). All figures are simulated. Click a column header to sort.</p>\n",
                   c.seeds, c.first_seed, c.first_seed + c.seeds - 1);
  s += "<p>";
  s += "<a href=\"#matrix\">strategy matrix</a> · <a href=\"#cost-matrix\">cost matrix</a> · ";
  for (const ScenarioResult& r : c.scenarios) {
    s += fmt::format("<a href=\"#{}\">{}</a> · ", markup_escape(matrix::anchor(r.name)), markup_escape(r.name));
  }
  if (c.backoff) s += "<a href=\"#backoff\">backoff study</a> · ";
  s += "<a href=\"#diagrams\">diagrams</a></p>\n";
  if (c.baseline) s += changes_section(c);
  const matrix::Matrix m = matrix::build(c);
  s += strategy_matrix(m, c.baseline.has_value());
  s += cost_matrix(m, c.baseline.has_value());
  s += decision_section(c);
  s += unshown_breaks_section(c);
  for (const ScenarioResult& r : c.scenarios) s += scenario_section(r);
  if (c.backoff) s += backoff_section(*c.backoff);
  if (!c.diagrams.empty()) s += diagrams_section(c.diagrams);
  s += kScript;
  s += "</body></html>\n";
  return s;
}

}  // namespace syncstorm
