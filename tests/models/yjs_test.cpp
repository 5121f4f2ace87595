// The Yjs adapter with our own relay (models/adapters/yjs/): the causal order of its updates. These
// run end to end on the adapter's npm packages (npm ci --prefix models/adapters/yjs); every test
// needs Node.js, is tagged [node] and fails where it or the packages are missing (tests/programs.hpp).
#include <catch2/catch.hpp>

#include <string>

#include "models/external/external.hpp"
#include "sim/engine/simulation.hpp"
#include "sim/scenario/scenario_file.hpp"
#include "sim/sweep/check.hpp"
#include "sim/sweep/repro.hpp"
#include "tests/models/external_support.hpp"
#include "tests/printers.hpp"
#include "tests/programs.hpp"
#include "tests/source_tree.hpp"

using namespace syncstorm;
using testing::converged;
using testing::needs_adapter;
using testing::needs_node;

namespace {

/// A shrunk flaky-mobile run (3 clients, 11 operations, 1 reset) in which a reconnecting client
/// receives another user's overwrite of item 3 before the update that overwrite follows. Recorded
/// against the adapter's `--relay-before-sync` baseline.
const std::string kRepro =
    testing::source_path("tests/models/repros/yjs-list-relay-before-sync-value-vanishes.repro.toml");

bool breaks_monotonic_reads(const RunResult& r) {
  for (const Violation& v : r.violations) {
    if (v.invariant == Invariant::monotonic_reads) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a Yjs relay that sends updates before a client has synced makes a map key vanish", "[external][node]") {
  // Yjs applies an update's delete set at once and parks its new items until the update they follow
  // arrives (yjs#461): an overwrite that outruns the resync shows the key as absent. The baseline
  // relays as y-websocket does, and the repro catches it.
  if (!needs_node() || !needs_adapter("yjs")) return;
  auto repro = load_repro(kRepro);
  if (!repro.ok()) FAIL(repro.error().to_string());
  const auto baseline = describe_external("node " + adapter_dir() + "/yjs/adapter.js list --relay-before-sync");
  if (!baseline.ok()) FAIL(baseline.error().to_string());
  CHECK(baseline.value().breaks == Invariant::monotonic_reads);
  const RunResult r = replay_repro(repro.value(), baseline.value());
  INFO(r.aborted);
  REQUIRE(r.aborted.empty());
  CHECK(r.trace_hash == repro.value().trace_hash);
  CHECK(breaks_monotonic_reads(r));
}

TEST_CASE("yjs-list relays updates in causal order, so the same schedule keeps every view monotonic", "[external][node]") {
  // The shipped adapter relays to a client only after answering its state vector, and a client sends
  // its edits only after answering the server's: every update finds what it follows already there.
  if (!needs_node() || !needs_adapter("yjs")) return;
  auto repro = load_repro(kRepro);
  if (!repro.ok()) FAIL(repro.error().to_string());
  const ModelRegistry registry = shipped_models();
  const ModelInfo* model = registry.find("yjs-list");
  REQUIRE(model != nullptr);
  const RunResult r = replay_repro(repro.value(), *model);
  INFO(r.aborted);
  REQUIRE(r.aborted.empty());
  CHECK(converged(r));
  for (const Violation& v : r.violations) FAIL_CHECK(to_string(v.invariant) << ": " << v.detail);
}

TEST_CASE("a Yjs state vector sent ahead of offline writes does not order later writes after them", "[external][node]") {
  // flaky-mobile seed 3: client 4 updates item 9 offline, reconnects and sends its state vector; the
  // server answers client 6 with other updates, client 6 adds item 9, and client 4's offline update
  // reaches the server only after that. Yjs lets the offline update win, as its rule allows for
  // concurrent writes. The state vector carried no write: sent as a control message it no longer
  // orders client 6's add after the offline update (which was once reported as a lost write).
  if (!needs_node() || !needs_adapter("yjs")) return;
  const ModelRegistry registry = shipped_models();
  const ModelInfo* model = registry.find("yjs-list");
  REQUIRE(model != nullptr);
  auto scenario = load_scenario(testing::source_path("scenarios/flaky-mobile.toml"));
  if (!scenario.ok()) FAIL(scenario.error().to_string());
  const Schedule schedule = make_schedule(scenario.value(), *model, 3);
  const RunResult r = run_simulation(scenario.value(), *model, schedule, 3);
  INFO(r.aborted);
  REQUIRE(r.aborted.empty());
  for (const Violation& v : r.violations) FAIL_CHECK(to_string(v.invariant) << ": " << v.detail);
}

TEST_CASE("the Yjs relay servers sync with one another, deletes included: two servers, a crash and a partition", "[external][node]") {
  // two-servers: one server crashes losing what it had not flushed, then two random halves. Without
  // the servers' own sync every seed ends apart. A Yjs delete adds no item, so a state vector does
  // not show a peer lacks it: on seed 7 a server that compared state vectors alone never sent a
  // remove to its peer (the item came back there and the servers ended apart); the delete set in
  // the servers' snapshots carries it.
  if (!needs_node() || !needs_adapter("yjs")) return;
  const ModelRegistry registry = shipped_models();
  auto scenario = load_scenario(testing::source_path("scenarios/two-servers.toml"));
  if (!scenario.ok()) FAIL(scenario.error().to_string());
  for (const char* name : {"yjs-list", "yjs-text"}) {
    const ModelInfo* model = registry.find(name);
    REQUIRE(model != nullptr);
    CHECK(model->multi_server);
    for (std::uint64_t seed : {1, 2, 7}) {
      const RunResult r = testing::run_seed(scenario.value(), *model, seed);
      INFO(name << " seed " << seed << ": " << r.aborted);
      REQUIRE(r.aborted.empty());
      CHECK(converged(r));
      CHECK(testing::count_acknowledged(r) > 0);
      for (const Violation& v : r.violations) FAIL_CHECK(to_string(v.invariant) << ": " << v.detail);
    }
  }
  // The adapter's own describe answer agrees; the baseline that relays before sync stays single-server.
  auto described = describe_external("node " + adapter_dir() + "/yjs/adapter.js list");
  REQUIRE(described.ok());
  CHECK(described.value().multi_server);
  auto baseline = describe_external("node " + adapter_dir() + "/yjs/adapter.js list --relay-before-sync");
  REQUIRE(baseline.ok());
  CHECK_FALSE(baseline.value().multi_server);
}
