// The TinyBase adapters (models/adapters/tinybase/): tinybase-map and tinybase-list run end to end on
// the tinybase npm package (npm ci --prefix models/adapters/tinybase): MergeableStores saved by
// createLocalPersister, synced by createWsSynchronizer through createWsServer. Every test that runs
// them needs Node.js, is tagged [node] and fails where node or the packages are missing
// (tests/programs.hpp).
#include <catch2/catch.hpp>

#include <string>

#include "models/external/external.hpp"
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
using testing::needs_adapter;
using testing::needs_node;
using testing::quiet_scenario;

namespace {

constexpr const char* kTinyBaseModels[] = {"tinybase-map", "tinybase-list"};

bool needs_tinybase_packages() { return needs_adapter("tinybase"); }

/// Three clients editing for five seconds, no faults.
Scenario quiet() { return quiet_scenario("tinybase-quiet"); }

/// A client and then the server crash and restart from their stores (localStorage and the server's
/// file); the client's store survives.
Scenario crashes() { return testing::crashes_scenario("tinybase-crashes"); }

std::size_t count_applied(const RunResult& r) {
  std::size_t n = 0;
  for (const OpRecord& op : r.history.ops) n += op.applied.has_value() ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("the TinyBase models are shipped last-writer-wins, declaring the convergence break they have", "[external]") {
  const ModelRegistry registry = shipped_models();
  for (const char* name : kTinyBaseModels) {
    const ModelInfo* model = registry.find(name);
    REQUIRE(model != nullptr);
    CHECK(model->external);
    // Every cell and value, a deletion included, is last-writer-wins by hybrid logical clock.
    CHECK(model->rule == SupersedeRule::last_writer_wins);
    // A change made while the synchronizer loads is never sent (models/adapters/tinybase/README.md).
    CHECK(model->breaks == Invariant::convergence);
  }
}

TEST_CASE("the TinyBase adapters converge, acknowledge nothing, and one seed replays to the same trace hash", "[external][node]") {
  if (!needs_node() || !needs_tinybase_packages()) return;
  const ModelRegistry registry = shipped_models();
  for (const char* name : kTinyBaseModels) {
    const ModelInfo& model = *registry.find(name);
    const RunResult a = testing::run_seed(quiet(), model, 11);
    const RunResult b = testing::run_seed(quiet(), model, 11);
    INFO(name << ": " << a.aborted);
    REQUIRE(a.aborted.empty());
    CHECK(count_applied(a) > 0);
    // TinyBase's synchronizers tell an app nothing when a change reaches the server.
    CHECK(count_acknowledged(a) == 0);
    CHECK(converged(a));
    CHECK(a.violations.empty());
    CHECK(a.trace_hash == b.trace_hash);
  }
}

TEST_CASE("the TinyBase adapters restart crashed replicas from their stores and converge", "[external][node]") {
  if (!needs_node() || !needs_tinybase_packages()) return;
  const ModelRegistry registry = shipped_models();
  for (const char* name : kTinyBaseModels) testing::check_restarts_and_converges(crashes(), *registry.find(name));
}

TEST_CASE("a TinyBase seed run after another in one process gives the hash it gives alone", "[external][node]") {
  if (!needs_node() || !needs_tinybase_packages()) return;
  testing::check_seed_after_another({std::begin(kTinyBaseModels), std::end(kTinyBaseModels)}, crashes(), quiet());
}

namespace {

/// Replays `file` of models/adapters/tinybase/repros/ with tinybase-list: the replicas must end
/// apart, on the trace the repro recorded. Returns the size of its schedule.
ScheduleSize replays_to_divergence(const std::string& file) {
  auto repro = load_repro(testing::source_path("models/adapters/tinybase/repros/" + file));
  INFO((repro ? std::string() : repro.error().message));
  REQUIRE(repro.ok());
  const ModelRegistry registry = shipped_models();
  const RunResult r = replay_repro(repro.value(), *registry.find("tinybase-list"));
  INFO(r.aborted);
  REQUIRE(r.aborted.empty());
  CHECK_FALSE(converged(r));
  bool diverged = false;
  for (const Violation& v : r.violations) diverged = diverged || v.invariant == Invariant::convergence;
  CHECK(diverged);
  CHECK(r.trace_hash == repro.value().trace_hash);
  return size_of(repro.value().schedule);
}

}  // namespace

TEST_CASE("a TinyBase change made while the synchronizer loads never reaches the other replicas", "[external][node]") {
  // Shrunk from flaky-mobile seed 1 to one write and no fault: a client adds an item while its
  // synchronizer's first load waits for an answer; the save that would send the add is skipped,
  // and every later pull of it outlasts TinyBase's 1-second request timeout.
  if (!needs_node() || !needs_tinybase_packages()) return;
  const ScheduleSize size = replays_to_divergence("change-during-load-never-sent.repro.toml");
  CHECK(size.clients <= 3);
  CHECK(size.operations == 1);
  CHECK(size.faults == 0);
}

TEST_CASE("a TinyBase change whose push is lost reaches only the replicas that pull it", "[external][node]") {
  // Shrunk from partition-heal seed 1013 under --explore priority: client 2 updates an item while
  // partitioned, and its push dies with the connection. After the heal the server pulls the update
  // from client 2, but client 3's load, answered first by the server before that pull, found
  // nothing to fetch, and no replica forwards what it pulled: client 3 keeps the old value.
  if (!needs_node() || !needs_tinybase_packages()) return;
  const ScheduleSize size = replays_to_divergence("pulled-change-never-forwarded.repro.toml");
  CHECK(size.clients <= 3);
  CHECK(size.operations <= 12);
}
