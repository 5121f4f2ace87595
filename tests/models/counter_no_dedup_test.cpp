// counter-no-dedup: it counts correctly when nothing goes wrong, survives the faults a plain outbox
// handles, and double-counts exactly when an acknowledgement is lost (its documented bug).
#include <algorithm>
#include <map>
#include <set>

#include <catch2/catch.hpp>

#include "models/model.hpp"
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

const ModelInfo& model() { return testing::shipped_model("counter-no-dedup"); }

std::int64_t value(testing::Cluster& c, NodeId node) { return c.state(node)->counter; }

}  // namespace

TEST_CASE("counter-no-dedup counts every increment once when no acknowledgement is lost",
          "[models][counter-no-dedup]") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    testing::Cluster c(model(), 1, 3);
    Rng rng(seed);
    std::int64_t sum = 0;
    for (int step = 0; step < 12; ++step) {
      const std::int64_t amount = rng.between(-3, 5);
      sum += amount;
      c.user(static_cast<std::uint32_t>(rng.below(3)), OpKind::counter_add, 0, amount);
      // In-order delivery: the model relies on the stream's order, as a WebSocket gives it.
      c.deliver_all(rng.below(4));
    }
    c.deliver_all();
    REQUIRE(value(c, c.server()) == sum);
    for (std::uint32_t i = 0; i < 3; ++i) REQUIRE(value(c, c.client(i)) == sum);
  }
}

TEST_CASE("counter-no-dedup double-counts an increment whose acknowledgement was lost",
          "[models][counter-no-dedup]") {
  testing::Cluster c(model(), 1, 2);
  const Operation op = c.user(0, OpKind::counter_add, 0, 5);
  REQUIRE(c.deliver_all(1) == 1);  // the server counted the delta...
  c.disconnect(c.client(0));       // ...and its acknowledgement is lost with the connection
  c.reconnect(c.client(0));        // the client resends the delta it still holds
  c.deliver_all();
  REQUIRE(value(c, c.server()) == 10);
  REQUIRE(value(c, c.client(0)) == 10);
  REQUIRE(value(c, c.client(1)) == 10);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 1);
}

TEST_CASE("counter-no-dedup sends increments made offline once reconnected", "[models][counter-no-dedup]") {
  testing::Cluster c(model(), 1, 2);
  c.disconnect(c.client(0));
  const Operation op = c.user(0, OpKind::counter_add, 0, 4);
  REQUIRE(value(c, c.client(0)) == 4);
  c.reconnect(c.client(0));
  c.deliver_all();
  REQUIRE(value(c, c.server()) == 4);
  REQUIRE(value(c, c.client(1)) == 4);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 1);
  REQUIRE(count(c, c.client(1), op.id, Lifecycle::seen) == 1);
}

TEST_CASE("counter-no-dedup keeps pending increments across a client crash with persistence",
          "[models][counter-no-dedup]") {
  testing::Cluster c(model(), 1, 1);
  c.disconnect(c.client(0));
  c.user(0, OpKind::counter_add, 0, 3);
  c.crash_restart(c.client(0), true);
  REQUIRE(value(c, c.client(0)) == 3);
  c.reconnect(c.client(0));
  c.deliver_all();
  REQUIRE(value(c, c.server()) == 3);
}

TEST_CASE("counter-no-dedup ignores malformed messages", "[models][counter-no-dedup]") {
  testing::Cluster c(model(), 1, 1);
  for (std::string junk : {std::string(), std::string("\x01"), std::string("\x02\x01"), std::string("\x03")}) {
    c.node(c.client(0)).on_message(c.context(c.client(0)), c.server(), junk);
    c.node(c.server()).on_message(c.context(c.server()), c.client(0), junk);
  }
  REQUIRE(value(c, c.client(0)) == 0);
  REQUIRE(value(c, c.server()) == 0);
}

TEST_CASE("counter-no-dedup's timer resends a delta only after it waited a whole period",
          "[models][counter-no-dedup]") {
  testing::Cluster c(model(), 1, 1);
  c.user(0, OpKind::counter_add, 0, 5);
  c.fire_timers();  // the delta is still in flight and young: not resent
  c.deliver_all();
  REQUIRE(value(c, c.server()) == 5);
  c.disconnect(c.client(0));  // drops nothing in flight now, but the next delta's ack is lost below
  c.reconnect(c.client(0));
  c.deliver_all();
  c.user(0, OpKind::counter_add, 0, 2);
  REQUIRE(c.deliver_all(1) == 1);  // counted; its acknowledgement waits in the queue
  c.queue.clear();                 // and is lost (a datagram link)
  c.fire_timers();                 // one period: still young
  c.fire_timers();                 // two periods: resent, and counted again
  c.deliver_all();
  REQUIRE(value(c, c.server()) == 9);
}

TEST_CASE("counter-no-dedup servers agree through shared contributions", "[models][counter-no-dedup]") {
  testing::Cluster c(model(), 2, 2);  // the harness connects every client to server 0
  c.user(0, OpKind::counter_add, 0, 4);
  c.user(1, OpKind::counter_add, 0, 1);
  c.deliver_all();
  REQUIRE(value(c, c.server(1)) == 5);
  c.crash_restart(c.server(1), false);
  c.fire_timers();
  c.deliver_all();
  REQUIRE(value(c, c.server(1)) == 5);
}

TEST_CASE("the engine's checkers catch counter-no-dedup double-counting after connection resets",
          "[models][counter-no-dedup][engine]") {
  const std::map<Invariant, int> broken = testing::engine_breaks(rough_scenario(), model(), 5);
  REQUIRE(broken.count(Invariant::phantom_or_double_applied) == 1);
  // Without faults every acknowledgement arrives and nothing is counted twice.
  REQUIRE(testing::engine_breaks(small_scenario(), model(), 3).empty());
}
