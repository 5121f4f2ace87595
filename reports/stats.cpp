// Summaries across seeds: pooled quantiles, Student's t interval of the per-seed mean, and Wilson
// intervals for rates. Plain arithmetic in a fixed order, so the same inputs give the same bits.
#include <algorithm>
#include <cmath>

#include "reports/report.hpp"

namespace syncstorm {

namespace {

/// Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom. With 20 seeds the normal
/// approximation (1.96) would make the interval about 6% too narrow.
constexpr double kT975[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                            2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                            2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};

double t975(std::size_t degrees) {
  if (degrees == 0) return 0;
  if (degrees <= std::size(kT975)) return kT975[degrees - 1];
  return 1.96;
}

double mean_of(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += v;
  return values.empty() ? 0 : sum / static_cast<double>(values.size());
}

}  // namespace

double quantile_sorted(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  const double rank = std::ceil(q * static_cast<double>(sorted.size()));
  const std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

Summary summarise(const std::vector<std::vector<double>>& per_seed) {
  Summary s;
  std::vector<double> means;
  std::vector<double> pooled;
  for (const auto& samples : per_seed) {
    if (samples.empty()) continue;
    means.push_back(mean_of(samples));
    pooled.insert(pooled.end(), samples.begin(), samples.end());
  }
  s.seeds = static_cast<std::uint32_t>(means.size());
  s.samples = pooled.size();
  if (means.empty()) return s;
  s.mean = mean_of(means);
  double squares = 0;
  for (double m : means) squares += (m - s.mean) * (m - s.mean);
  const double sd = means.size() > 1 ? std::sqrt(squares / static_cast<double>(means.size() - 1)) : 0;
  const double half = t975(means.size() - 1) * sd / std::sqrt(static_cast<double>(means.size()));
  s.ci_low = s.mean - half;
  s.ci_high = s.mean + half;
  std::sort(pooled.begin(), pooled.end());
  s.median = quantile_sorted(pooled, 0.5);
  s.p95 = quantile_sorted(pooled, 0.95);
  s.p99 = quantile_sorted(pooled, 0.99);
  return s;
}

double round_figure(double value) {
  // Six significant digits: more would only show floating-point noise.
  if (!std::isfinite(value) || value == 0) return 0;
  const double scale = std::pow(10.0, 5 - std::floor(std::log10(std::fabs(value))));
  return std::round(value * scale) / scale;
}

Rate wilson(std::uint32_t hits, std::uint32_t runs) {
  Rate r;
  r.hits = hits;
  r.runs = runs;
  if (runs == 0) return r;
  const double n = runs;
  const double p = hits / n;
  const double z = 1.959964;
  const double denominator = 1 + z * z / n;
  const double centre = (p + z * z / (2 * n)) / denominator;
  const double half = z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator;
  r.rate = p;
  r.ci_low = std::max(0.0, centre - half);
  r.ci_high = std::min(1.0, centre + half);
  return r;
}

}  // namespace syncstorm
