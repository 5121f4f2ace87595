// report.md: the comparison as GitHub-flavoured Markdown, short enough for a pull-request comment.
#include <cctype>

#include <fmt/format.h>

#include "reports/matrix.hpp"
#include "reports/report.hpp"
#include "reports/svg_util.hpp"

namespace syncstorm {

namespace {

std::string percent(double share) { return fmt::format("{:.0f}%", share * 100); }

std::string rate_text(const Rate& r) {
  return fmt::format("{}/{} ({}, 95% CI {}–{})", r.hits, r.runs, percent(r.rate), percent(r.ci_low), percent(r.ci_high));
}

std::string seeds_text(const Rate& r) {
  return fmt::format("{}/{} seeds ({}, 95% CI {}–{})", r.hits, r.runs, percent(r.rate), percent(r.ci_low), percent(r.ci_high));
}

std::string plural(std::uint64_t n, std::string_view word) { return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s"); }

const Summary& metric(const Cell& c, Metric m) { return c.metrics[static_cast<std::size_t>(m)]; }

/// "n/a" when no seed gave the figure, so an empty cell is never mistaken for zero.
std::string figure(const Summary& s, double value) { return s.seeds == 0 ? "n/a" : svg::number(value); }

// ---- The strategy and cost matrices, and what changed since a baseline ----

constexpr std::string_view kRateSymbols[] = {"🟩", "🟨", "🟧", "🟥"};
constexpr std::string_view kCostSymbols[] = {"🟩", "🟨", "🟧", "🟥"};
/// What changed is listed in full in results.json; a pull-request comment stops after this many.
constexpr std::size_t kChangesListedMax = 40;

/// The anchor GitHub gives a heading: lowercase, spaces to hyphens, punctuation other than - and _ dropped.
std::string github_anchor(std::string_view heading) {
  std::string out;
  for (char ch : heading) {
    const auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || ch == '-' || ch == '_') out += static_cast<char>(std::tolower(u));
    else if (ch == ' ') out += '-';
  }
  return out;
}

std::string scenario_heading(std::string_view name) { return fmt::format("Scenario `{}`", name); }

std::string move_mark(std::optional<Movement> m, bool is_new) {
  if (is_new) return " 🆕";
  if (!m) return "";
  return *m == Movement::worse ? " ↑" : " ↓";
}

/// One Markdown table of a matrix over one column group; `text` draws a cell that ran.
template <typename CellText>
std::string matrix_table(const matrix::Matrix& m, bool buggy, CellText text) {
  const std::vector<std::string>& models = buggy ? m.buggy_models : m.correct_models;
  std::string s = "| scenario |";
  std::string rule = "|---|";
  for (const std::string& name : models) {
    s += fmt::format(" {} |", name);
    rule += ":-:|";
  }
  s += "\n" + rule + "\n";
  for (const matrix::MatrixRow& row : m.rows) {
    s += fmt::format("| [{}](#{}) |", row.scenario, github_anchor(scenario_heading(row.scenario)));
    for (const matrix::MatrixCell& cell : buggy ? row.buggy : row.correct) {
      s += " " + (cell.cell == nullptr ? std::string("·") : text(cell, row)) + " |";
    }
    s += "\n";
  }
  return s + "\n";
}

std::string matrices(const Comparison& c) {
  const matrix::Matrix m = matrix::build(c);
  std::string s = "## Strategy matrix\n\nShare of seeds with a violation: ";
  constexpr std::string_view kBands[] = {"none", "up to 10%", "up to 50%", "over 50%"};
  for (int band = 0; band < matrix::kRateBands; ++band) s += fmt::format("{} {}, ", kRateSymbols[band], kBands[band]);
  s += "`·` not run (the model does not fit the scenario). Invariants: ";
  for (std::size_t i = 0; i < std::size(kAllInvariants); ++i) {
    s += fmt::format("{}**{}** {}", i ? ", " : "", matrix::code(kAllInvariants[i]), to_string(kAllInvariants[i]));
  }
  s += "; **AB** runs stopped by a limit.";
  if (c.baseline) s += " Since the baseline: ↑ worse, ↓ better, 🆕 not in it.";
  s += "\n\n";
  auto rate_cell = [](const matrix::MatrixCell& cell, const matrix::MatrixRow&) {
    std::string codes;
    for (Invariant inv : cell.broken) codes += " " + std::string(matrix::code(inv));
    if (cell.cell->aborted > 0) codes += " AB";
    return std::string(kRateSymbols[matrix::rate_band(cell.cell->violation_rate)]) + codes + move_mark(cell.violation_move, cell.is_new);
  };
  auto cost_cell = [](const matrix::MatrixCell& cell, const matrix::MatrixRow&) {
    if (!cell.cost_ratio) return std::string("n/a");
    return fmt::format("{} ×{}{}", kCostSymbols[matrix::cost_band(*cell.cost_ratio)], svg::number(*cell.cost_ratio),
                       move_mark(cell.cost_move, cell.is_new));
  };
  if (!m.correct_models.empty()) s += "### Correct models\n\n" + matrix_table(m, false, rate_cell);
  if (!m.buggy_models.empty()) s += "### Buggy baselines (built to fail)\n\n" + matrix_table(m, true, rate_cell);
  s += fmt::format("## Cost matrix\n\n{} (mean over seeds) relative to the lowest correct model in its row (buggy baselines are "
                   "shown against it, never chosen as it): 🟩 within 10% or below, 🟨 up to 2x, 🟧 up to 5x, 🟥 over 5x, n/a no seed gave the figure, `·` not run.\n\n",
                   info(matrix::kCostMetric).title);
  if (!m.correct_models.empty()) s += "### Correct models\n\n" + matrix_table(m, false, cost_cell);
  if (!m.buggy_models.empty()) s += "### Buggy baselines (built to fail)\n\n" + matrix_table(m, true, cost_cell);
  return s;
}

std::string figure_name(std::string_view figure) {
  if (figure == "violation_rate") return "seeds with a violation";
  if (figure.starts_with("violation_rate.")) return fmt::format("seeds breaking {}", figure.substr(15));
  for (const MetricInfo& m : metric_infos()) {
    if (m.key == figure) return fmt::format("{} ({}, mean)", m.title, m.unit);
  }
  return std::string(figure);
}

/// A rate as a percentage, a metric as a number.
std::string change_value(std::string_view figure, double v) {
  return figure.starts_with("violation_rate") ? percent(v) : svg::number(v);
}

std::string what_changed(const Comparison& c) {
  const BaselineSummary& b = *c.baseline;
  std::vector<std::string> lines;
  std::size_t worse = 0;
  std::size_t better = 0;
  std::size_t fresh = 0;
  for (const ScenarioResult& r : c.scenarios) {
    for (const Cell& cell : r.cells) {
      if (!cell.trend) continue;
      if (cell.trend->is_new) {
        ++fresh;
        lines.push_back(fmt::format("- 🆕 new: **{}** on `{}` (not in the baseline)", cell.model, r.name));
      }
      for (const FigureChange& f : cell.trend->changes) {
        ++(f.movement == Movement::worse ? worse : better);
        lines.push_back(fmt::format("- {} {}: **{}** on `{}`: {} {} ({}–{}) → {} ({}–{})", f.movement == Movement::worse ? "↑" : "↓",
                                    to_string(f.movement), cell.model, r.name, figure_name(f.figure), change_value(f.figure, f.before),
                                    change_value(f.figure, f.before_low), change_value(f.figure, f.before_high),
                                    change_value(f.figure, f.now), change_value(f.figure, f.now_low), change_value(f.figure, f.now_high)));
      }
    }
  }
  for (const auto& [scenario, model] : b.removed) lines.push_back(fmt::format("- removed: **{}** on `{}` (in the baseline, not compared now)", model, scenario));
  std::string s = fmt::format("## What changed since the baseline\n\n{} worse, {} better, {} new, {} removed, of {} figures compared "
                              "(baseline: {} seeds from seed {}). A figure counts as moved when its 95% interval no longer "
                              "overlaps the baseline's.\n\n",
                              worse, better, fresh, b.removed.size(), b.figures_compared, b.seeds, b.first_seed);
  if (lines.empty()) return s + "Nothing moved beyond its 95% interval.\n\n";
  for (std::size_t i = 0; i < lines.size() && i < kChangesListedMax; ++i) s += lines[i] + "\n";
  if (lines.size() > kChangesListedMax) s += fmt::format("- … and {} more (results.json lists every one)\n", lines.size() - kChangesListedMax);
  return s + "\n";
}

std::string decision_table(const Comparison& c) {
  std::string s = "## Decision summary\n\n"
                  "| scenario | held every invariant on every seed | cheapest (bytes/op) | most responsive (remote p95) |\n"
                  "|---|---|---|---|\n";
  for (const ScenarioResult& r : c.scenarios) {
    const Decision& d = r.decision;
    std::string held;
    for (const std::string& m : d.held) held += (held.empty() ? "" : ", ") + m;
    s += fmt::format("| {} | {} | {} | {} |\n", r.name, held.empty() ? "none" : held,
                     d.cheapest.empty() ? "—" : fmt::format("{} ({})", d.cheapest, svg::number(d.cheapest_bytes_per_op)),
                     d.most_responsive.empty() ? "—"
                                               : fmt::format("{} ({} ms)", d.most_responsive, svg::number(d.responsive_p95_ms)));
  }
  return s + "\n";
}

/// The buggy baselines whose advertised break no run showed: their absence from the tables above is
/// a sample's, not a pass.
std::string unshown_breaks_text(const Comparison& c) {
  const std::vector<UnshownBreak> unshown = unshown_breaks(c);
  if (unshown.empty()) return "";
  std::string s = "## Advertised breaks not shown\n\n"
                  "These buggy baselines advertise a break that no run of this comparison showed. A rare break "
                  "needs more seeds than a comparison runs: its absence here is not a pass.\n\n";
  for (const UnshownBreak& u : unshown) {
    s += fmt::format("- **{}** advertises breaking `{}`: none of its {} on {} showed it (`syncstorm check --model {} "
                     "--seeds 1000` sweeps for it).\n",
                     u.model, to_string(u.breaks), plural(u.runs, "run"), plural(u.scenarios, "scenario"), u.model);
  }
  return s + "\n";
}

std::string cells_table(const ScenarioResult& r) {
  std::string s =
      "| model | seeds with violations | converge p95 (ms) | local p95 (ms) | remote p95 (ms) | messages/op | bytes/op | "
      "peak server load (/s) | metadata (bytes) | rollbacks /1k ops | all back p95 (ms) |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const Cell& c : r.cells) {
    const Summary& conv = metric(c, Metric::convergence);
    const Summary& local = metric(c, Metric::local_latency);
    const Summary& remote = metric(c, Metric::remote_latency);
    const Summary& msgs = metric(c, Metric::messages_per_op);
    const Summary& bytes = metric(c, Metric::bytes_per_op);
    const Summary& peak = metric(c, Metric::server_load_peak);
    const Summary& meta = metric(c, Metric::metadata_bytes);
    const Summary& rollbacks = metric(c, Metric::rollbacks_per_kop);
    const Summary& back = metric(c, Metric::all_reconnected);
    s += fmt::format("| {}{} | {} | {}{} | {} | {} | {} | {} | {} | {} | {} | {} |\n", c.model, c.correct ? "" : " (buggy)",
                     rate_text(c.violation_rate), figure(conv, conv.p95),
                     c.never_converged ? fmt::format(" ({} never)", c.never_converged) : "", figure(local, local.p95),
                     figure(remote, remote.p95), figure(msgs, msgs.mean), figure(bytes, bytes.mean), figure(peak, peak.p95),
                     figure(meta, meta.p95), figure(rollbacks, rollbacks.mean), figure(back, back.p95));
  }
  return s + "\n";
}

std::string attribution_text(const Attribution& a) {
  if (a.features.empty()) return "no fault setting sets the failing seeds apart";
  std::string s;
  if (a.passing_seeds == 0) {
    // With no passing seed nothing can be told apart; the settings every seed had are still worth a look.
    for (const FeatureShare& f : a.features) s += (s.empty() ? "" : ", ") + fmt::format("`{}`", f.feature);
    return "every seed failed, so no setting can be told apart; the failing seeds had " + s;
  }
  for (const FeatureShare& f : a.features) {
    s += (s.empty() ? "" : "; ") + fmt::format("`{}` in {} of failing seeds, {} of passing", f.feature,
                                               percent(f.failing_share), percent(f.passing_share));
  }
  return s;
}

std::string violations_list(const ScenarioResult& r) {
  std::string s;
  for (const Cell& c : r.cells) {
    for (const InvariantResult& inv : c.invariants) {
      s += fmt::format("- **{}** broke `{}` in {} ({}){}. Smallest failing seed: `{}`.\n  A fix needs {} "
                       "before it can be trusted at 95% confidence.\n  Fault attribution: {}.\n",
                       c.model, to_string(inv.invariant), seeds_text(inv.rate), plural(inv.count, "violation"),
                       c.breaks == inv.invariant ? ", as this baseline advertises" : "", inv.replay, plural(inv.clean_seeds_to_trust, "clean seed"),
                       attribution_text(inv.attribution));
    }
    if (c.aborted) s += fmt::format("- **{}**: {} runs stopped by a limit (a model that never went quiet).\n", c.model, c.aborted);
  }
  return s.empty() ? "No violations.\n\n" : "Violations:\n\n" + s + "\n";
}

std::string backoff_table(const BackoffStudy& b) {
  std::string s = fmt::format("## Reconnect storm: server load by backoff policy\n\n"
                              "Scenario `{}`, model `{}`, {} seeds per policy. Peak: the busiest 100 ms from the first fault on, scaled to a second.\n\n"
                              "| backoff policy | peak server load mean (95% CI) | peak p95 | every client back, mean (ms) | "
                              "every client back, p95 (ms) | seeds with a violation |\n"
                              "|---|---|---|---|---|---|\n",
                              b.scenario, b.model, b.seeds);
  for (const BackoffRun& r : b.policies) {
    s += fmt::format("| {} | {} ({}–{}) | {} | {} | {} | {}/{} |\n", r.policy, svg::number(r.peak_per_s.mean),
                     svg::number(r.peak_per_s.ci_low), svg::number(r.peak_per_s.ci_high), svg::number(r.peak_per_s.p95),
                     figure(r.all_reconnected_ms, r.all_reconnected_ms.mean), figure(r.all_reconnected_ms, r.all_reconnected_ms.p95),
                     r.violation_rate.hits, r.violation_rate.runs);
  }
  return s + "\n";
}

}  // namespace

std::string to_markdown(const Comparison& c) {
  std::string s = "# syncstorm comparison\n\n";
  s += fmt::format("{} seeds per scenario and model (seeds {}–{}); models of a data type meet the same schedules for a seed (in a swarm, those whose links take the same fault kinds). "
                   "Figures are simulated, identical on every machine.\n\n",
                   c.seeds, c.first_seed, c.first_seed + c.seeds - 1);
  if (c.baseline) s += what_changed(c);
  s += matrices(c);
  s += decision_table(c);
  s += unshown_breaks_text(c);
  for (const ScenarioResult& r : c.scenarios) {
    s += fmt::format("## {}\n\n", scenario_heading(r.name));
    if (!r.description.empty()) s += r.description + "\n\n";
    s += cells_table(r);
    if (!r.skipped_models.empty()) {
      std::string skipped;
      for (const std::string& m : r.skipped_models) skipped += (skipped.empty() ? "" : ", ") + m;
      s += fmt::format("Not run (data type or topology does not fit): {}.\n\n", skipped);
    }
    s += violations_list(r);
  }
  if (c.backoff) s += backoff_table(*c.backoff);
  if (!c.diagrams.empty()) {
    s += "## Space-time diagrams\n\n";
    for (std::size_t i = 0; i < c.diagrams.size(); ++i) {
      const Diagram& d = c.diagrams[i];
      s += fmt::format("- `{}`: [{}]({}), [timeline]({}) ({} on {}, seed {}): `{}`\n", to_string(d.invariant), d.file, d.file,
                       d.timeline_file, d.model, d.scenario, d.seed, d.replay);
      // The caption is the item's second paragraph; a blank line then keeps the next item apart.
      if (!d.caption.empty()) s += fmt::format("\n  {}\n{}", d.caption, i + 1 < c.diagrams.size() ? "\n" : "");
    }
    s += "\n";
  }
  return s;
}

std::string to_markdown_summary(const Comparison& c) {
  std::string s = "# syncstorm comparison: summary\n\n";
  s += fmt::format("{} seeds per scenario and model (seeds {}–{}). The whole report, with a section per scenario, "
                   "is `report.md` beside this file.\n\n",
                   c.seeds, c.first_seed, c.first_seed + c.seeds - 1);
  std::string body;
  if (c.baseline) body += what_changed(c);
  body += matrices(c);
  // The matrices link their cells to the scenarios' sections, which live in report.md.
  for (std::size_t at = body.find("](#"); at != std::string::npos; at = body.find("](#", at)) {
    body.replace(at, 3, "](report.md#");
  }
  body += decision_table(c);
  body += unshown_breaks_text(c);
  if (s.size() + body.size() > kSummaryBytesMax) {
    // Cut at a line, and say so: a comment that ends mid-table would mislead.
    const std::string note = "\n\n(Cut here to fit a pull-request comment: the rest is in `report.md`.)\n";
    std::size_t keep = kSummaryBytesMax - s.size() - note.size();
    keep = body.rfind('\n', keep);
    body = body.substr(0, keep == std::string::npos ? 0 : keep) + note;
  }
  return s + body;
}

}  // namespace syncstorm
