// tombstone-ttl-list: the canary. Tombstones expire after 10 s of local clock, so a client that was
// offline longer than that brings a removed item back; the correct or-set-list does not.
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

void settle_ttl(testing::Cluster& cluster) {
  for (int round = 0; round < 4; ++round) {
    cluster.deliver_all();
    cluster.fire_timers();
  }
  cluster.deliver_all();
}

bool holds(const std::optional<State>& state, std::uint32_t key) {
  return std::any_of(state->items.begin(), state->items.end(), [&](const Item& item) { return item.id.value == key; });
}

/// Client 2 sees item 4, goes offline for `offline`, client 1 removes the item meanwhile, client 2
/// returns. Returns whether the server shows the item at the end.
bool item_back_after(const char* name, Duration offline) {
  const ModelRegistry registry = shipped_models();
  testing::Cluster cluster(*registry.find(name), 1, 3);
  cluster.user(0, OpKind::list_add, 4);
  settle_ttl(cluster);
  cluster.disconnect(cluster.client(2));
  cluster.user(1, OpKind::list_remove, 4);
  settle_ttl(cluster);
  cluster.now += offline;
  settle_ttl(cluster);
  cluster.reconnect(cluster.client(2));
  settle_ttl(cluster);
  return holds(cluster.state(cluster.server()), 4);
}

}  // namespace

TEST_CASE("tombstone-ttl-list resurrects an item when a client was offline longer than the ttl",
          "[models][tombstone-ttl-list]") {
  const ModelRegistry registry = shipped_models();
  const ModelInfo* info = registry.find("tombstone-ttl-list");
  REQUIRE(info != nullptr);
  REQUIRE_FALSE(info->correct);
  REQUIRE(info->breaks == Invariant::resurrection);
  REQUIRE(item_back_after("tombstone-ttl-list", Duration::seconds(30)));
}

TEST_CASE("tombstone-ttl-list keeps the remove when the client returns within the ttl", "[models][tombstone-ttl-list]") {
  REQUIRE_FALSE(item_back_after("tombstone-ttl-list", Duration::seconds(2)));
}

TEST_CASE("or-set-list does not resurrect in the ttl canary's situation", "[models][tombstone-ttl-list][or-set-list]") {
  REQUIRE_FALSE(item_back_after("or-set-list", Duration::seconds(30)));
}

TEST_CASE("the engine's checkers catch tombstone-ttl-list resurrecting items", "[models][tombstone-ttl-list][engine]") {
  const ModelRegistry registry = shipped_models();
  const auto broken = engine_breaks(engine_offline_removes(), *registry.find("tombstone-ttl-list"), 8);
  REQUIRE(broken.contains(Invariant::resurrection));
  for (const auto& [invariant, seeds] : broken) {
    INFO(to_string(invariant) << " on " << seeds << " seeds");
    CHECK(invariant == Invariant::resurrection);
  }
}
