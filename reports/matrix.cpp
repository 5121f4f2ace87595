// The strategy and cost matrices as data: which model ran where, what it broke, what it cost against
// the best of its row, and how each moved since a baseline. The writers only lay these cells out.
#include "reports/matrix.hpp"

#include <algorithm>
#include <cassert>

namespace syncstorm::matrix {

int rate_band(const Rate& rate) {
  if (rate.hits == 0) return 0;
  if (rate.rate <= 0.10) return 1;
  if (rate.rate <= 0.50) return 2;
  return 3;
}

int cost_band(double ratio) {
  assert(!(ratio < 0));  // bytes are never negative
  // Below 1 is possible: a buggy baseline may undercut the best correct model.
  if (ratio <= 1.1) return 0;
  if (ratio <= 2) return 1;
  if (ratio <= 5) return 2;
  return 3;
}

std::string_view code(Invariant invariant) {
  switch (invariant) {
    case Invariant::convergence: return "CV";
    case Invariant::resurrection: return "RS";
    case Invariant::lost_acknowledged_write: return "LA";
    case Invariant::silent_rollback: return "SR";
    case Invariant::phantom_or_double_applied: return "PD";
    case Invariant::bounded_metadata: return "BM";
    case Invariant::monotonic_writes: return "MW";
    case Invariant::monotonic_reads: return "MR";
    case Invariant::read_your_writes: return "RY";
    case Invariant::writes_follow_reads: return "WF";
  }
  return "??";
}

std::string anchor(std::string_view scenario) { return "s-" + std::string(scenario); }

namespace {

const Cell* find_cell(const ScenarioResult& s, const std::string& model) {
  for (const Cell& c : s.cells) {
    if (c.model == model) return &c;
  }
  return nullptr;
}

std::optional<double> cost_of(const Cell& c) {
  const Summary& s = c.metrics[static_cast<std::size_t>(kCostMetric)];
  if (s.seeds == 0) return std::nullopt;
  return s.mean;
}

MatrixCell make_cell(const std::string& model, const Cell* cell) {
  MatrixCell m;
  m.model = model;
  m.cell = cell;
  if (cell == nullptr) return m;
  for (const InvariantResult& r : cell->invariants) m.broken.push_back(r.invariant);
  if (!cell->trend) return m;
  m.is_new = cell->trend->is_new;
  for (const FigureChange& f : cell->trend->changes) {
    if (f.figure.starts_with("violation_rate")) {
      if (!m.violation_move || f.movement == Movement::worse) m.violation_move = f.movement;
    } else if (f.figure == info(kCostMetric).key) {
      m.cost_move = f.movement;
    }
  }
  return m;
}

}  // namespace

Matrix build(const Comparison& c) {
  Matrix out;
  for (const std::string& m : c.models) {
    const bool buggy = std::find(c.buggy_models.begin(), c.buggy_models.end(), m) != c.buggy_models.end();
    (buggy ? out.buggy_models : out.correct_models).push_back(m);
  }
  for (const ScenarioResult& s : c.scenarios) {
    MatrixRow row;
    row.scenario = s.name;
    row.anchor = anchor(s.name);
    for (const Cell& cell : s.cells) {
      const auto cost = cost_of(cell);
      // The best is a correct model's: a buggy baseline is cheap because it skips the work that
      // keeps data safe, so a correct model measured against it would look wasteful for being right.
      // Ties keep the first in model order, so the row's best is the same on every run.
      if (cell.correct && cost && (!row.best_cost || *cost < *row.best_cost)) {
        row.best_cost = cost;
        row.best_cost_model = cell.model;
      }
    }
    for (const std::string& m : out.correct_models) row.correct.push_back(make_cell(m, find_cell(s, m)));
    for (const std::string& m : out.buggy_models) row.buggy.push_back(make_cell(m, find_cell(s, m)));
    for (auto* group : {&row.correct, &row.buggy}) {
      for (MatrixCell& cell : *group) {
        if (cell.cell == nullptr || !row.best_cost) continue;
        const auto cost = cost_of(*cell.cell);
        if (!cost) continue;
        // A best cost of 0 (a model that sent nothing) has no ratio to the others: only its equals get one.
        if (*row.best_cost > 0) cell.cost_ratio = *cost / *row.best_cost;
        else if (*cost <= 0) cell.cost_ratio = 1.0;
      }
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace syncstorm::matrix
