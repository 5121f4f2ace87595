// server-authoritative and server-authoritative-silent: optimistic concurrency control on the
// harness. Convergence, rejection with rollback (told or silent), chained writes, resends after lost
// answers, crashes and lifecycle.
#include <algorithm>
#include <map>
#include <set>

#include <catch2/catch.hpp>

#include "models/model.hpp"
#include "sim/engine/simulation.hpp"
#include "tests/models/engine_situations.hpp"
#include "tests/models/harness.hpp"
#include "tests/printers.hpp"
#include "tests/shipped_scenario.hpp"

using namespace syncstorm;

namespace {

using testing::count;
using testing::field;
using testing::add_fault;
using testing::rough_scenario;
using testing::small_scenario;

const ModelInfo& model(const char* name) { return testing::shipped_model(name); }

std::size_t count_all(const testing::Cluster& c, Lifecycle lifecycle) {
  return static_cast<std::size_t>(
      std::count_if(c.reports.begin(), c.reports.end(), [&](const testing::Report& r) { return r.lifecycle == lifecycle; }));
}

}  // namespace

TEST_CASE("server-authoritative converges after writes delivered in a shuffled order",
          "[models][server-authoritative]") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    testing::Cluster c(model("server-authoritative"), 1, 3);
    Rng rng(seed);
    std::vector<Operation> ops;
    for (int step = 0; step < 12; ++step) {
      ops.push_back(c.user(static_cast<std::uint32_t>(rng.below(3)), OpKind::map_set,
                           static_cast<std::uint32_t>(rng.below(3))));
      c.deliver_shuffled(rng, rng.below(4));
    }
    c.deliver_shuffled(rng);
    REQUIRE(testing::all_agree(c, 3));
    // Every write got exactly one answer, and the user heard it.
    for (const Operation& op : ops) {
      REQUIRE(count(c, op.client, op.id, Lifecycle::acknowledged) + count(c, op.client, op.id, Lifecycle::rejected) == 1);
    }
  }
}

TEST_CASE("server-authoritative rejects a write based on a stale version and rolls it back",
          "[models][server-authoritative]") {
  testing::Cluster c(model("server-authoritative"), 1, 2);
  const Operation first = c.user(0, OpKind::map_set, 1);
  const Operation stale = c.user(1, OpKind::map_set, 1);  // client 1 has not seen the first write
  REQUIRE(field(c.state(c.client(1)), 1) == stale.id);    // optimistic: shown at once
  c.deliver_all();
  REQUIRE(count(c, c.client(0), first.id, Lifecycle::acknowledged) == 1);
  REQUIRE(count(c, c.client(1), stale.id, Lifecycle::rejected) == 1);
  REQUIRE(count(c, c.client(1), stale.id, Lifecycle::acknowledged) == 0);
  REQUIRE(field(c.state(c.client(1)), 1) == first.id);  // rolled back to the server's value
  REQUIRE(testing::all_agree(c, 2));
}

TEST_CASE("server-authoritative accepts a write based on the version its writer has seen",
          "[models][server-authoritative]") {
  testing::Cluster c(model("server-authoritative"), 1, 2);
  c.user(0, OpKind::map_set, 1);
  c.deliver_all();
  const Operation informed = c.user(1, OpKind::map_set, 1);
  c.deliver_all();
  REQUIRE(count(c, c.client(1), informed.id, Lifecycle::acknowledged) == 1);
  REQUIRE(field(c.state(c.server()), 1) == informed.id);
}

TEST_CASE("server-authoritative accepts a client's consecutive writes to one field", "[models][server-authoritative]") {
  testing::Cluster c(model("server-authoritative"), 1, 1);
  const Operation a = c.user(0, OpKind::map_set, 1);
  const Operation b = c.user(0, OpKind::map_set, 1);  // based on the same version as `a`
  c.deliver_all();
  REQUIRE(count(c, c.client(0), a.id, Lifecycle::acknowledged) == 1);
  REQUIRE(count(c, c.client(0), b.id, Lifecycle::acknowledged) == 1);
  REQUIRE(field(c.state(c.server()), 1) == b.id);
  REQUIRE(testing::all_agree(c, 1));
}

TEST_CASE("server-authoritative answers a resend after a lost answer without applying it again",
          "[models][server-authoritative]") {
  testing::Cluster c(model("server-authoritative"), 1, 2);
  const Operation op = c.user(0, OpKind::map_set, 1);
  REQUIRE(c.deliver_all(1) == 1);  // accepted, but the answer is lost with the connection
  c.disconnect(c.client(0));
  c.reconnect(c.client(0));
  c.deliver_all();
  c.fire_timers();
  c.deliver_all();
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 1);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::rejected) == 0);
  // Another client that saw version 1 can still write: the resend did not bump the version.
  const Operation next = c.user(1, OpKind::map_set, 1);
  c.deliver_all();
  REQUIRE(count(c, c.client(1), next.id, Lifecycle::acknowledged) == 1);
  REQUIRE(testing::all_agree(c, 2));
}

TEST_CASE("server-authoritative sends offline writes once reconnected", "[models][server-authoritative]") {
  testing::Cluster c(model("server-authoritative"), 1, 2);
  c.disconnect(c.client(0));
  const Operation op = c.user(0, OpKind::map_set, 4);
  c.reconnect(c.client(0));
  c.deliver_all();
  REQUIRE(field(c.state(c.client(1)), 4) == op.id);
  REQUIRE(count(c, c.client(1), op.id, Lifecycle::seen) == 1);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 1);
}

TEST_CASE("server-authoritative keeps pending writes across a client crash with persistence",
          "[models][server-authoritative]") {
  testing::Cluster c(model("server-authoritative"), 1, 1);
  c.disconnect(c.client(0));
  const Operation op = c.user(0, OpKind::map_set, 2);
  c.crash_restart(c.client(0), true);
  REQUIRE(field(c.state(c.client(0)), 2) == op.id);
  c.reconnect(c.client(0));
  c.deliver_all();
  REQUIRE(field(c.state(c.server()), 2) == op.id);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 1);
}

TEST_CASE("server-authoritative keeps accepted writes and answers across a server crash with persistence",
          "[models][server-authoritative]") {
  testing::Cluster c(model("server-authoritative"), 1, 1);
  const Operation op = c.user(0, OpKind::map_set, 2);
  REQUIRE(c.deliver_all(1) == 1);
  c.disconnect(c.client(0));  // the answer is lost
  c.crash_restart(c.server(), true);
  REQUIRE(field(c.state(c.server()), 2) == op.id);
  c.reconnect(c.client(0));
  c.deliver_all();
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 1);
}

TEST_CASE("server-authoritative ignores malformed messages", "[models][server-authoritative]") {
  testing::Cluster c(model("server-authoritative"), 1, 1);
  const Operation op = c.user(0, OpKind::map_set, 1);
  for (std::string junk : {std::string(), std::string("\x01"), std::string("\x02\x01"), std::string("\x04\xff\xff\xff\x7f", 5),
                           std::string("\x05\x01")}) {
    c.node(c.client(0)).on_message(c.context(c.client(0)), c.server(), junk);
    c.node(c.server()).on_message(c.context(c.server()), c.client(0), junk);
  }
  REQUIRE(field(c.state(c.client(0)), 1) == op.id);
  REQUIRE(c.state(c.server())->fields.empty());
}

TEST_CASE("server-authoritative-silent rolls back a rejected write without telling its user",
          "[models][server-authoritative-silent]") {
  testing::Cluster c(model("server-authoritative-silent"), 1, 2);
  c.user(0, OpKind::map_set, 1);
  const Operation stale = c.user(1, OpKind::map_set, 1);
  c.deliver_all();
  REQUIRE(count(c, c.client(1), stale.id, Lifecycle::applied) == 1);
  REQUIRE(count_all(c, Lifecycle::rejected) == 0);
  REQUIRE(count(c, c.client(1), stale.id, Lifecycle::acknowledged) == 0);
  REQUIRE(field(c.state(c.client(1)), 1) != stale.id);  // it vanished from the user's screen
  REQUIRE(testing::all_agree(c, 2));
}

TEST_CASE("server-authoritative keeps a client's newer write when its older one arrives late",
          "[models][server-authoritative]") {
  testing::Cluster c(model("server-authoritative"), 1, 1);
  const Operation older = c.user(0, OpKind::map_set, 1);
  const Operation newer = c.user(0, OpKind::map_set, 1);
  std::swap(c.queue[0], c.queue[1]);  // a datagram link reorders them
  c.deliver_all();
  REQUIRE(field(c.state(c.server()), 1) == newer.id);
  REQUIRE(count(c, c.client(0), older.id, Lifecycle::acknowledged) == 1);
  REQUIRE(count(c, c.client(0), newer.id, Lifecycle::acknowledged) == 1);
  REQUIRE(testing::all_agree(c, 1));
}

TEST_CASE("server-authoritative decides a client's writes in the order made, and never shows an older one over a newer",
          "[models][server-authoritative]") {
  // On a datagram link: the older write's message is lost, the newer one arrives alone. Deciding it
  // first would leave the older one pending on top of it on the user's screen (read-your-writes),
  // then land after it or be rejected. The server keeps it until the resend brings the older one.
  testing::Cluster c(model("server-authoritative"), 1, 1);
  const Operation older = c.user(0, OpKind::map_set, 1);
  const Operation newer = c.user(0, OpKind::map_set, 1);
  REQUIRE(c.queue.size() == 2);
  c.queue.pop_front();  // the older write is lost
  c.deliver_all();
  CHECK_FALSE(field(c.state(c.server()), 1).has_value());
  CHECK(count(c, c.client(0), newer.id, Lifecycle::acknowledged) == 0);
  c.fire_timers();  // the client resends both, in order
  while (!c.queue.empty() && c.queue.front().to == c.server()) c.deliver_all(1);
  REQUIRE(field(c.state(c.server()), 1) == newer.id);
  // The answers come back reordered: the newer one's first. The screen keeps the newer value.
  std::erase_if(c.queue, [&](const testing::Envelope& e) { return e.to != c.client(0); });
  REQUIRE(c.queue.size() >= 2);
  std::reverse(c.queue.begin(), c.queue.end());
  while (!c.queue.empty() && count(c, c.client(0), newer.id, Lifecycle::acknowledged) == 0) c.deliver_all(1);
  REQUIRE(count(c, c.client(0), newer.id, Lifecycle::acknowledged) == 1);
  REQUIRE(count(c, c.client(0), older.id, Lifecycle::acknowledged) == 0);  // still pending here
  CHECK(field(c.state(c.client(0)), 1) == newer.id);
  c.deliver_all();
  CHECK(count(c, c.client(0), older.id, Lifecycle::acknowledged) == 1);
  CHECK(field(c.state(c.client(0)), 1) == newer.id);
}

TEST_CASE("server-authoritative does not answer a late duplicate of a write its client has moved past",
          "[models][server-authoritative]") {
  testing::Cluster c(model("server-authoritative"), 1, 1);
  c.user(0, OpKind::map_set, 1);
  const testing::Envelope duplicate = c.queue.back();
  c.deliver_all();
  c.user(0, OpKind::map_set, 2);  // names a newer oldest-pending op: the first one is forgotten
  c.deliver_all();
  const State before = *c.state(c.server());
  c.node(c.server()).on_message(c.context(c.server()), duplicate.from, duplicate.payload);
  REQUIRE(c.queue.empty());
  REQUIRE(*c.state(c.server()) == before);
}

TEST_CASE("server-authoritative repairs a lost broadcast through the periodic digest sync",
          "[models][server-authoritative]") {
  testing::Cluster c(model("server-authoritative"), 1, 2);
  const Operation op = c.user(0, OpKind::map_set, 1);
  REQUIRE(c.deliver_all(1) == 1);
  std::erase_if(c.queue, [&](const testing::Envelope& e) { return e.to == c.client(1); });  // broadcast lost
  c.deliver_all();
  c.fire_timers();
  c.deliver_all();
  REQUIRE(field(c.state(c.client(1)), 1) == op.id);
}

TEST_CASE("server-authoritative clients take the server's writes in order: one overtaking a lost one waits",
          "[models][server-authoritative]") {
  // Client 0 writes field 1, then field 2. Over datagrams client 1 gets the second broadcast while
  // the first is lost: showing field 2 alone would show the user's later write without the earlier
  // one (monotonic writes). It waits for the whole state its next sync brings.
  testing::Cluster c(model("server-authoritative"), 1, 2);
  const Operation first = c.user(0, OpKind::map_set, 1);
  const Operation second = c.user(0, OpKind::map_set, 2);
  c.deliver_all(2);  // both writes reach the server; the answers and broadcasts are queued
  REQUIRE(field(c.state(c.server()), 2) == second.id);
  const auto to_client1 = [&](const testing::Envelope& e) { return e.to == c.client(1); };
  REQUIRE(std::count_if(c.queue.begin(), c.queue.end(), to_client1) == 2);
  c.queue.erase(std::find_if(c.queue.begin(), c.queue.end(), to_client1));  // the first broadcast is lost
  c.deliver_all();
  CHECK_FALSE(field(c.state(c.client(1)), 2).has_value());  // held
  CHECK_FALSE(field(c.state(c.client(1)), 1).has_value());
  c.fire_timers();  // the held write asks for the state at once
  c.deliver_all();
  CHECK(field(c.state(c.client(1)), 1) == first.id);
  CHECK(field(c.state(c.client(1)), 2) == second.id);

  // Its own accepted write waiting for an earlier one still shows on its user's screen.
  const Operation other = c.user(1, OpKind::map_set, 3);
  c.deliver_all(1);  // client 1's write reaches the server
  constexpr char kBroadcastTag = 11;
  REQUIRE(std::erase_if(c.queue, [&](const testing::Envelope& e) { return e.to == c.client(0) && e.payload[0] == kBroadcastTag; }) == 1);
  const Operation own = c.user(0, OpKind::map_set, 4);  // accepted as the write after the lost one
  c.deliver_all();
  CHECK(count(c, c.client(0), own.id, Lifecycle::acknowledged) == 1);
  CHECK(field(c.state(c.client(0)), 4) == own.id);
  CHECK_FALSE(field(c.state(c.client(0)), 3).has_value());
  c.fire_timers();
  c.deliver_all();
  CHECK(field(c.state(c.client(0)), 3) == other.id);
  CHECK(field(c.state(c.client(0)), 4) == own.id);
}

TEST_CASE("server-authoritative servers converge when clients write through both", "[models][server-authoritative]") {
  testing::Cluster c(model("server-authoritative"), 2, 2);
  c.user(0, OpKind::map_set, 1);
  c.user(1, OpKind::map_set, 2);
  c.deliver_all();
  REQUIRE(c.state(c.server(1)) == c.state(c.server(0)));
  REQUIRE(testing::all_agree(c, 2));
}

/// The writes of a run its users saw applied but were never told the fate of.
static std::vector<OpId> unresolved(const History& history) {
  std::vector<OpId> ops;
  for (const OpRecord& r : history.ops) {
    if (r.applied && !r.acknowledged && !r.rejected) ops.push_back(r.op.id);
  }
  return ops;
}

TEST_CASE("server-authoritative breaks no invariant and answers every write in the engine",
          "[models][server-authoritative][engine]") {
  const Scenario scenario = rough_scenario();
  REQUIRE(testing::engine_breaks(scenario, model("server-authoritative"), 5).empty());
  const Schedule schedule = make_schedule(scenario, DataType::map, 1);
  const RunResult r = run_simulation(scenario, model("server-authoritative"), schedule, 1);
  REQUIRE(r.metrics.rejected > 0);  // the scenario does make users collide
  REQUIRE(unresolved(r.history).empty());
}

TEST_CASE("server-authoritative-silent leaves rolled-back writes unanswered in the engine",
          "[models][server-authoritative-silent][engine]") {
  const Scenario scenario = small_scenario();
  const Schedule schedule = make_schedule(scenario, DataType::map, 1);
  const RunResult r = run_simulation(scenario, model("server-authoritative-silent"), schedule, 1);
  REQUIRE(r.metrics.rejected == 0);
  const std::vector<OpId> lost = unresolved(r.history);
  REQUIRE_FALSE(lost.empty());
  // Each of them is gone from its own user's screen.
  for (OpId id : lost) {
    const OpRecord& rec = r.history.record(id);
    for (const NodeFinal& f : r.history.finals) {
      if (f.node != rec.op.client || !f.state) continue;
      for (const auto& [key, value] : f.state->fields) REQUIRE(value != id);
    }
  }
}

namespace {

/// Sends every queued client message meant for the leader to the follower instead: the client is
/// connected to the follower (the harness connects clients to the first server).
void through_follower(testing::Cluster& c) {
  for (testing::Envelope& e : c.queue) {
    if (e.to == c.server(0) && e.from != c.server(1)) e.to = c.server(1);
  }
}

}  // namespace

TEST_CASE("server-authoritative decides at the leader only: two servers never both accept writes on one version",
          "[models][server-authoritative]") {
  // With each server deciding on its own, two clients on different servers writing the same field
  // from the same version were both accepted, and one acknowledged write was overwritten by the
  // other; after a partition between the servers, by an older one. The leader now decides every
  // write, the follower forwards it and relays the answer.
  testing::Cluster c(model("server-authoritative"), 2, 2);
  const Operation via_follower = c.user(0, OpKind::map_set, 1);
  through_follower(c);
  const Operation via_leader = c.user(1, OpKind::map_set, 1);
  c.deliver_all();
  const std::size_t accepted = count(c, c.client(0), via_follower.id, Lifecycle::acknowledged) +
                               count(c, c.client(1), via_leader.id, Lifecycle::acknowledged);
  const std::size_t rejected = count(c, c.client(0), via_follower.id, Lifecycle::rejected) +
                               count(c, c.client(1), via_leader.id, Lifecycle::rejected);
  CHECK(accepted == 1);
  CHECK(rejected == 1);
  // The direct one reached the leader first; the forwarded one was based on a version since gone.
  CHECK(count(c, c.client(1), via_leader.id, Lifecycle::acknowledged) == 1);
  REQUIRE(c.state(c.server(1)) == c.state(c.server(0)));
  CHECK(field(c.state(c.server(1)), 1) == via_leader.id);
  CHECK(c.state(c.client(0)) == c.state(c.server(0)));  // the rejection came back through the follower
}

TEST_CASE("server-authoritative's follower catches up on what it missed while down", "[models][server-authoritative]") {
  testing::Cluster c(model("server-authoritative"), 2, 1);
  const Operation first = c.user(0, OpKind::map_set, 1);
  c.deliver_all();
  REQUIRE(field(c.state(c.server(1)), 1) == first.id);
  const Operation second = c.user(0, OpKind::map_set, 2);
  REQUIRE(c.deliver_all(1) == 1);  // the leader decides it
  std::erase_if(c.queue, [&](const testing::Envelope& e) { return e.to == c.server(1); });  // the follower is down
  c.deliver_all();
  c.restart(c.server(1), true);  // back: it asks the leader for every field
  c.deliver_all();
  CHECK(field(c.state(c.server(1)), 2) == second.id);
  CHECK(c.state(c.server(1)) == c.state(c.server(0)));
}

TEST_CASE("server-authoritative keeps its order promises over datagram links", "[models][server-authoritative][engine]") {
  // Before its writes were numbered, every seed of datagram-relay broke monotonic writes and writes
  // follow reads: a client took each field's newest version as it arrived.
  const Scenario scenario = testing::shipped_scenario("datagram-relay");
  const ModelInfo& sa = model("server-authoritative");
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const RunResult r = run_simulation(scenario, sa, make_schedule(scenario, sa, seed), seed);
    REQUIRE(r.history.writes_in_order);
    REQUIRE(r.history.writes_follow_reads);
    INFO("seed " << seed);
    CHECK(r.violations.empty());
  }
}
