// union-set-list: the canary. Merging by plain union without tombstones lets a replica that missed a
// remove bring the item back on its next sync.
#include <algorithm>
#include <map>
#include <set>
#include <catch2/catch.hpp>

#include "models/model.hpp"
#include "sim/schedule.hpp"
#include "sim/simulation.hpp"
#include "tests/models/harness.hpp"

using namespace syncstorm;

namespace {

/// Runs `m` through `scenario` with the engine and the real checkers for seeds 1..seeds and counts
/// the seeds on which each invariant was broken.
std::map<Invariant, int> engine_breaks(const Scenario& scenario, const ModelInfo& m, std::uint64_t seeds) {
  std::map<Invariant, int> broken;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    const Schedule schedule = make_schedule(scenario, m.data_type, seed);
    std::set<Invariant> kinds;
    for (const Violation& v : run_simulation(scenario, m, schedule, seed).violations) kinds.insert(v.invariant);
    for (Invariant i : kinds) ++broken[i];
  }
  return broken;
}

FaultSpec engine_fault(FaultKind kind, Target target, std::int64_t at_s, std::int64_t duration_s) {
  FaultSpec f;
  f.kind = kind;
  f.at = Instant{Duration::seconds(at_s).us};
  f.duration = Duration::seconds(duration_s);
  f.target = target;
  return f;
}

/// A small busy run with resets, a server crash, a client crash with persistence, a partition,
/// a long offline client and two servers behind a load balancer.
[[maybe_unused]] Scenario engine_rough(std::uint32_t servers) {
  Scenario s;
  s.name = "models-b-rough";
  s.servers = servers;
  s.network.assignment = ServerAssignment::random;
  s.workload.clients = 5;
  s.workload.keys = 4;
  s.workload.duration = Duration::seconds(20);
  s.workload.think_time_mean = Duration::millis(700);
  s.invariants.settle = Duration::seconds(20);
  s.persistence.client = true;
  for (std::int64_t at = 2; at < 18; at += 3) {
    s.faults.push_back(engine_fault(FaultKind::reset, Target{Target::Kind::random_client, 0}, at, 0));
  }
  s.faults.push_back(engine_fault(FaultKind::crash, Target{Target::Kind::servers, 0}, 8, 1));
  s.faults.push_back(engine_fault(FaultKind::crash, Target{Target::Kind::random_client, 0}, 11, 1));
  s.faults.push_back(engine_fault(FaultKind::partition, Target{Target::Kind::random_client, 0}, 4, 5));
  s.faults.push_back(engine_fault(FaultKind::offline, Target{Target::Kind::client, 1}, 3, 15));
  return s;
}

/// The canaries' situation: one client offline for 25 s (longer than any tombstone ttl) while the
/// others add and remove items, and back only after the users stopped, so that nothing re-adds or
/// removes an item it brings back. Enough keys that its own offline edits leave some items alone.
[[maybe_unused]] Scenario engine_offline_removes() {
  Scenario s;
  s.name = "models-b-offline";
  s.workload.clients = 4;
  s.workload.keys = 12;
  s.workload.duration = Duration::seconds(20);
  s.workload.think_time_mean = Duration::millis(800);
  s.workload.remove_share = 400'000;
  s.invariants.settle = Duration::seconds(20);
  s.persistence.client = true;
  s.faults.push_back(engine_fault(FaultKind::offline, Target{Target::Kind::client, 0}, 3, 25));
  return s;
}

}  // namespace

namespace {

void settle_union(testing::Cluster& cluster) {
  for (int round = 0; round < 3; ++round) {
    cluster.deliver_all();
    cluster.fire_timers();
  }
  cluster.deliver_all();
}

bool contains_item(const std::optional<State>& state, std::uint32_t key) {
  return std::any_of(state->items.begin(), state->items.end(), [&](const Item& item) { return item.id.value == key; });
}

}  // namespace

TEST_CASE("union-set-list brings back an item removed while a client was away", "[models][union-set-list]") {
  const ModelRegistry registry = shipped_models();
  const ModelInfo* info = registry.find("union-set-list");
  REQUIRE(info != nullptr);
  REQUIRE(info->breaks == Invariant::resurrection);
  testing::Cluster cluster(*info, 1, 2);
  cluster.user(0, OpKind::list_add, 6);
  settle_union(cluster);
  cluster.disconnect(cluster.client(1));
  cluster.user(0, OpKind::list_remove, 6);
  settle_union(cluster);
  REQUIRE_FALSE(contains_item(cluster.state(cluster.server()), 6));
  cluster.reconnect(cluster.client(1));
  settle_union(cluster);
  REQUIRE(contains_item(cluster.state(cluster.server()), 6));
  REQUIRE(contains_item(cluster.state(cluster.client(0)), 6));
}

TEST_CASE("union-set-list converges and keeps removes while everyone is connected", "[models][union-set-list]") {
  const ModelRegistry registry = shipped_models();
  testing::Cluster cluster(*registry.find("union-set-list"), 1, 2);
  cluster.user(0, OpKind::list_add, 1);
  cluster.user(1, OpKind::list_add, 2);
  settle_union(cluster);
  cluster.user(1, OpKind::list_remove, 1);
  settle_union(cluster);
  REQUIRE_FALSE(contains_item(cluster.state(cluster.server()), 1));
  REQUIRE(cluster.state(cluster.client(0)) == cluster.state(cluster.server()));
  REQUIRE(cluster.state(cluster.client(1)) == cluster.state(cluster.server()));
  REQUIRE(cluster.node(cluster.server()).metadata_bytes() > 0);
}

TEST_CASE("the engine's checkers catch union-set-list resurrecting items", "[models][union-set-list][engine]") {
  const ModelRegistry registry = shipped_models();
  const auto broken = engine_breaks(engine_offline_removes(), *registry.find("union-set-list"), 8);
  REQUIRE(broken.contains(Invariant::resurrection));
  for (const auto& [invariant, seeds] : broken) {
    INFO(to_string(invariant) << " on " << seeds << " seeds");
    CHECK(invariant == Invariant::resurrection);
  }
}
