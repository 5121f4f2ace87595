// The bug suite stays out of what runs by default: `compare` without --model leaves it out (so the
// report of `./setup.sh run` does not grow), names bring it in, and `list` shows it under a heading
// of its own after the models section that tests/cross_build_hashes.sh reads.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "models/model.hpp"

using namespace syncstorm;

namespace {

/// The "models" a compare run with `args` reports.
nlohmann::json compared_models(const std::string& args) {
  const std::filesystem::path out = std::filesystem::temp_directory_path() / "syncstorm-bug-suite-defaults";
  std::filesystem::remove_all(out);
  const std::string command = std::string(SYNCSTORM_BINARY) + " compare quiet --seeds 1 --no-backoff-study " + args +
                              " --out " + out.string() + " > /dev/null 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  std::ifstream results(out / "results.json");
  REQUIRE(results.good());
  const nlohmann::json models = nlohmann::json::parse(results)["models"];
  std::filesystem::remove_all(out);
  return models;
}

/// Everything `syncstorm list` prints.
std::string listed() {
  std::string out;
  FILE* pipe = popen((std::string(SYNCSTORM_BINARY) + " list").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  REQUIRE(pclose(pipe) == 0);
  return out;
}

}  // namespace

TEST_CASE("compare without --model leaves the bug suite out, and runs a bug-suite model when named", "[bugs]") {
  const ModelRegistry registry = shipped_models();  // held: all() is a member of it
  std::size_t bug_suite = 0;
  for (const ModelInfo& m : registry.all()) {
    if (!m.bug_suite) continue;
    ++bug_suite;
    CHECK_FALSE(m.correct());
  }
  CHECK(bug_suite >= 12);
  const nlohmann::json defaults = compared_models("");
  CHECK(std::find(defaults.begin(), defaults.end(), "outbox-map") != defaults.end());
  for (const ModelInfo& m : registry.all()) {
    if (m.bug_suite) CHECK(std::find(defaults.begin(), defaults.end(), m.name) == defaults.end());
  }
  const nlohmann::json named = compared_models("-m reused-mutation-id-map -m outbox-map");
  CHECK(named == nlohmann::json{"reused-mutation-id-map", "outbox-map"});
}

TEST_CASE("list shows the bug suite under its own heading, after the models section", "[bugs]") {
  const std::string out = listed();
  const std::size_t models = out.find("models:\n");
  const std::size_t suite = out.find("\nbug suite:\n");
  const std::size_t scenarios = out.find("\nscenarios:\n");
  REQUIRE(models != std::string::npos);
  REQUIRE(suite != std::string::npos);
  REQUIRE(scenarios != std::string::npos);
  CHECK(models < suite);
  CHECK(suite < scenarios);
  const std::size_t entry = out.find("  snapshot-replay-counter ");
  CHECK((suite < entry && entry < scenarios));
  CHECK(out.find("  outbox-map ") < suite);
}
