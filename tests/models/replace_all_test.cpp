// replace-all: its server is correct (ordered, de-duplicated, durable), and its client reducer
// destroys what a partial update does not name, pending writes included, without a word.
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
using testing::field;
using testing::add_fault;
using testing::rough_scenario;
using testing::small_scenario;

const ModelInfo& model() { return testing::shipped_model("replace-all"); }

}  // namespace

TEST_CASE("replace-all destroys a pending local write when another field's update arrives",
          "[models][replace-all]") {
  testing::Cluster c(model(), 1, 2);
  const Operation other = c.user(1, OpKind::map_set, 2);
  REQUIRE(c.deliver_all(1) == 1);  // the server takes client 1's write and pushes a patch for field 2
  const Operation mine = c.user(0, OpKind::map_set, 1);  // client 0 writes field 1, not yet sent
  REQUIRE(field(c.state(c.client(0)), 1) == mine.id);
  // Deliver the server's patches only: client 0's own write stays in flight.
  while (!c.queue.empty() && c.queue.front().from == c.server()) {
    auto e = c.queue.front();
    c.queue.pop_front();
    c.node(e.to).on_message(c.context(e.to), e.from, e.payload);
  }
  REQUIRE(field(c.state(c.client(0)), 2) == other.id);
  REQUIRE_FALSE(field(c.state(c.client(0)), 1).has_value());  // the pending write vanished...
  REQUIRE(count(c, c.client(0), mine.id, Lifecycle::rejected) == 0);  // ...and nobody said so
}

TEST_CASE("replace-all leaves clients showing only the last field the server pushed", "[models][replace-all]") {
  testing::Cluster c(model(), 1, 2);
  const Operation a = c.user(0, OpKind::map_set, 1);
  c.deliver_all();
  const Operation b = c.user(1, OpKind::map_set, 2);
  c.deliver_all();
  REQUIRE(field(c.state(c.server()), 1) == a.id);
  REQUIRE(field(c.state(c.server()), 2) == b.id);
  REQUIRE_FALSE(field(c.state(c.client(0)), 1).has_value());  // client 0's stored write is gone
  REQUIRE(count(c, c.client(0), a.id, Lifecycle::applied) == 1);  // its user saw it applied...
  REQUIRE(count(c, c.client(0), a.id, Lifecycle::acknowledged) == 0);  // ...and was told nothing more
  REQUIRE(count(c, c.client(0), a.id, Lifecycle::rejected) == 0);
  REQUIRE(c.state(c.client(0)) != c.state(c.server()));
}

TEST_CASE("replace-all resends a write lost in flight and catches up from the full state on reconnect",
          "[models][replace-all]") {
  testing::Cluster c(model(), 1, 2);
  c.user(1, OpKind::map_set, 2);
  c.deliver_all();
  const Operation op = c.user(0, OpKind::map_set, 1);
  c.disconnect(c.client(0));
  c.reconnect(c.client(0));
  // The full state the server sends on connect restores every field; the resend then arrives.
  c.deliver_all();
  REQUIRE(field(c.state(c.server()), 1) == op.id);
  REQUIRE(c.node(c.client(0)).metadata_bytes() == 0);  // the server's ack emptied the outbox
  REQUIRE(count(c, c.client(1), op.id, Lifecycle::seen) == 1);
}

TEST_CASE("replace-all's server applies a resent write once", "[models][replace-all]") {
  testing::Cluster c(model(), 1, 2);
  c.user(0, OpKind::map_set, 1);  // the first write
  REQUIRE(c.deliver_all(1) == 1);  // applied; the acknowledgement is lost below
  c.disconnect(c.client(0));
  const Operation second = c.user(1, OpKind::map_set, 1);
  c.deliver_all();
  c.reconnect(c.client(0));  // client 0 resends the first write, which must not overwrite `second`
  c.deliver_all();
  REQUIRE(field(c.state(c.server()), 1) == second.id);
  REQUIRE(c.node(c.client(0)).metadata_bytes() == 0);
}

TEST_CASE("replace-all keeps writes across crashes with persistence", "[models][replace-all]") {
  testing::Cluster c(model(), 1, 1);
  c.disconnect(c.client(0));
  const Operation op = c.user(0, OpKind::map_set, 3);
  c.crash_restart(c.client(0), true);
  REQUIRE(field(c.state(c.client(0)), 3) == op.id);
  c.reconnect(c.client(0));
  c.deliver_all();
  c.crash_restart(c.server(), true);
  REQUIRE(field(c.state(c.server()), 3) == op.id);
}

TEST_CASE("replace-all ignores malformed messages", "[models][replace-all]") {
  testing::Cluster c(model(), 1, 1);
  const Operation op = c.user(0, OpKind::map_set, 1);
  for (std::string junk : {std::string(), std::string("\x01"), std::string("\x03\x01"), std::string("\x04\xff\xff\xff\x7f", 5)}) {
    c.node(c.client(0)).on_message(c.context(c.client(0)), c.server(), junk);
    c.node(c.server()).on_message(c.context(c.server()), c.client(0), junk);
  }
  REQUIRE(field(c.state(c.client(0)), 1) == op.id);
  REQUIRE(c.state(c.server())->fields.empty());
}

TEST_CASE("replace-all's server ignores a late duplicate of a write its client has moved past",
          "[models][replace-all]") {
  testing::Cluster c(model(), 1, 2);
  c.user(0, OpKind::map_set, 1);
  const testing::Envelope duplicate = c.queue.back();
  c.deliver_all();
  const Operation later = c.user(1, OpKind::map_set, 1);
  c.deliver_all();
  c.user(0, OpKind::map_set, 2);  // names a newer oldest-unacknowledged op
  c.deliver_all();
  c.node(c.server()).on_message(c.context(c.server()), duplicate.from, duplicate.payload);
  REQUIRE(field(c.state(c.server()), 1) == later.id);
}

TEST_CASE("the engine's checkers catch replace-all's silent rollbacks when users touch distinct fields",
          "[models][replace-all][engine]") {
  // Few writes over many fields: under server order a write only counts as lost when no other
  // write to its field could have replaced it, which distinct fields make the common case.
  Scenario sparse = small_scenario();
  sparse.workload.clients = 3;
  sparse.workload.keys = 40;
  sparse.workload.think_time_mean = Duration::seconds(2);
  sparse.workload.duration = Duration::seconds(10);
  const std::map<Invariant, int> broken = testing::engine_breaks(sparse, model(), 3);
  REQUIRE(broken.count(Invariant::silent_rollback) == 1);
  REQUIRE(broken.count(Invariant::convergence) == 1);
  REQUIRE(testing::engine_breaks(rough_scenario(), model(), 1).count(Invariant::convergence) == 1);
}
