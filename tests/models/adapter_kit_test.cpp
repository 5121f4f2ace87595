// The adapter kit (models/adapters/lib/kit.js) and its worked example, "notes": a team's own client
// and server modules wrapped in about 30 lines. The example must pass the checks a user would run
// (server crashes, partitions), its deliberately buggy variant must be caught, and the kit's type
// declarations must check the example. Every case needs Node.js ([node]) and fails where it is
// missing (tests/programs.hpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "models/external/external.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/engine/simulation.hpp"
#include "sim/scenario/scenario_file.hpp"
#include "tests/printers.hpp"
#include "tests/shipped_scenario.hpp"
#include "tests/models/external_support.hpp"
#include "tests/programs.hpp"
#include "tests/source_tree.hpp"

using namespace syncstorm;
using testing::needs;
using testing::needs_node;

namespace {

using testing::shipped_scenario;

RunResult run(const Scenario& scenario, const ModelInfo& model, std::uint64_t seed) {
  return testing::run_seed(scenario, model, seed);
}

const std::string kKit = testing::source_path("models/adapters/lib/");

ModelInfo notes(const std::string& flags = "") {
  auto model = describe_external("node " + kKit + "example/adapter.js" + flags);
  INFO((model ? std::string() : model.error().message));
  REQUIRE(model.ok());
  return model.value();
}

}  // namespace

TEST_CASE("the kit's worked example passes server crashes and partitions", "[external][kit][node]") {
  if (!needs_node()) return;
  const ModelInfo model = notes();
  CHECK(model.correct());
  CHECK(model.rule == SupersedeRule::server_order);
  for (const char* name : {"server-crash", "partition-heal"}) {
    const Scenario scenario = shipped_scenario(name);
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const RunResult r = run(scenario, model, seed);
      INFO(name << " seed " << seed << ": " << r.aborted);
      REQUIRE(r.aborted.empty());
      CHECK(r.metrics.acknowledged > 0);
      for (const Violation& v : r.violations) FAIL_CHECK(to_string(v.invariant) << ": " << v.detail);
    }
  }
}

TEST_CASE("the kit's example server that acknowledges before it flushes is caught", "[external][kit][node]") {
  if (!needs_node()) return;
  const ModelInfo model = notes(" --flush-later");
  REQUIRE(model.breaks == Invariant::monotonic_reads);
  const Scenario scenario = shipped_scenario("server-crash");
  bool caught = false;
  for (std::uint64_t seed = 1; seed <= 5 && !caught; ++seed) {
    const RunResult r = run(scenario, model, seed);
    REQUIRE(r.aborted.empty());
    for (const Violation& v : r.violations) caught = caught || v.invariant == Invariant::monotonic_reads;
  }
  CHECK(caught);
}

TEST_CASE("the kit's type declarations check the worked example", "[external][kit][node]") {
  if (!needs_node()) return;
  const std::string tsc = kKit + "node_modules/.bin/tsc";
  if (!needs(std::filesystem::exists(tsc), "TypeScript, the kit's development package (" + tsc + ")",
             "SYNCSTORM_NO_NODE", "npm ci --prefix models/adapters/lib")) {
    return;
  }
  const std::string command = tsc + " -p " + kKit + "example/tsconfig.json 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  const int status = ::pclose(pipe);
  INFO(output);
  CHECK(status == 0);
}

TEST_CASE("the kit's env.hold and env.release reach the simulator", "[external][kit][node]") {
  // tests/models/adapters/kit-holds.js: a server that parks each write 100 ms, held and released.
  if (!needs_node()) return;
  const std::string script = "node " + testing::source_path("tests/models/adapters/kit-holds.js");
  const Scenario scenario = shipped_scenario("partition-heal");
  auto model = describe_external(script);
  REQUIRE(model.ok());
  CHECK(model.value().holds_messages);
  const RunResult held = run(scenario, model.value(), 1);
  INFO(held.aborted);
  REQUIRE(held.aborted.empty());
  for (const Violation& v : held.violations) FAIL_CHECK(to_string(v.invariant) << ": " << v.detail);
  // A hold outside a message's delivery is the simulator's refusal, so the action got there.
  auto in_timer = describe_external(script + " --hold-in-timer");
  REQUIRE(in_timer.ok());
  CHECK_THAT(run(scenario, in_timer.value(), 1).aborted, Catch::Contains("held a message outside the delivery of one"));
  auto bad_tag = describe_external(script + " --bad-tag");
  REQUIRE(bad_tag.ok());
  CHECK_THAT(run(scenario, bad_tag.value(), 1).aborted, Catch::Contains("env.hold(tag) needs a non-negative integer tag"));
}

TEST_CASE("the kit's env.applied carries a delete's target to the checkers", "[external][kit][node]") {
  // tests/models/adapters/kit-text.js: one client keeps a text alone. With targets its deletes
  // explain every element gone; without them, the deleted inserts are reported rolled back.
  if (!needs_node()) return;
  const std::string script = "node " + testing::source_path("tests/models/adapters/kit-text.js");
  Scenario scenario = testing::quiet_scenario("kit-text", 1);
  auto model = describe_external(script);
  REQUIRE(model.ok());
  const RunResult with_targets = run(scenario, model.value(), 1);
  INFO(with_targets.aborted);
  REQUIRE(with_targets.aborted.empty());
  std::size_t deletes = 0;
  for (const OpRecord& r : with_targets.history.ops) {
    if (r.op.kind == OpKind::text_delete && r.applied) deletes += r.target.valid() ? 1 : 0;
  }
  CHECK(deletes > 0);
  for (const Violation& v : with_targets.violations) FAIL_CHECK(to_string(v.invariant) << ": " << v.detail);

  auto blind = describe_external(script + " --no-target");
  REQUIRE(blind.ok());
  const RunResult without = run(scenario, blind.value(), 1);
  REQUIRE(without.aborted.empty());
  const bool rolled_back = std::any_of(without.violations.begin(), without.violations.end(),
                                       [](const Violation& v) { return v.invariant == Invariant::silent_rollback; });
  CHECK(rolled_back);
}

TEST_CASE("an adapter that declares several servers and datagram links runs there, and is judged there",
          "[external][kit][node]") {
  // tests/models/adapters/kit-gossip.js: a state-based LWW map whose servers gossip. The
  // declarations put it on the two-server and datagram scenarios, where it passes; without its
  // gossip (still declared correct) its clients end apart on the two-server one.
  if (!needs_node()) return;
  const std::string script = "node " + testing::source_path("tests/models/adapters/kit-gossip.js");
  auto model = describe_external(script);
  REQUIRE(model.ok());
  CHECK(model.value().multi_server);
  CHECK(model.value().datagram_links);
  const Scenario two_servers = shipped_scenario("two-servers");
  const Scenario datagram = shipped_scenario("datagram-relay");
  REQUIRE(two_servers.servers > 1);
  REQUIRE(datagram.network.client_link == LinkKind::datagram);
  CHECK(fits(two_servers, model.value()));
  CHECK(fits(datagram, model.value()));
  for (const Scenario* scenario : {&two_servers, &datagram}) {
    const RunResult r = run(*scenario, model.value(), 1);
    INFO(scenario->name << ": " << r.aborted);
    REQUIRE(r.aborted.empty());
    // Datagram clients heard of their server (a connected event) and so were acknowledged.
    CHECK(r.metrics.acknowledged > 0);
    for (const Violation& v : r.violations) FAIL_CHECK(to_string(v.invariant) << ": " << v.detail);
  }
  // The example declares neither, so it stays off both, and `run` says where the declaration goes.
  CHECK_FALSE(fits(two_servers, notes()));
  CHECK_FALSE(fits(datagram, notes()));
  for (const char* scenario : {"two-servers", "datagram-relay"}) {
    const auto [code, text] = testing::syncstorm_cli(std::string("run ") + scenario + " --seed 1 -m 'external:node " +
                                                     kKit + "example/adapter.js'");
    INFO(text);
    CHECK(code == 2);
    CHECK_THAT(text, Catch::Contains("in its describe answer"));
  }

  auto alone = describe_external(script + " --no-gossip");
  REQUIRE(alone.ok());
  const RunResult apart = run(two_servers, alone.value(), 1);
  REQUIRE(apart.aborted.empty());
  CHECK(std::any_of(apart.violations.begin(), apart.violations.end(),
                    [](const Violation& v) { return v.invariant == Invariant::convergence; }));
}

TEST_CASE("an adapter that promises writes follow reads or writes in order is held to it, and one that does not is not",
          "[external][kit][node]") {
  // tests/models/adapters/kit-subscribe-first.js: its server pushes to a connection before the
  // client has its snapshot. On partition-heal that breaks writes follow reads and nothing else.
  if (!needs_node()) return;
  const std::string script = "node " + testing::source_path("tests/models/adapters/kit-subscribe-first.js");
  const Scenario scenario = shipped_scenario("partition-heal");
  const auto broken = [&](const ModelInfo& model) {
    const RunResult r = run(scenario, model, 1);
    INFO(r.aborted);
    REQUIRE(r.aborted.empty());
    std::vector<std::string> names;
    for (const Violation& v : r.violations) names.emplace_back(to_string(v.invariant));
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
  };
  auto promising = describe_external(script);
  REQUIRE(promising.ok());
  CHECK(promising.value().writes_follow_reads == OrderPromise::promised);
  CHECK(broken(promising.value()) == std::vector<std::string>{"writes-follow-reads"});

  auto silent = describe_external(script + " --no-promise");
  REQUIRE(silent.ok());
  CHECK(silent.value().writes_follow_reads == OrderPromise::not_promised);
  CHECK(broken(silent.value()).empty());

  // The promise of writes in order is its own: declared alone, only monotonic writes is judged.
  auto in_order = describe_external(script + " --no-promise --in-order");
  REQUIRE(in_order.ok());
  CHECK(in_order.value().writes_follow_reads == OrderPromise::not_promised);
  CHECK(in_order.value().writes_in_order == OrderPromise::promised);
  CHECK(broken(in_order.value()) == std::vector<std::string>{"monotonic-writes"});
}
