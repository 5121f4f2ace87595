// The Markdown summary of a check (`check --markdown`, `merge --markdown`): the verdict, the failing
// pairs with what failed, the passing ones folded, each failure's repro and commands; its limits and
// its flags' errors.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/sweep/check.hpp"
#include "tests/scratch_dir.hpp"

using namespace syncstorm;

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

int syncstorm_cli(const std::string& args) {
  const int status = std::system((std::string(SYNCSTORM_BINARY) + " " + args + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_text(const fs::path& path) {
  std::stringstream s;
  s << std::ifstream(path, std::ios::binary).rdbuf();
  return s.str();
}


/// A summary as check_json writes it, with `results` and nothing in the corpus.
Json summary(Json results, bool failed) {
  return Json{{"syncstorm_check", 1},    {"verdict", failed ? "fail" : "pass"},
              {"requested", {{"first", 1}, {"last", 8}}}, {"covered", Json::array({{{"first", 1}, {"last", 8}}})},
              {"budget_stopped", false}, {"fail_fast_stopped", false},
              {"shard", ""},             {"verify_determinism_percent", 0},
              {"corpus", Json::array()}, {"results", std::move(results)}};
}

Json passing(const std::string& scenario, const std::string& model) {
  return Json{{"scenario", scenario}, {"scenario_file", scenario + ".toml"}, {"model", model},
              {"seeds_run", 8},       {"failing_seeds", 0},                  {"failures", Json::array()},
              {"findability", Json::array()}, {"shrunk", Json::array()},    {"verified", 0},
              {"divergences", Json::array()}};
}

/// A pair that failed `invariant` at seeds 3 and 5, unshrunk (as --no-shrink leaves it).
Json failing(const std::string& scenario, const std::string& model, const std::string& invariant) {
  Json r = passing(scenario, model);
  r["failing_seeds"] = 2;
  for (int seed : {3, 5}) {
    r["failures"].push_back({{"seed", seed}, {"invariant", invariant}, {"trace_hash", "00"},
                             {"replay", "syncstorm replay " + scenario + " --model " + model + " --seed " + std::to_string(seed)}});
  }
  r["findability"].push_back({{"invariant", invariant}, {"failing_seeds", 2}, {"clean_seeds_to_trust", 11}});
  return r;
}

}  // namespace

TEST_CASE("check --markdown: the verdict, the failing pair, its shrunk repro and the commands to replay and draw it",
          "[check][markdown]") {
  const fs::path dir = testing::scratch_dir("markdown-test-check");
  const std::string md = (dir / "summary.md").string();
  const std::string json = (dir / "summary.json").string();
  // lww-map-wallclock loses an acknowledged write on clock-skew from seed 1; lww-map passes.
  REQUIRE(syncstorm_cli("check clock-skew -m lww-map-wallclock -m lww-map --seeds 2 --jobs 1 --no-progress --corpus " +
                        dir.string() + " --json " + json + " --markdown " + md) == 1);
  const std::string page = read_text(md);
  CHECK(page == check_markdown(read_text(json)));  // the page is the JSON summary's, nothing else
  CHECK_THAT(page, Catch::StartsWith("### syncstorm check: FAIL\n"));
  CHECK_THAT(page, Catch::Contains("2 scenario x model pairs, 1 failing"));
  CHECK_THAT(page, Catch::Contains("| clock-skew | lww-map-wallclock | 2 | 2 | lost-acknowledged-write (2 seeds, first 1) |"));
  CHECK_THAT(page, Catch::Contains("<details><summary>1 pair passing</summary>"));
  CHECK_THAT(page, Catch::Contains("| clock-skew | lww-map | 2 |"));
  CHECK_THAT(page, Catch::Contains("#### clock-skew / lww-map-wallclock: lost-acknowledged-write"));
  const std::string repro = (dir / "clock-skew__lww-map-wallclock__lost-acknowledged-write__seed1").string();
  CHECK_THAT(page, Catch::Contains("syncstorm replay " + repro + ".repro.toml\n"));
  CHECK_THAT(page, Catch::Contains("syncstorm replay " + repro + ".repro.toml --html " + repro + ".html\n"));
  CHECK_THAT(page, Catch::Contains("syncstorm replay clock-skew --model lww-map-wallclock --seed 1\n"));

  // A pass says so and lists nothing as failing.
  REQUIRE(syncstorm_cli("check clock-skew -m lww-map --seeds 2 --jobs 1 --no-progress --markdown " + md) == 0);
  CHECK_THAT(read_text(md), Catch::StartsWith("### syncstorm check: PASS\n"));
  CHECK_THAT(read_text(md), !Catch::Contains("####"));
  fs::remove_all(dir);
}

TEST_CASE("merge --markdown writes the merged verdict's page", "[check][markdown]") {
  const fs::path dir = testing::scratch_dir("markdown-test-merge");
  const std::string one = (dir / "one.json").string();
  const std::string two = (dir / "two.json").string();
  std::ofstream(one) << summary(Json::array({passing("quiet", "echo")}), false).dump(2);
  std::ofstream(two) << summary(Json::array({failing("quiet", "echo", "convergence")}), true).dump(2);
  const std::string md = (dir / "merged.md").string();
  const std::string merged = (dir / "merged.json").string();
  CHECK(syncstorm_cli("merge " + one + " " + two + " --json " + merged + " --markdown " + md) == 1);
  const std::string page = read_text(md);
  CHECK(page == check_markdown(read_text(merged)));
  CHECK_THAT(page, Catch::Contains("shard merged from 2 files"));
  CHECK_THAT(page, Catch::Contains("| quiet | echo | 16 | 2 | convergence (2 seeds, first 3) |"));
  // Unshrunk: the first failing seed's command stands for the invariant.
  CHECK_THAT(page, Catch::Contains("#### quiet / echo: convergence\n\nFirst at seed 3.\n\n```sh\nsyncstorm replay quiet --model echo --seed 3\n```"));
  fs::remove_all(dir);
}

TEST_CASE("the Markdown summary escapes table cells and keeps to its limits", "[check][markdown]") {
  // An external model's name is a command line: a `|` in it must not split the row.
  const std::string page = check_markdown(summary(Json::array({failing("quiet", "node a.js | tee", "convergence")}), true).dump());
  CHECK_THAT(page, Catch::Contains("| quiet | node a.js \\| tee | 8 | 2 |"));

  Json many = Json::array();
  for (int i = 0; i < 45; ++i) many.push_back(failing("s" + std::to_string(i), "m", "convergence"));
  const std::string big = check_markdown(summary(many, true).dump());
  CHECK_THAT(big, Catch::Contains("| s44 | m | 8 | 2 |"));        // the table has every failing pair
  CHECK_THAT(big, Catch::Contains("#### s39 / m: convergence"));  // 40 sections
  CHECK_THAT(big, !Catch::Contains("#### s40 / m"));
  CHECK_THAT(big, Catch::Contains("5 more failing pairs: the JSON summary and the job's log have them."));
}

TEST_CASE("check and merge refuse an empty --markdown name and a missing folder before any run", "[check][markdown]") {
  const fs::path dir = testing::scratch_dir("markdown-test-errors");
  CHECK(syncstorm_cli("check quiet -m echo --seeds 1 --markdown ''") == 2);
  CHECK(syncstorm_cli("check quiet -m echo --seeds 1 --markdown " + (dir / "no-such-folder" / "s.md").string()) == 2);
  CHECK(syncstorm_cli("merge x.json --markdown ''") == 2);
  CHECK(!fs::exists(dir / "no-such-folder"));
  fs::remove_all(dir);
}
