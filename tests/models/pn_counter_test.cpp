// pn-counter: convergence, resends after lost answers, crashes with and without persistence,
// lifecycle, and the lattice laws of the PN-counter state.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "models/model.hpp"
#include "models/crdt/pn_counter.hpp"
#include "sim/engine/simulation.hpp"
#include "tests/models/engine_situations.hpp"
#include "tests/models/harness.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

namespace {

using testing::count;
using testing::add_fault;
using testing::rough_scenario;
using testing::small_scenario;

const ModelInfo& model() { return testing::shipped_model("pn-counter"); }

std::int64_t value(testing::Cluster& c, NodeId node) { return c.state(node)->counter; }

/// (replica, amount) pairs drawn small, so that replicas collide and amounts have both signs.
using Raw = std::vector<std::tuple<std::uint8_t, std::int8_t>>;

pn::Counter make_counter(const Raw& raw) {
  pn::Counter counter;
  for (const auto& [replica, amount] : raw) counter.add(replica % 3u, amount % 5);
  return counter;
}

pn::Counter merged(pn::Counter a, const pn::Counter& b) {
  a.merge(b);
  return a;
}

}  // namespace

TEST_CASE("pn-counter converges to the sum of every increment after shuffled delivery", "[models][pn-counter]") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    testing::Cluster c(model(), 1, 3);
    Rng rng(seed);
    std::int64_t sum = 0;
    for (int step = 0; step < 12; ++step) {
      const std::int64_t amount = rng.between(-3, 5);
      sum += amount;
      c.user(static_cast<std::uint32_t>(rng.below(3)), OpKind::counter_add, 0, amount);
      c.deliver_shuffled(rng, rng.below(4));
    }
    c.deliver_shuffled(rng);
    REQUIRE(value(c, c.server()) == sum);
    for (std::uint32_t i = 0; i < 3; ++i) REQUIRE(value(c, c.client(i)) == sum);
  }
}

TEST_CASE("pn-counter counts an increment once when its answer is lost and it is resent", "[models][pn-counter]") {
  testing::Cluster c(model(), 1, 2);
  const Operation op = c.user(0, OpKind::counter_add, 0, 5);
  REQUIRE(c.deliver_all(1) == 1);  // the server counted it and answered...
  c.disconnect(c.client(0));       // ...but the answer is lost with the connection
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 0);
  c.reconnect(c.client(0));
  c.deliver_all();
  c.fire_timers();  // a timer resend on top changes nothing either
  c.deliver_all();
  REQUIRE(value(c, c.server()) == 5);
  REQUIRE(value(c, c.client(0)) == 5);
  REQUIRE(value(c, c.client(1)) == 5);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 1);
}

TEST_CASE("pn-counter sends increments made offline once reconnected", "[models][pn-counter]") {
  testing::Cluster c(model(), 1, 2);
  c.disconnect(c.client(0));
  const Operation op = c.user(0, OpKind::counter_add, 0, -4);
  c.deliver_all();
  REQUIRE(value(c, c.server()) == 0);
  c.reconnect(c.client(0));
  c.deliver_all();
  REQUIRE(value(c, c.client(1)) == -4);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 1);
}

TEST_CASE("pn-counter keeps unacknowledged increments across a client crash with persistence",
          "[models][pn-counter]") {
  testing::Cluster c(model(), 1, 1);
  c.disconnect(c.client(0));
  const Operation op = c.user(0, OpKind::counter_add, 0, 3);
  c.crash_restart(c.client(0), true);
  REQUIRE(value(c, c.client(0)) == 3);
  c.reconnect(c.client(0));
  c.deliver_all();
  REQUIRE(value(c, c.server()) == 3);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 1);
}

TEST_CASE("pn-counter never masks new increments of a client restarted without its store",
          "[models][pn-counter]") {
  testing::Cluster c(model(), 1, 1);
  c.user(0, OpKind::counter_add, 0, 5);
  c.deliver_all();
  c.crash_restart(c.client(0), false);
  // The user adds before the server's catch-up arrives: a replica reusing its old id would write
  // totals smaller than the server's, and the maximum would swallow this increment.
  c.user(0, OpKind::counter_add, 0, 2);
  c.deliver_all();
  REQUIRE(value(c, c.server()) == 7);
  REQUIRE(value(c, c.client(0)) == 7);
}

TEST_CASE("pn-counter relearns its state from clients after a server loses it", "[models][pn-counter]") {
  testing::Cluster c(model(), 1, 2);
  c.user(0, OpKind::counter_add, 0, 5);
  c.user(1, OpKind::counter_add, 0, 1);
  c.deliver_all();
  c.crash_restart(c.server(), false);
  REQUIRE(value(c, c.server()) == 0);
  for (std::uint32_t i = 0; i < 2; ++i) {
    c.node(c.client(i)).on_connected(c.context(c.client(i)), c.server());
    c.node(c.server()).on_connected(c.context(c.server()), c.client(i));
  }
  c.deliver_all();
  REQUIRE(value(c, c.server()) == 6);
  REQUIRE(value(c, c.client(1)) == 6);
}

TEST_CASE("pn-counter reports applied at once and acknowledged after the server's answer", "[models][pn-counter]") {
  testing::Cluster c(model(), 1, 1);
  const Operation op = c.user(0, OpKind::counter_add, 0, 1);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::applied) == 1);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 0);
  c.deliver_all();
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 1);
}

TEST_CASE("pn-counter ignores malformed messages", "[models][pn-counter]") {
  testing::Cluster c(model(), 1, 1);
  c.user(0, OpKind::counter_add, 0, 2);
  for (std::string junk : {std::string(), std::string("\x01"), std::string("\x01\x05\x00\x00\x00\x01", 6)}) {
    c.node(c.client(0)).on_message(c.context(c.client(0)), c.server(), junk);
    c.node(c.server()).on_message(c.context(c.server()), c.client(0), junk);
  }
  REQUIRE(value(c, c.client(0)) == 2);
  REQUIRE(value(c, c.server()) == 0);
}

TEST_CASE("the pn-counter merge is a semilattice", "[models][pn-counter][crdt]") {
  rc::prop("merge is commutative", [](const Raw& a, const Raw& b) {
    RC_ASSERT(merged(make_counter(a), make_counter(b)) == merged(make_counter(b), make_counter(a)));
  });
  rc::prop("merge is associative", [](const Raw& a, const Raw& b, const Raw& c) {
    const pn::Counter x = make_counter(a), y = make_counter(b), z = make_counter(c);
    RC_ASSERT(merged(merged(x, y), z) == merged(x, merged(y, z)));
  });
  rc::prop("merge is idempotent", [](const Raw& a) {
    const pn::Counter x = make_counter(a);
    RC_ASSERT(merged(x, x) == x);
  });
  rc::prop("replicas that merge each other's states in any order agree on the sum", [](const Raw& a, std::uint64_t seed) {
    // Each replica applies its own increments; then states travel in a random order of merges.
    std::vector<pn::Counter> replicas(3);
    std::int64_t sum = 0;
    for (const auto& [replica, amount] : a) {
      replicas[replica % 3u].add(replica % 3u, amount % 5);
      sum += amount % 5;
    }
    Rng rng(seed);
    for (int i = 0; i < 12; ++i) replicas[rng.below(3)].merge(replicas[rng.below(3)]);
    for (int round = 0; round < 2; ++round) {
      for (std::size_t to = 0; to < 3; ++to) {
        for (std::size_t from = 0; from < 3; ++from) replicas[to].merge(replicas[from]);
      }
    }
    for (const pn::Counter& r : replicas) RC_ASSERT(r.value() == sum);
  });
}

TEST_CASE("pn-counter repairs a lost relay through the periodic digest sync", "[models][pn-counter]") {
  testing::Cluster c(model(), 1, 2);
  c.user(0, OpKind::counter_add, 0, 3);
  REQUIRE(c.deliver_all(1) == 1);
  std::erase_if(c.queue, [&](const testing::Envelope& e) { return e.to == c.client(1); });  // relay lost
  c.deliver_all();
  REQUIRE(value(c, c.client(1)) == 0);
  c.fire_timers();
  c.deliver_all();
  REQUIRE(value(c, c.client(1)) == 3);
}

TEST_CASE("pn-counter servers converge through relays and anti-entropy", "[models][pn-counter]") {
  testing::Cluster c(model(), 2, 2);  // the harness connects every client to server 0
  c.user(0, OpKind::counter_add, 0, 4);
  c.user(1, OpKind::counter_add, 0, -1);
  c.deliver_all();
  REQUIRE(value(c, c.server(1)) == 3);
  c.crash_restart(c.server(1), false);
  c.deliver_all();
  c.fire_timers();
  c.deliver_all();
  REQUIRE(value(c, c.server(1)) == 3);
}

TEST_CASE("pn-counter reports another client's increment seen once, and never its own",
          "[models][pn-counter]") {
  testing::Cluster c(model(), 1, 2);
  const Operation op = c.user(0, OpKind::counter_add, 0, 2);
  c.deliver_all();
  c.fire_timers();
  c.deliver_all();
  REQUIRE(count(c, c.client(1), op.id, Lifecycle::seen) == 1);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::seen) == 0);
}

TEST_CASE("pn-counter breaks no invariant in the engine under resets, crashes and a partition",
          "[models][pn-counter][engine]") {
  REQUIRE(testing::engine_breaks(rough_scenario(), model(), 5).empty());
  Scenario lossy = small_scenario();
  lossy.network.client_link = LinkKind::datagram;
  lossy.network.drop = 100'000;
  lossy.network.duplicate = 50'000;
  lossy.network.reorder = 100'000;
  REQUIRE(testing::engine_breaks(lossy, model(), 5).empty());
}
