// The server-order rule on whole runs: two buggy server-ordered strategies that lose acknowledged
// writes only on fields other writes also touch. "Any other write to the field explains the loss"
// excused both; the rule that judges by what users saw (server_may_order_after) catches each on a
// shipped scenario and shrinks it to a handful of clients.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "sim/sweep/check.hpp"
#include "sim/cli/commands.hpp"
#include "sim/checkers/invariants.hpp"
#include "sim/scenario/scenario_file.hpp"
#include "sim/engine/simulation.hpp"
#include "tests/printers.hpp"
#include "tests/shipped_scenario.hpp"

using namespace syncstorm;

namespace {

using testing::shipped_scenario;

/// Whether the rule that let any other unrejected write of the field supersede would have excused
/// the write a violation names: some other issued write of the same field exists.
bool any_other_write_excuses(const History& history, OpId lost) {
  const Operation& op = history.record(lost).op;
  return std::any_of(history.ops.begin(), history.ops.end(), [&](const OpRecord& r) {
    return r.issued && !r.rejected && r.op.id != lost && r.op.kind == op.kind && r.op.key == op.key;
  });
}

void caught_where_the_old_rule_was_blind(const std::string& scenario_name, const std::string& model_name,
                                         std::uint64_t seed, Invariant expected) {
  const ModelRegistry models = shipped_models();
  const ModelInfo* model = models.find(model_name);
  REQUIRE(model != nullptr);
  REQUIRE_FALSE(model->correct());
  REQUIRE(model->breaks == expected);
  const Scenario scenario = shipped_scenario(scenario_name);
  const Schedule schedule = make_schedule(scenario, *model, seed);
  const RunResult r = run_simulation(scenario, *model, schedule, seed);
  INFO(model_name << " on " << scenario_name << " seed " << seed);
  REQUIRE(r.aborted.empty());
  const auto found = std::find_if(r.violations.begin(), r.violations.end(),
                                  [&](const Violation& v) { return v.invariant == expected; });
  REQUIRE(found != r.violations.end());
  // Every lost or reordered write of the run sits on a field another write touched: the old rule
  // would have reported none of them.
  for (const Violation& v : r.violations) {
    if (v.invariant != Invariant::lost_acknowledged_write && v.invariant != Invariant::monotonic_writes) continue;
    REQUIRE_FALSE(v.involved.empty());
    CHECK(any_other_write_excuses(r.history, v.involved.front().op));
  }
  const ShrinkResult shrunk = shrink_failure(scenario, *model, schedule, seed, std::string(to_string(expected)),
                                             ShrinkLimits{.max_runs = 2'000, .max_wall_ms = 0});
  CHECK(shrunk.after.clients <= 3);
  CHECK(shrunk.after.operations <= shrunk.before.operations);
}

}  // namespace

TEST_CASE("a client that resends its outbox newest first is caught as monotonic writes", "[invariants][canary]") {
  caught_where_the_old_rule_was_blind("offline-editing", "outbox-map-newest-first", 17, Invariant::monotonic_writes);
}

TEST_CASE("a server that rebuilds its state from the first client to reconnect is caught losing acknowledged "
          "writes", "[invariants][canary]") {
  caught_where_the_old_rule_was_blind("article-hybrid-dashboard", "outbox-map-rebuilding-server", 19,
                                      Invariant::lost_acknowledged_write);
}
