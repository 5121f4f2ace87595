// The automerge-repo adapter (models/adapters/automerge-repo/): every replica a real Repo, the server
// a sync-server Repo. These tests need Node.js and the adapter's npm packages (npm ci --prefix
// models/adapters/automerge-repo): they are tagged [node] and fail where either is missing.
#include <catch2/catch.hpp>

#include <filesystem>
#include <optional>
#include <string>

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
using testing::quiet_scenario;
using testing::needs_adapter;
using testing::needs_node;

namespace {

RunResult run(const Scenario& scenario, const ModelInfo& model, std::uint64_t seed) {
  return testing::run_seed(scenario, model, seed);
}

/// The npm packages of an adapter folder, which `./setup.sh` installs.
bool needs_packages(const std::string& folder = "automerge-repo") { return needs_adapter(folder); }

/// A few clients, no faults.
Scenario quiet() { return quiet_scenario("automerge-repo-quiet"); }

/// A client crashes and restarts from its store, then the server does; both stores survive.
Scenario crashes() {
  Scenario s = testing::crashes_scenario("automerge-repo-crashes");
  s.persistence.server = true;
  return s;
}

const std::string kRepro = testing::source_path("tests/models/repros/automerge-repo-reconnect-sync-loop.repro.toml");

}  // namespace

TEST_CASE("automerge-repo replicas converge, keep their history and replay to the same trace hash", "[external][node]") {
  if (!needs_node() || !needs_packages()) return;
  const ModelRegistry registry = shipped_models();
  for (const char* name : {"automerge-repo-map", "automerge-repo-list"}) {
    const ModelInfo* model = registry.find(name);
    REQUIRE(model != nullptr);
    CHECK(model->metadata_growth == MetadataGrowth::keeps_every_change);
    const RunResult a = run(quiet(), *model, 11);
    const RunResult b = run(quiet(), *model, 11);
    INFO(name << ": " << a.aborted);
    REQUIRE(a.aborted.empty());
    CHECK(converged(a));
    for (const Violation& v : a.violations) FAIL_CHECK(name << ": " << to_string(v.invariant) << ": " << v.detail);
    CHECK(a.trace_hash == b.trace_hash);
  }
}

TEST_CASE("automerge-repo replicas restart from their stores after a crash and converge", "[external][node]") {
  if (!needs_node() || !needs_packages()) return;
  const ModelRegistry registry = shipped_models();
  testing::check_restarts_and_converges(crashes(), *registry.find("automerge-repo-map"));
}

TEST_CASE("a sync server that reconnects a client after changes were lost in flight never resends them",
          "[external][node]") {
  // The shrunk repro of a stall found in automerge-repo 2.5.6: see models/adapters/automerge-repo/README.md.
  if (!needs_node() || !needs_packages()) return;
  auto repro = load_repro(kRepro);
  INFO((repro ? std::string() : repro.error().message));
  REQUIRE(repro.ok());
  CHECK(size_of(repro.value().schedule).clients <= 3);
  CHECK(size_of(repro.value().schedule).operations <= 12);
  const ModelRegistry registry = shipped_models();
  const ModelInfo* model = registry.find(repro.value().model);
  REQUIRE(model != nullptr);
  const RunResult r = replay_repro(repro.value(), *model);
  INFO(r.aborted);
  REQUIRE(r.aborted.empty());
  CHECK_FALSE(converged(r));
  bool flagged = false;
  for (const Violation& v : r.violations) flagged = flagged || to_string(v.invariant) == repro.value().invariant;
  CHECK(flagged);
}

TEST_CASE("the 2.6 prerelease, which resets a reconnecting peer's sync state, passes the same repro", "[external][node]") {
  if (!needs_node() || !needs_packages("automerge-repo-next")) return;
  auto repro = load_repro(kRepro);
  REQUIRE(repro.ok());
  auto model = describe_external("node " + adapter_dir() + "/automerge-repo-next/adapter.js map");
  INFO((model ? std::string() : model.error().message));
  REQUIRE(model.ok());
  CHECK_FALSE(model.value().breaks);  // 2.5.6's stall is declared by the release that has it only
  const RunResult r = replay_repro(repro.value(), model.value());
  INFO(r.aborted);
  REQUIRE(r.aborted.empty());
  CHECK(converged(r));
  for (const Violation& v : r.violations) FAIL_CHECK(to_string(v.invariant) << ": " << v.detail);
}

TEST_CASE("an automerge-repo seed run after another in one process gives the hash it gives alone", "[external][node]") {
  if (!needs_node() || !needs_packages()) return;
  testing::check_seed_after_another({"automerge-repo-map", "automerge-repo-list"}, crashes(), quiet());
}

TEST_CASE("an automerge-repo 2.6 seed run after another in one process gives the hash it gives alone", "[external][node]") {
  if (!needs_node() || !needs_packages("automerge-repo-next")) return;
  const std::string command = "node " + adapter_dir() + "/automerge-repo-next/adapter.js map";
  auto reused = describe_external(command);
  auto fresh = describe_external(command);
  REQUIRE(reused.ok());
  REQUIRE(fresh.ok());
  const testing::SeedAfterAnother r = testing::seed_after_another(crashes(), 5, quiet(), 12, reused.value(), fresh.value());
  INFO(r.first.aborted << r.after.aborted << r.alone.aborted);
  REQUIRE(r.after.aborted.empty());
  CHECK(r.after.trace_hash == r.alone.trace_hash);
  CHECK(r.after.trace_hash != r.first.trace_hash);
}
