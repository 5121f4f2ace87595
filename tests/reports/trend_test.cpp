// `compare --baseline OLD/results.json`: an unchanged comparison marks nothing, a figure moved beyond
// its 95% interval is marked better or worse in results.json, report.md and the matrix, pairs the
// baseline lacks are new, and a baseline that cannot be trusted is an error naming file and key.
#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "reports/matrix.hpp"
#include "tests/printers.hpp"
#include "tests/reports/small_comparison.hpp"

using namespace syncstorm;
using namespace syncstorm::testing;
using Json = nlohmann::json;

namespace {

Comparison small() {
  const ModelRegistry registry = shipped_models();
  CompareOptions o = small_comparison(registry, 2);
  o.storm.reset();
  o.diagrams = false;
  return run_comparison(o);
}

/// The comparison every case here starts from, run once.
const Comparison& shared_small() {
  static const Comparison c = small();
  return c;
}

Json& cell_of(Json& doc, const std::string& scenario, const std::string& model) {
  for (Json& s : doc["scenarios"]) {
    if (s["name"] != scenario) continue;
    for (Json& m : s["models"]) {
      if (m["model"] == model) return m;
    }
  }
  FAIL("no " << model << " on " << scenario);
  return doc;
}

const Cell& find(const Comparison& c, const std::string& scenario, const std::string& model) {
  for (const ScenarioResult& s : c.scenarios) {
    for (const Cell& cell : s.cells) {
      if (s.name == scenario && cell.model == model) return cell;
    }
  }
  FAIL("no " << model << " on " << scenario);
  return c.scenarios.front().cells.front();
}

Comparison against(const std::string& baseline_text) {
  auto baseline = parse_baseline(baseline_text, "old/results.json");
  INFO((baseline ? std::string() : baseline.error().to_string()));
  REQUIRE(baseline.ok());
  Comparison c = shared_small();
  compare_with_baseline(c, baseline.value());
  return c;
}

std::string error_of(const std::string& text) {
  auto baseline = parse_baseline(text, "old/results.json");
  REQUIRE_FALSE(baseline.ok());
  return baseline.error().to_string();
}

int exit_code(const std::string& command) {
  const int status = std::system(command.c_str());
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

}  // namespace

TEST_CASE("a comparison held against its own results.json marks nothing", "[reports][trend]") {
  const Comparison c = against(to_json(shared_small()));
  REQUIRE(c.baseline.has_value());
  CHECK(c.baseline->figures_compared > 0);
  CHECK(c.baseline->removed.empty());
  for (const ScenarioResult& s : c.scenarios) {
    for (const Cell& cell : s.cells) {
      REQUIRE(cell.trend.has_value());
      CHECK_FALSE(cell.trend->is_new);
      CHECK(cell.trend->changes.empty());
    }
  }
  const std::string md = to_markdown(c);
  CHECK(md.find("## What changed since the baseline") < md.find("## Strategy matrix"));
  CHECK(md.find("0 worse, 0 better, 0 new, 0 removed") != std::string::npos);
  CHECK(md.find("Nothing moved beyond its 95% interval.") != std::string::npos);
  const std::string html = to_html(c);
  CHECK(html.find("Nothing moved beyond its 95% interval.") != std::string::npos);
  CHECK(html.find(" worse\"") == std::string::npos);
  CHECK(html.find(" better\"") == std::string::npos);
  CHECK(to_json(c).find("\"movement\"") == std::string::npos);
}

TEST_CASE("a violation rate whose interval left the baseline's is marked worse everywhere", "[reports][trend]") {
  REQUIRE(find(shared_small(), "small-partition", "counter-no-dedup").violation_rate.hits == 4);
  Json doc = Json::parse(to_json(shared_small()));
  // The baseline saw no violation on any of its 4 seeds: Wilson 0-49%, now 4 of 4 is 51-100%.
  cell_of(doc, "small-partition", "counter-no-dedup")["violation_rate"]["hits"] = 0;
  const Comparison c = against(doc.dump());
  const Cell& moved = find(c, "small-partition", "counter-no-dedup");
  REQUIRE(moved.trend.has_value());
  REQUIRE(moved.trend->changes.size() == 1);
  CHECK(moved.trend->changes[0].figure == "violation_rate");
  CHECK(moved.trend->changes[0].movement == Movement::worse);
  // Nothing else moved.
  for (const ScenarioResult& s : c.scenarios) {
    for (const Cell& cell : s.cells) {
      if (&cell != &moved) CHECK(cell.trend->changes.empty());
    }
  }
  const std::string md = to_markdown(c);
  CHECK(md.find("1 worse, 0 better, 0 new, 0 removed") != std::string::npos);
  CHECK(md.find("- ↑ worse: **counter-no-dedup** on `small-partition`: seeds with a violation 0% (0%–49%) → 100% (51%–100%)") !=
        std::string::npos);
  CHECK(md.find("| 🟥 PD ↑ |") != std::string::npos);
  const std::string html = to_html(c);
  CHECK(html.find("<td class=\"r3 worse\"><a href=\"#s-small-partition\" title=\"counter-no-dedup on small-partition") !=
        std::string::npos);
  const Json out = Json::parse(to_json(c));
  Json copy = out;
  const Json& trend = cell_of(copy, "small-partition", "counter-no-dedup")["trend"];
  CHECK(trend["new"] == false);
  REQUIRE(trend["moved"].size() == 1);
  CHECK(trend["moved"][0]["figure"] == "violation_rate");
  CHECK(trend["moved"][0]["movement"] == "worse");
  CHECK(trend["moved"][0]["baseline"]["value"] == 0);
  CHECK(trend["moved"][0]["now"]["value"] == 1);
}

TEST_CASE("a cost whose interval left the baseline's is marked better in the cost matrix and results.json", "[reports][trend]") {
  const Summary& now = find(shared_small(), "small-partition", "lww-map").metrics[static_cast<std::size_t>(Metric::bytes_per_op)];
  REQUIRE(now.seeds >= 2);
  Json doc = Json::parse(to_json(shared_small()));
  Json& bytes = cell_of(doc, "small-partition", "lww-map")["metrics"]["bytes_per_op"];
  bytes["mean"] = now.mean * 10;
  bytes["ci95_low"] = now.mean * 9;
  bytes["ci95_high"] = now.mean * 11;
  const Comparison c = against(doc.dump());
  const Cell& cell = find(c, "small-partition", "lww-map");
  REQUIRE(cell.trend->changes.size() == 1);
  CHECK(cell.trend->changes[0].figure == "bytes_per_op");
  CHECK(cell.trend->changes[0].movement == Movement::better);
  const std::string md = to_markdown(c);
  CHECK(md.find("- ↓ better: **lww-map** on `small-partition`: Bytes per operation") != std::string::npos);
  const matrix::Matrix m = matrix::build(c);
  CHECK(m.rows[0].correct[1].model == "lww-map");
  CHECK(m.rows[0].correct[1].cost_move == Movement::better);
  CHECK_FALSE(m.rows[0].correct[1].violation_move.has_value());
  CHECK(to_html(c).find(" better\"><a href=\"#s-small-partition\" title=\"lww-map on small-partition: ") != std::string::npos);
}

TEST_CASE("a pair the baseline lacks is new, and one it has that is gone is listed as removed", "[reports][trend]") {
  Json doc = Json::parse(to_json(shared_small()));
  cell_of(doc, "small-skew", "echo")["model"] = "echo-retired";
  const Comparison c = against(doc.dump());
  CHECK(find(c, "small-skew", "echo").trend->is_new);
  CHECK_FALSE(find(c, "small-partition", "echo").trend->is_new);
  REQUIRE(c.baseline->removed.size() == 1);
  CHECK(c.baseline->removed[0] == std::pair<std::string, std::string>{"small-skew", "echo-retired"});
  const std::string md = to_markdown(c);
  CHECK(md.find("0 worse, 0 better, 1 new, 1 removed") != std::string::npos);
  CHECK(md.find("- 🆕 new: **echo** on `small-skew` (not in the baseline)") != std::string::npos);
  CHECK(md.find("- removed: **echo-retired** on `small-skew`") != std::string::npos);
  CHECK(to_json(c).find("\"new\": true") != std::string::npos);
}

TEST_CASE("a baseline that cannot be trusted is an error naming the file, the line or the key", "[reports][trend]") {
  CHECK(error_of("{\n  \"format_version\": 1,\n  oops\n}") == "old/results.json:3:3: not valid JSON");
  CHECK(error_of("[]") == "old/results.json: expected a results.json object");
  Json doc = Json::parse(to_json(shared_small()));
  Json older = doc;
  older.erase("format_version");
  CHECK(error_of(older.dump()).find("old/results.json: key 'format_version': missing") == 0);
  Json newer = doc;
  newer["format_version"] = kResultsFormatVersion + 1;
  CHECK(error_of(newer.dump()).find("key 'format_version': is 2, this syncstorm reads format version 1") != std::string::npos);
  Json no_metric = doc;
  no_metric["scenarios"][1]["models"][0]["metrics"].erase("bytes_per_op");
  CHECK(error_of(no_metric.dump()) == "old/results.json: key 'scenarios[1].models[0].metrics.bytes_per_op': missing");
  Json wrong_type = doc;
  wrong_type["scenarios"][0]["models"][2]["violation_rate"]["hits"] = "four";
  CHECK(error_of(wrong_type.dump()) ==
        "old/results.json: key 'scenarios[0].models[2].violation_rate.hits': expected a count, found string");
  Json twice = doc;
  twice["scenarios"][0]["models"].push_back(twice["scenarios"][0]["models"][0]);
  CHECK(error_of(twice.dump()).find("model 'echo' appears twice in scenario 'small-partition'") != std::string::npos);
}

TEST_CASE("compare exits 2 naming the baseline file when it is missing or bad", "[reports][trend][cli]") {
  const auto dir = std::filesystem::temp_directory_path() / "syncstorm-baseline-test";
  std::filesystem::create_directories(dir);
  const std::string bad = (dir / "bad.json").string();
  std::ofstream(bad) << "{\"format_version\": 0}";
  const std::string err = (dir / "stderr.txt").string();
  const std::string base = std::string(SYNCSTORM_BINARY) + " compare quiet --seeds 1 --quiet --out " + (dir / "never").string();
  CHECK(exit_code(base + " --baseline " + bad + " > /dev/null 2> " + err) == 2);
  CHECK(read_text(err).find(bad + ": key 'format_version': is 0") != std::string::npos);
  CHECK(exit_code(base + " --baseline " + (dir / "absent.json").string() + " > /dev/null 2> " + err) == 2);
  CHECK(read_text(err).find((dir / "absent.json").string()) != std::string::npos);
  // Nothing was run or written.
  CHECK_FALSE(std::filesystem::exists(dir / "never"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("compare with a baseline writes byte-identical files on 1 and 4 jobs", "[reports][trend][cli]") {
  const auto dir = std::filesystem::temp_directory_path() / "syncstorm-baseline-jobs-test";
  std::filesystem::remove_all(dir);
  // The shipped "quiet" scenario is the smallest; the baseline ran fewer seeds, so some figures move.
  const std::string compare = std::string(SYNCSTORM_BINARY) + " compare quiet --storm-seeds 2 --quiet";
  REQUIRE(exit_code(compare + " --seeds 2 --jobs 2 --out " + (dir / "old").string() + " > /dev/null") == 0);
  const std::string baseline = (dir / "old" / "results.json").string();
  REQUIRE(exit_code(compare + " --seeds 3 --jobs 1 --baseline " + baseline + " --out " + (dir / "one").string() + " > /dev/null") == 0);
  REQUIRE(exit_code(compare + " --seeds 3 --jobs 4 --baseline " + baseline + " --out " + (dir / "four").string() + " > /dev/null") == 0);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "one")) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(std::find(names.begin(), names.end(), "index.html") != names.end());
  CHECK(std::find(names.begin(), names.end(), "report.md") != names.end());
  for (const std::string& name : names) {
    INFO(name);
    CHECK(read_text((dir / "one" / name).string()) == read_text((dir / "four" / name).string()));
  }
  CHECK(read_text((dir / "one" / "report.md").string()).find("## What changed since the baseline") != std::string::npos);
  // The pull-request comment's file carries the same list.
  CHECK(read_text((dir / "one" / "summary.md").string()).find("## What changed since the baseline") != std::string::npos);
  std::filesystem::remove_all(dir);
}
