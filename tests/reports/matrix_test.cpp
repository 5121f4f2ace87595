// The strategy and cost matrices at the top of index.html and report.md: a cell per (scenario, model)
// coloured by the share of failing seeds and marked with the broken invariants, buggy baselines in a
// column group of their own, models that do not fit marked as such, every cell linking to its section.
#include <catch2/catch.hpp>

#include "reports/matrix.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

namespace {

Cell cell(const std::string& model, bool correct, std::uint32_t hits, std::vector<Invariant> broken, double bytes_per_op) {
  Cell c;
  c.model = model;
  c.correct = correct;
  c.violation_rate = wilson(hits, 10);
  for (Invariant inv : broken) {
    InvariantResult r;
    r.invariant = inv;
    r.rate = wilson(hits, 10);
    c.invariants.push_back(r);
  }
  Summary& bytes = c.metrics[static_cast<std::size_t>(Metric::bytes_per_op)];
  bytes.seeds = 10;
  bytes.samples = 10;
  bytes.mean = bytes_per_op;
  bytes.ci_low = bytes_per_op * 0.9;
  bytes.ci_high = bytes_per_op * 1.1;
  return c;
}

/// Two scenarios, two correct models and one buggy baseline listed first (the matrix still puts it
/// last, apart); the second scenario does not fit good-b or bad-x.
Comparison two_scenarios() {
  Comparison c;
  c.seeds = 10;
  c.models = {"bad-x", "good-a", "good-b"};
  c.buggy_models = {"bad-x"};
  ScenarioResult alpha;
  alpha.name = "alpha";
  alpha.cells = {cell("bad-x", false, 8, {Invariant::silent_rollback, Invariant::convergence}, 100),
                 cell("good-a", true, 0, {}, 100), cell("good-b", true, 1, {Invariant::lost_acknowledged_write}, 600)};
  // Invariants come in invariant order, as run_comparison lists them.
  std::swap(alpha.cells[0].invariants[0], alpha.cells[0].invariants[1]);
  ScenarioResult beta;
  beta.name = "beta";
  beta.cells = {cell("good-a", true, 0, {}, 50)};
  beta.skipped_models = {"bad-x", "good-b"};
  c.scenarios = {alpha, beta};
  return c;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

/// The text of index.html between the strategy matrix's heading and the cost matrix's.
std::string strategy_part(const std::string& html) {
  const auto from = html.find("<h2 id=\"matrix\">");
  const auto to = html.find("<h2 id=\"cost-matrix\">");
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  return html.substr(from, to - from);
}

}  // namespace

TEST_CASE("a matrix cell's colour band follows the share of seeds with a violation", "[reports][matrix]") {
  CHECK(matrix::rate_band(wilson(0, 10)) == 0);
  CHECK(matrix::rate_band(wilson(1, 10)) == 1);
  CHECK(matrix::rate_band(wilson(1, 20)) == 1);
  CHECK(matrix::rate_band(wilson(2, 10)) == 2);
  CHECK(matrix::rate_band(wilson(5, 10)) == 2);
  CHECK(matrix::rate_band(wilson(6, 10)) == 3);
  CHECK(matrix::rate_band(wilson(10, 10)) == 3);
  CHECK(matrix::cost_band(1.0) == 0);
  CHECK(matrix::cost_band(1.5) == 1);
  CHECK(matrix::cost_band(4.0) == 2);
  CHECK(matrix::cost_band(6.0) == 3);
}

TEST_CASE("every invariant has its own two-letter matrix code", "[reports][matrix]") {
  std::vector<std::string> codes;
  for (Invariant inv : kAllInvariants) {
    const std::string code(matrix::code(inv));
    CHECK(code.size() == 2);
    CHECK(std::find(codes.begin(), codes.end(), code) == codes.end());
    codes.push_back(code);
  }
  CHECK(matrix::code(Invariant::lost_acknowledged_write) == "LA");
}

TEST_CASE("the matrix puts correct models first, buggy baselines apart, and marks models that do not fit", "[reports][matrix]") {
  const matrix::Matrix m = matrix::build(two_scenarios());
  CHECK(m.correct_models == std::vector<std::string>{"good-a", "good-b"});
  CHECK(m.buggy_models == std::vector<std::string>{"bad-x"});
  REQUIRE(m.rows.size() == 2);
  const matrix::MatrixRow& alpha = m.rows[0];
  CHECK(alpha.anchor == "s-alpha");
  REQUIRE(alpha.buggy.size() == 1);
  CHECK(alpha.buggy[0].broken == std::vector<Invariant>{Invariant::convergence, Invariant::silent_rollback});
  REQUIRE(alpha.best_cost.has_value());
  CHECK(*alpha.best_cost == 100);
  CHECK(alpha.best_cost_model == "good-a");  // bad-x ties it and comes first, but a buggy baseline is never the best
  CHECK(alpha.correct[1].cost_ratio == std::optional<double>(6.0));
  const matrix::MatrixRow& beta = m.rows[1];
  CHECK(beta.correct[0].cell != nullptr);
  CHECK(beta.correct[1].cell == nullptr);
  CHECK(beta.buggy[0].cell == nullptr);
}

TEST_CASE("index.html opens with the strategy matrix: coloured cells, invariant codes, links, buggy column group", "[reports][matrix]") {
  const Comparison c = two_scenarios();
  const std::string html = to_html(c);
  CHECK(html.find("<h2 id=\"matrix\">") < html.find("Decision summary"));
  const std::string part = strategy_part(html);
  CHECK(part.find("<th class=\"group\" colspan=\"2\">correct models</th>") != std::string::npos);
  CHECK(part.find("<th class=\"group buggy gap\" colspan=\"1\">buggy baselines") != std::string::npos);
  // Correct models' headers come before the buggy one, whatever the order models were given in.
  CHECK(part.find(">good-b</th>") < part.find("<th class=\"model buggy gap\">bad-x</th>"));
  // Colours by rate: good-a held (band 0), good-b failed 1 of 10 seeds (band 1), bad-x 8 of 10 (band 3).
  CHECK(part.find("<td class=\"r0\"><a href=\"#s-alpha\" title=\"good-a on alpha: 0/10 seeds") != std::string::npos);
  CHECK(part.find("<td class=\"r1\"><a href=\"#s-alpha\" title=\"good-b on alpha: 1/10 seeds") != std::string::npos);
  CHECK(part.find("<td class=\"r3 gap\"><a href=\"#s-alpha\" title=\"bad-x on alpha: 8/10 seeds") != std::string::npos);
  CHECK(part.find(")\">LA</a>") != std::string::npos);
  CHECK(part.find(")\">CV SR</a>") != std::string::npos);
  CHECK(part.find(")\">&#10003;</a>") != std::string::npos);
  // Models that do not fit beta: marked, not coloured, not linked.
  CHECK(part.find("<td class=\"nf\" title=\"good-b does not fit beta: not run\">") != std::string::npos);
  CHECK(part.find("<td class=\"nf gap\" title=\"bad-x does not fit beta: not run\">") != std::string::npos);
  // Every cell that ran links to a section that exists.
  CHECK(count(part, "href=\"#s-alpha\"") == 4);  // the row heading and three cells
  CHECK(count(part, "href=\"#s-beta\"") == 2);
  CHECK(html.find("<h2 id=\"s-alpha\">") != std::string::npos);
  CHECK(html.find("<h2 id=\"s-beta\">") != std::string::npos);
  CHECK(part.find("<script") == std::string::npos);
}

TEST_CASE("the cost matrix shows bytes per operation relative to the best in the row", "[reports][matrix]") {
  const std::string html = to_html(two_scenarios());
  const auto from = html.find("<h2 id=\"cost-matrix\">");
  REQUIRE(from != std::string::npos);
  const std::string part = html.substr(from, html.find("Decision summary") - from);
  CHECK(part.find("<td class=\"c0\"><a href=\"#s-alpha\" title=\"good-a on alpha: 100.0 bytes/op") != std::string::npos);
  CHECK(part.find("<td class=\"c3\"><a href=\"#s-alpha\" title=\"good-b on alpha: 600.0 bytes/op") != std::string::npos);
  CHECK(part.find("&#215;6.00</a>") != std::string::npos);
  CHECK(part.find("<td class=\"c0 gap\"><a href=\"#s-alpha\" title=\"bad-x on alpha") != std::string::npos);
  CHECK(part.find("<td class=\"nf\" title=\"good-b does not fit beta") != std::string::npos);
}

TEST_CASE("the cost matrix takes the row's best over correct models only, and shows a cheaper buggy baseline below it", "[reports][matrix]") {
  Comparison c = two_scenarios();
  // bad-x sends less than any correct model: it skips the work that keeps data safe.
  c.scenarios[0].cells[0].metrics[static_cast<std::size_t>(Metric::bytes_per_op)].mean = 40;
  const matrix::Matrix m = matrix::build(c);
  const matrix::MatrixRow& alpha = m.rows[0];
  REQUIRE(alpha.best_cost);
  CHECK(*alpha.best_cost == 100);
  CHECK(alpha.best_cost_model == "good-a");
  REQUIRE(alpha.correct.size() == 2);
  REQUIRE(alpha.correct[1].cost_ratio);
  CHECK(*alpha.correct[1].cost_ratio == Approx(6.0));
  REQUIRE(alpha.buggy.size() == 1);
  REQUIRE(alpha.buggy[0].cost_ratio);
  CHECK(*alpha.buggy[0].cost_ratio == Approx(0.4));
  CHECK(matrix::cost_band(*alpha.buggy[0].cost_ratio) == 0);
  const std::string md = to_markdown(c);
  CHECK(md.find("| [alpha](#scenario-alpha) | 🟩 ×0.400 |") != std::string::npos);
  CHECK(md.find("| [alpha](#scenario-alpha) | 🟩 ×1.00 | 🟥 ×6.00 |") != std::string::npos);
}

TEST_CASE("a row where no correct model ran has no best cost, so no cell gets a ratio", "[reports][matrix]") {
  Comparison c = two_scenarios();
  c.scenarios[1].cells = {cell("bad-x", false, 10, {Invariant::convergence}, 30)};
  c.scenarios[1].skipped_models = {"good-a", "good-b"};
  const matrix::Matrix m = matrix::build(c);
  const matrix::MatrixRow& beta = m.rows[1];
  CHECK_FALSE(beta.best_cost);
  REQUIRE(beta.buggy.size() == 1);
  REQUIRE(beta.buggy[0].cell != nullptr);
  CHECK_FALSE(beta.buggy[0].cost_ratio);
}

TEST_CASE("report.md opens with the matrices as compact tables, buggy baselines in a table of their own", "[reports][matrix]") {
  const std::string md = to_markdown(two_scenarios());
  CHECK(md.find("## Strategy matrix") < md.find("## Decision summary"));
  CHECK(md.find("### Correct models\n\n| scenario | good-a | good-b |\n|---|:-:|:-:|\n"
                "| [alpha](#scenario-alpha) | 🟩 | 🟨 LA |\n| [beta](#scenario-beta) | 🟩 | · |\n") != std::string::npos);
  CHECK(md.find("### Buggy baselines (built to fail)\n\n| scenario | bad-x |\n|---|:-:|\n"
                "| [alpha](#scenario-alpha) | 🟥 CV SR |\n| [beta](#scenario-beta) | · |\n") != std::string::npos);
  // The links land on the scenario headings, as GitHub names their anchors.
  CHECK(md.find("## Scenario `alpha`\n") != std::string::npos);
  CHECK(md.find("| [alpha](#scenario-alpha) | 🟩 ×1.00 | 🟥 ×6.00 |") != std::string::npos);
  CHECK(md.find("**LA** lost-acknowledged-write") != std::string::npos);
  // No baseline, no trend section.
  CHECK(md.find("What changed") == std::string::npos);
}
