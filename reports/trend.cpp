// Trend against a baseline: reads an older results.json and marks each figure whose 95% interval no
// longer overlaps the baseline's. Non-overlap is the conservative test on purpose: with two equally
// wide intervals it flags a difference at about p < 0.006, so a report that says "worse" has earned
// it, and an unchanged model run on the same seeds (common random numbers) gives identical figures and
// marks nothing.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "reports/report.hpp"

namespace syncstorm {

namespace {

using Json = nlohmann::json;

/// A baseline larger than this is not a results.json (the full comparison writes about 2 MB).
constexpr std::uintmax_t kBaselineBytesMax = 256u << 20;

/// Reading a baseline: every accessor names the key it failed on, as a dotted path.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  InputError error(const std::string& key, const std::string& message) const { return InputError{file_, 0, 0, key, message}; }

  Result<const Json*> field(const Json& object, const std::string& path, const char* name, Json::value_t type) const {
    const std::string key = path.empty() ? name : path + "." + name;
    auto it = object.find(name);
    if (it == object.end()) return error(key, "missing");
    const bool number = type == Json::value_t::number_float;
    const bool fits = number ? it->is_number() : type == Json::value_t::number_unsigned ? it->is_number_unsigned() : it->type() == type;
    if (!fits) return error(key, fmt::format("expected {}, found {}", type_name(type), it->type_name()));
    return &*it;
  }

 private:
  static std::string type_name(Json::value_t type) {
    switch (type) {
      case Json::value_t::object: return "an object";
      case Json::value_t::array: return "an array";
      case Json::value_t::string: return "a string";
      case Json::value_t::number_unsigned: return "a count";
      default: return "a number";
    }
  }
  std::string file_;
};

Result<Rate> read_rate(const Reader& r, const Json& object, const std::string& path) {
  auto hits = r.field(object, path, "hits", Json::value_t::number_unsigned);
  if (!hits) return hits.error();
  auto runs = r.field(object, path, "runs", Json::value_t::number_unsigned);
  if (!runs) return runs.error();
  const auto h = hits.value()->get<std::uint64_t>();
  const auto n = runs.value()->get<std::uint64_t>();
  if (h > n || n > UINT32_MAX) return r.error(path, fmt::format("{} hits in {} runs is not a share of runs", h, n));
  // Recomputed rather than read: the interval of the figure is Wilson's, whatever the file rounded.
  return wilson(static_cast<std::uint32_t>(h), static_cast<std::uint32_t>(n));
}

Result<Summary> read_summary(const Reader& r, const Json& object, const std::string& path) {
  Summary s;
  auto seeds = r.field(object, path, "seeds", Json::value_t::number_unsigned);
  if (!seeds) return seeds.error();
  if (seeds.value()->get<std::uint64_t>() > UINT32_MAX) return r.error(path + ".seeds", "too large");
  s.seeds = seeds.value()->get<std::uint32_t>();
  for (auto [name, slot] : {std::pair<const char*, double*>{"mean", &s.mean}, {"ci95_low", &s.ci_low}, {"ci95_high", &s.ci_high}}) {
    auto v = r.field(object, path, name, Json::value_t::number_float);
    if (!v) return v.error();
    *slot = v.value()->get<double>();
  }
  if (s.ci_low > s.ci_high) return r.error(path, "ci95_low is above ci95_high");
  return s;
}

Result<BaselineCell> read_cell(const Reader& r, const Json& cell, const std::string& scenario, const std::string& path) {
  BaselineCell out;
  out.scenario = scenario;
  auto model = r.field(cell, path, "model", Json::value_t::string);
  if (!model) return model.error();
  out.model = model.value()->get<std::string>();
  auto rate = r.field(cell, path, "violation_rate", Json::value_t::object);
  if (!rate) return rate.error();
  auto overall = read_rate(r, *rate.value(), path + ".violation_rate");
  if (!overall) return overall.error();
  out.violation_rate = overall.value();
  auto violations = r.field(cell, path, "violations", Json::value_t::array);
  if (!violations) return violations.error();
  for (std::size_t i = 0; i < violations.value()->size(); ++i) {
    const Json& v = (*violations.value())[i];
    const std::string at = fmt::format("{}.violations[{}]", path, i);
    if (!v.is_object()) return r.error(at, "expected an object");
    auto name = r.field(v, at, "invariant", Json::value_t::string);
    if (!name) return name.error();
    const auto invariant = parse_invariant(name.value()->get<std::string>());
    if (!invariant) return r.error(at + ".invariant", fmt::format("unknown invariant '{}'", name.value()->get<std::string>()));
    auto inv_rate = r.field(v, at, "rate", Json::value_t::object);
    if (!inv_rate) return inv_rate.error();
    auto parsed = read_rate(r, *inv_rate.value(), at + ".rate");
    if (!parsed) return parsed.error();
    out.invariants.emplace_back(*invariant, parsed.value());
  }
  auto metrics = r.field(cell, path, "metrics", Json::value_t::object);
  if (!metrics) return metrics.error();
  for (const MetricInfo& m : metric_infos()) {
    auto summary_object = r.field(*metrics.value(), path + ".metrics", std::string(m.key).c_str(), Json::value_t::object);
    if (!summary_object) return summary_object.error();
    auto summary = read_summary(r, *summary_object.value(), fmt::format("{}.metrics.{}", path, m.key));
    if (!summary) return summary.error();
    out.metrics[static_cast<std::size_t>(m.metric)] = summary.value();
  }
  return out;
}

Result<Baseline> read_document(const Reader& r, const Json& doc, const std::string& file) {
  if (!doc.is_object()) return r.error("", "expected a results.json object");
  auto version = doc.find("format_version");
  if (version == doc.end()) {
    return r.error("format_version", fmt::format("missing: not a results.json of format version {} (written by an older syncstorm?)",
                                                 kResultsFormatVersion));
  }
  if (!version->is_number_integer() || version->get<std::int64_t>() != kResultsFormatVersion) {
    return r.error("format_version", fmt::format("is {}, this syncstorm reads format version {}", version->dump(), kResultsFormatVersion));
  }
  Baseline b;
  b.file = file;
  auto seeds = r.field(doc, "", "seeds", Json::value_t::number_unsigned);
  if (!seeds) return seeds.error();
  if (seeds.value()->get<std::uint64_t>() > UINT32_MAX) return r.error("seeds", "too large");
  b.seeds = seeds.value()->get<std::uint32_t>();
  auto first = r.field(doc, "", "first_seed", Json::value_t::number_unsigned);
  if (!first) return first.error();
  b.first_seed = first.value()->get<std::uint64_t>();
  auto scenarios = r.field(doc, "", "scenarios", Json::value_t::array);
  if (!scenarios) return scenarios.error();
  std::map<std::pair<std::string, std::string>, std::size_t> seen;
  for (std::size_t i = 0; i < scenarios.value()->size(); ++i) {
    const Json& s = (*scenarios.value())[i];
    const std::string at = fmt::format("scenarios[{}]", i);
    if (!s.is_object()) return r.error(at, "expected an object");
    auto name = r.field(s, at, "name", Json::value_t::string);
    if (!name) return name.error();
    auto models = r.field(s, at, "models", Json::value_t::array);
    if (!models) return models.error();
    for (std::size_t j = 0; j < models.value()->size(); ++j) {
      const Json& cell = (*models.value())[j];
      const std::string cell_at = fmt::format("{}.models[{}]", at, j);
      if (!cell.is_object()) return r.error(cell_at, "expected an object");
      auto parsed = read_cell(r, cell, name.value()->get<std::string>(), cell_at);
      if (!parsed) return parsed.error();
      const auto pair = std::make_pair(parsed.value().scenario, parsed.value().model);
      if (!seen.emplace(pair, b.cells.size()).second) {
        return r.error(cell_at, fmt::format("model '{}' appears twice in scenario '{}'", pair.second, pair.first));
      }
      b.cells.push_back(std::move(parsed.value()));
    }
  }
  return b;
}

/// Two 95% intervals that do not overlap: the figure moved beyond the noise of either.
std::optional<Movement> moved(double before_low, double before_high, double now_low, double now_high) {
  if (now_low > before_high) return Movement::worse;
  if (now_high < before_low) return Movement::better;
  return std::nullopt;
}

FigureChange change(std::string figure, Movement m, double before, double before_low, double before_high, double now, double now_low,
                    double now_high) {
  return FigureChange{std::move(figure), m, before, before_low, before_high, now, now_low, now_high};
}

/// Rates compare on hits and runs, so Wilson's interval is exact on both sides.
void compare_rate(const std::string& figure, const Rate& before, const Rate& now, CellTrend& trend, std::uint64_t& compared) {
  if (before.runs == 0 || now.runs == 0) return;
  ++compared;
  if (auto m = moved(before.ci_low, before.ci_high, now.ci_low, now.ci_high)) {
    trend.changes.push_back(change(figure, *m, before.rate, before.ci_low, before.ci_high, now.rate, now.ci_low, now.ci_high));
  }
}

/// A metric needs two seeds on each side: one seed gives a zero-width interval that any change
/// would leave, which is noise called a trend.
void compare_metric(const MetricInfo& info, const Summary& before, const Summary& now, CellTrend& trend, std::uint64_t& compared) {
  if (before.seeds < 2 || now.seeds < 2) return;
  ++compared;
  const double low = round_figure(now.ci_low);
  const double high = round_figure(now.ci_high);
  const double before_low = round_figure(before.ci_low);
  const double before_high = round_figure(before.ci_high);
  if (auto m = moved(before_low, before_high, low, high)) {
    trend.changes.push_back(change(std::string(info.key), *m, round_figure(before.mean), before_low, before_high,
                                   round_figure(now.mean), low, high));
  }
}

Rate invariant_rate(const std::vector<std::pair<Invariant, Rate>>& rates, Invariant invariant, std::uint32_t runs) {
  for (const auto& [inv, rate] : rates) {
    if (inv == invariant) return rate;
  }
  return wilson(0, runs);  // not listed: broken on no seed
}

CellTrend trend_of(const Cell& now, const BaselineCell& before, std::uint64_t& compared) {
  CellTrend t;
  compare_rate("violation_rate", before.violation_rate, now.violation_rate, t, compared);
  std::vector<std::pair<Invariant, Rate>> now_rates;
  for (const InvariantResult& r : now.invariants) now_rates.emplace_back(r.invariant, r.rate);
  for (Invariant inv : kAllInvariants) {
    const Rate b = invariant_rate(before.invariants, inv, before.violation_rate.runs);
    const Rate n = invariant_rate(now_rates, inv, now.violation_rate.runs);
    if (b.hits == 0 && n.hits == 0) continue;  // held on both sides: nothing to compare
    compare_rate(fmt::format("violation_rate.{}", to_string(inv)), b, n, t, compared);
  }
  for (const MetricInfo& m : metric_infos()) {
    const auto i = static_cast<std::size_t>(m.metric);
    compare_metric(m, before.metrics[i], now.metrics[i], t, compared);
  }
  return t;
}

}  // namespace

std::string_view to_string(Movement movement) { return movement == Movement::better ? "better" : "worse"; }

Result<Baseline> parse_baseline(const std::string& text, const std::string& file) {
  const Reader reader(file);
  Json doc;
  try {
    doc = Json::parse(text);
  } catch (const Json::parse_error& e) {
    // The byte offset becomes a line and column, as an editor shows them.
    const std::size_t byte = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    std::uint32_t line = 1;
    std::uint32_t column = 1;
    for (std::size_t i = 0; i < byte; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return InputError{file, line, column, "", "not valid JSON"};
  }
  return read_document(reader, doc, file);
}

Result<Baseline> read_baseline(const std::string& path) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return InputError{path, 0, 0, "", "cannot read the baseline: " + ec.message()};
  if (size > kBaselineBytesMax) return InputError{path, 0, 0, "", fmt::format("larger than {} MiB: not a results.json", kBaselineBytesMax >> 20)};
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return InputError{path, 0, 0, "", "cannot read the baseline"};
  return parse_baseline(text.str(), path);
}

void compare_with_baseline(Comparison& comparison, const Baseline& baseline) {
  std::map<std::pair<std::string, std::string>, const BaselineCell*> before;
  for (const BaselineCell& b : baseline.cells) before.emplace(std::make_pair(b.scenario, b.model), &b);
  BaselineSummary summary;
  summary.seeds = baseline.seeds;
  summary.first_seed = baseline.first_seed;
  std::map<std::pair<std::string, std::string>, bool> present;
  for (ScenarioResult& s : comparison.scenarios) {
    for (Cell& c : s.cells) {
      present[{s.name, c.model}] = true;
      auto it = before.find({s.name, c.model});
      if (it == before.end()) {
        c.trend = CellTrend{true, {}};
        continue;
      }
      c.trend = trend_of(c, *it->second, summary.figures_compared);
    }
  }
  // Pairs that left the comparison, in the baseline's order.
  for (const BaselineCell& b : baseline.cells) {
    if (!present.contains({b.scenario, b.model})) summary.removed.emplace_back(b.scenario, b.model);
  }
  comparison.baseline = std::move(summary);
}

}  // namespace syncstorm
