// The strategy and cost matrices that open index.html and report.md (internal to reports/): one row
// per scenario, one column per model, correct models first and the buggy baselines apart. Both
// writers draw the same cells from this one view, so the page and the Markdown never disagree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reports/report.hpp"

namespace syncstorm::matrix {

/// Colour bands of the share of seeds with a violation: 0 none, 1 up to 10%, 2 up to 50%, 3 above.
inline constexpr int kRateBands = 4;
int rate_band(const Rate& rate);

/// Colour bands of a cost relative to the best correct model in its row: 0 up to x1.1 (below x1 too:
/// a buggy baseline may be cheaper), 1 up to x2, 2 up to x5, 3 above.
inline constexpr int kCostBands = 4;
int cost_band(double ratio);

/// A two-letter code for an invariant, short enough for a matrix cell ("LA": lost acknowledged write).
std::string_view code(Invariant invariant);

/// The figure the cost matrix compares: bytes sent per user operation, mean over seeds.
inline constexpr Metric kCostMetric = Metric::bytes_per_op;

struct MatrixCell {
  std::string model;
  const Cell* cell = nullptr;              ///< nullptr: the model does not fit the scenario, so it was not run
  std::vector<Invariant> broken;           ///< in invariant order
  std::optional<double> cost_ratio;        ///< the cost over the row's best; nullopt when no seed gave the figure or no correct model did
  std::optional<Movement> violation_move;  ///< worse if any violation rate got worse, else better if any got better
  std::optional<Movement> cost_move;       ///< of the cost figure
  bool is_new = false;                     ///< not in the baseline
};

struct MatrixRow {
  std::string scenario;
  std::string anchor;                  ///< the id of the scenario's section in index.html
  std::vector<MatrixCell> correct;     ///< in Comparison::models order
  std::vector<MatrixCell> buggy;       ///< in Comparison::models order
  std::optional<double> best_cost;     ///< the lowest cost of a correct model run in this row (buggy baselines never set it)
  std::string best_cost_model;
};

struct Matrix {
  std::vector<std::string> correct_models;
  std::vector<std::string> buggy_models;
  std::vector<MatrixRow> rows;  ///< in scenario order
};

Matrix build(const Comparison& comparison);

/// The id of a scenario's section in index.html.
std::string anchor(std::string_view scenario);

}  // namespace syncstorm::matrix
