// How the server-ordered strategies apply a resent write once: a mark per client (and lane) for the
// newest write applied, or for undo-map the verdicts a client may still ask for, pruned by the
// oldest write the client still has pending. What the servers keep stays flat as the writes grow,
// and a restart keeps it.
#include <algorithm>
#include <string>

#include <catch2/catch.hpp>

#include "models/model.hpp"
#include "tests/models/harness.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

namespace {

std::size_t acks_of(const testing::Cluster& cluster, OpId op) {
  return static_cast<std::size_t>(std::count_if(cluster.reports.begin(), cluster.reports.end(), [&](const testing::Report& r) {
    return r.op == op && (r.lifecycle == Lifecycle::acknowledged || r.lifecycle == Lifecycle::rejected);
  }));
}

}  // namespace

TEST_CASE("server-ordered map servers apply a resend once and keep one mark per writer", "[models][dedup]") {
  for (const char* name : {"echo", "outbox-map", "guarded-map", "refetch-map", "versioned-map", "undo-map", "hybrid-dashboard"}) {
    CAPTURE(name);
    testing::Cluster cluster(testing::shipped_model(name), 1, 2);
    const NodeId server = cluster.server();
    // Client 0 writes while its link is down, then reconnects twice: each connect resends the
    // whole outbox, so the server sees every write two or three times.
    cluster.disconnect(cluster.client(0));
    for (std::uint32_t key = 1; key <= 6; ++key) cluster.user(0, OpKind::map_set, key);
    cluster.reconnect(cluster.client(0));
    cluster.reconnect(cluster.client(0));
    for (int round = 0; round < 4; ++round) {
      cluster.deliver_all();
      cluster.fire_timers();
    }
    cluster.deliver_all();
    const auto state = cluster.state(server);
    REQUIRE(state.has_value());
    CHECK(state->fields.size() == 6);
    CHECK(cluster.state(cluster.client(0)) == state);
    const std::uint64_t few_writes = cluster.node(server).metadata_bytes();

    // Many more writes from both clients: the server's bookkeeping does not grow with them.
    for (int i = 0; i < 200; ++i) {
      cluster.user(static_cast<std::uint32_t>(i % 2), OpKind::map_set, static_cast<std::uint32_t>(1 + i % 6));
      cluster.deliver_all();
      cluster.fire_timers();
      cluster.deliver_all();
    }
    CHECK(cluster.node(server).metadata_bytes() <= few_writes + 64);

    // A restart with persistence keeps the marks: a resend after it is not applied again.
    cluster.crash_restart(server, true);
    cluster.reconnect(cluster.client(0));
    cluster.reconnect(cluster.client(1));
    cluster.deliver_all();
    CHECK(cluster.state(server) == cluster.state(cluster.client(0)));
  }
}

TEST_CASE("undo-map answers a resend with the verdict it gave first", "[models][dedup]") {
  testing::Cluster cluster(testing::shipped_model("undo-map"), 1, 2);
  // Client 0 writes key 1 without having seen client 1's write to it: a stale write, rejected.
  cluster.disconnect(cluster.client(0));
  const Operation newer = cluster.user(1, OpKind::map_set, 1);
  cluster.deliver_all();
  const Operation stale = cluster.user(0, OpKind::map_set, 1);
  cluster.reconnect(cluster.client(0));
  REQUIRE(cluster.deliver_all(1) == 1);  // the resend reaches the server, which decides it
  // The rejection is lost on the way back; the next connect resends the write.
  cluster.disconnect(cluster.client(0));
  REQUIRE(acks_of(cluster, stale.id) == 0);
  cluster.reconnect(cluster.client(0));
  cluster.deliver_all();
  CHECK(acks_of(cluster, stale.id) == 1);
  CHECK(std::any_of(cluster.reports.begin(), cluster.reports.end(), [&](const testing::Report& r) {
    return r.op == stale.id && r.lifecycle == Lifecycle::rejected;
  }));
  const auto state = cluster.state(cluster.server());
  REQUIRE(state.has_value());
  REQUIRE(state->fields.size() == 1);
  CHECK(state->fields[0].second == newer.id);
  CHECK(cluster.state(cluster.client(0)) == state);
}

TEST_CASE("undo-map's server forgets its verdicts once a client has the answers to all its writes",
          "[models][dedup]") {
  // Swarm seed 42415 under --explore novelty: clients back from long offline spells resent dozens
  // of writes at once and then wrote nothing more, so their oldest pending write never moved on the
  // server, which kept every verdict of the burst to the end (1,782 bytes for 10 fields: a
  // bounded-metadata failure of a model declared correct). A client whose writes are all answered
  // now says so.
  testing::Cluster cluster(testing::shipped_model("undo-map"), 1, 2);
  const NodeId server = cluster.server();
  cluster.user(1, OpKind::map_set, 1);
  cluster.deliver_all();
  const std::uint64_t before = cluster.node(server).metadata_bytes();
  cluster.disconnect(cluster.client(0));
  for (std::uint32_t i = 0; i < 40; ++i) cluster.user(0, OpKind::map_set, 1 + i % 4);
  cluster.reconnect(cluster.client(0));
  cluster.deliver_all();
  std::size_t answered = 0;
  for (const testing::Report& r : cluster.reports) {
    answered += r.lifecycle == Lifecycle::acknowledged || r.lifecycle == Lifecycle::rejected ? 1 : 0;
  }
  REQUIRE(answered >= 40);
  // Four fields and one more writer, and no verdict left over.
  CHECK(cluster.node(server).metadata_bytes() <= before + 4 * 12 + 12);
}
