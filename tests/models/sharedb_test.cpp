// The ShareDB adapter (models/adapters/sharedb): sharedb-map, sharedb-list and sharedb-text on ShareDB's own Backend
// and Connection, and sharedb-map on two old releases, one with a published reconnect bug
// (1.0.0-beta.29) and the first with its fix (1.0.0-beta.31). The repro file beside this test is the
// shrunk schedule syncstorm found for that bug; it must still fail on the buggy release and pass on the
// fixed ones. Every test needs Node.js and the adapter's npm packages and fails where they are missing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "models/external/external.hpp"
#include "sim/cli/commands.hpp"
#include "sim/engine/simulation.hpp"
#include "sim/sweep/check.hpp"
#include "sim/sweep/repro.hpp"
#include "tests/printers.hpp"
#include "tests/models/external_support.hpp"
#include "tests/programs.hpp"
#include "tests/source_tree.hpp"

using namespace syncstorm;
using testing::converged;
using testing::count_acknowledged;
using testing::quiet_scenario;
using testing::needs_adapter;
using testing::needs;
using testing::needs_node;

namespace {

RunResult run(const Scenario& scenario, const ModelInfo& model, std::uint64_t seed) {
  return testing::run_seed(scenario, model, seed);
}

const std::string kRepro =
    testing::source_path("tests/models/repros/sharedb-map-1.0.0-beta.29.read-your-writes.repro.toml");

/// Node.js and the adapter's npm packages (`./setup.sh` installs them).
bool needs_sharedb() { return testing::needs_node() && needs_adapter("sharedb"); }

/// A few clients, no faults.
Scenario quiet() { return quiet_scenario("sharedb-quiet"); }

/// The server crashes twice and rebuilds ShareDB's database from its store each time.
Scenario server_crashes() {
  Scenario s = quiet();
  s.name = "sharedb-server-crashes";
  FaultSpec crash;
  crash.kind = FaultKind::crash;
  crash.at = Instant{1'500'000};
  crash.duration = Duration::seconds(1);
  crash.target = Target{Target::Kind::server, 0};
  FaultSpec again = crash;
  again.at = Instant{3'500'000};
  s.faults = {crash, again};
  return s;
}

bool shows(const RunResult& r, Invariant invariant) {
  return std::any_of(r.violations.begin(), r.violations.end(), [&](const Violation& v) { return v.invariant == invariant; });
}

}  // namespace

TEST_CASE("sharedb-map, sharedb-list and sharedb-text converge, pass every checker and replay to the same trace hash",
          "[external][node][sharedb]") {
  if (!needs_sharedb()) return;
  const ModelRegistry registry = shipped_models();
  for (const char* name : {"sharedb-map", "sharedb-list", "sharedb-text"}) {
    const ModelInfo* model = registry.find(name);
    REQUIRE(model != nullptr);
    const RunResult a = run(quiet(), *model, 11);
    const RunResult b = run(quiet(), *model, 11);
    INFO(name << ": " << a.aborted);
    REQUIRE(a.aborted.empty());
    CHECK(count_acknowledged(a) > 0);
    CHECK(converged(a));
    for (const Violation& v : a.violations) FAIL_CHECK(name << ": " << to_string(v.invariant) << ": " << v.detail);
    CHECK(a.trace_hash == b.trace_hash);
  }
}

TEST_CASE("a ShareDB server rebuilds its database from its store after a crash and keeps every acknowledged op",
          "[external][node][sharedb]") {
  if (!needs_sharedb()) return;
  const ModelRegistry registry = shipped_models();
  for (const char* name : {"sharedb-map", "sharedb-list", "sharedb-text"}) {
    const RunResult r = testing::check_restarts_and_converges(server_crashes(), *registry.find(name));
    CHECK(count_acknowledged(r) > 0);
  }
}

TEST_CASE("sharedb-map passes the first seeds of flaky-mobile and server-crash", "[external][node][sharedb]") {
  if (!needs_sharedb()) return;
  const ModelRegistry registry = shipped_models();
  const ModelInfo& model = *registry.find("sharedb-map");
  auto scenarios = shipped_scenarios();
  REQUIRE(scenarios.ok());
  for (const Scenario& scenario : scenarios.value()) {
    if (scenario.name != "flaky-mobile" && scenario.name != "server-crash") continue;
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const RunResult r = run(scenario, model, seed);
      INFO(scenario.name << " seed " << seed << ": " << r.aborted);
      REQUIRE(r.aborted.empty());
      for (const Violation& v : r.violations) FAIL_CHECK(scenario.name << " seed " << seed << ": " << v.detail);
    }
  }
}

TEST_CASE("the shrunk repro shows a user its acknowledged edit undone on ShareDB 1.0.0-beta.29, not on the fixed releases",
          "[external][node][sharedb]") {
  if (!needs_sharedb()) return;
  const ModelRegistry registry = shipped_models();
  auto repro = load_repro(kRepro);
  INFO((repro ? std::string() : repro.error().message));
  REQUIRE(repro.ok());
  CHECK(size_of(repro.value().schedule).clients <= 3);
  CHECK(size_of(repro.value().schedule).operations <= 12);

  const RunResult buggy = replay_repro(repro.value(), *registry.find("sharedb-map-1.0.0-beta.29"));
  INFO(buggy.aborted);
  REQUIRE(buggy.aborted.empty());
  CHECK(shows(buggy, Invariant::read_your_writes));
  CHECK(buggy.trace_hash == repro.value().trace_hash);

  for (const char* fixed : {"sharedb-map-1.0.0-beta.31", "sharedb-map"}) {
    const RunResult r = replay_repro(repro.value(), *registry.find(fixed));
    INFO(fixed << ": " << r.aborted);
    REQUIRE(r.aborted.empty());
    CHECK(converged(r));
    for (const Violation& v : r.violations) FAIL_CHECK(fixed << ": " << to_string(v.invariant) << ": " << v.detail);
  }
}

TEST_CASE("a ShareDB seed run after another in one process gives the hash it gives alone", "[external][node][sharedb]") {
  if (!needs_sharedb()) return;
  testing::check_seed_after_another({"sharedb-map", "sharedb-list", "sharedb-text", "sharedb-map-1.0.0-beta.29", "sharedb-map-1.0.0-beta.31"}, server_crashes(), quiet());
}

TEST_CASE("the pinned ot-json0 diverges on a delete against an insert without od over an existing key",
          "[external][node][sharedb]") {
  // tests/models/adapters/json0-tp1.js transforms the two ops each against the other, as a ShareDB
  // client and its server do: the pinned release leaves the client's document different from the
  // server's (models/adapters/README.md, "The adapter sweep"). The day a release changes it, this
  // fails, and the README's finding is to be revised.
  if (!needs_sharedb()) return;
  const std::string text = testing::adapter_script_output("json0-tp1.js", "sharedb");
  INFO(text);
  CHECK(text == "{\"client\":{\"k\":\"B\"},\"server\":{},\"agree\":false}\n");
}

TEST_CASE("the pinned ot-json0 converges on every pair of well-formed key ops, transformed or composed",
          "[external][node][sharedb]") {
  // The ops the ShareDB adapters build (od whenever the key exists): every pair from one document
  // transforms into well-formed ops that converge, and compositions stay well formed, so the
  // divergence above cannot arise from them through any chain of ShareDB's transforms.
  if (!needs_sharedb()) return;
  const std::string text = testing::adapter_script_output("json0-closure.js", "sharedb");
  INFO(text);
  CHECK(text == "{\"pairs\":76,\"diverged\":0,\"malformed\":0,\"compositions\":38,\"wrongCompositions\":0}\n");
}
