// event-log-list and event-log-list-full-resync driven through the harness: server order, catch-up by
// delta or by snapshot, de-duplicated resends, crashes, and the cost of full resyncs.
#include <algorithm>
#include <map>
#include <set>
#include <catch2/catch.hpp>

#include "models/model.hpp"
#include "sim/base/codec.hpp"
#include "sim/scenario/schedule.hpp"
#include "sim/engine/simulation.hpp"
#include "tests/models/engine_situations.hpp"
#include "tests/models/harness.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

using namespace syncstorm::testing;

namespace {

using testing::settle;
using testing::all_agree;

constexpr std::uint8_t kSnapshotTag = 5;  // the event log's snapshot message starts with this byte

const ModelInfo& log_model(const char* name) { return testing::shipped_model(name); }

std::size_t reports_of(const testing::Cluster& cluster, NodeId node, OpId op, Lifecycle lifecycle) {
  return static_cast<std::size_t>(std::count_if(cluster.reports.begin(), cluster.reports.end(), [&](const testing::Report& r) {
    return r.node == node && r.op == op && r.lifecycle == lifecycle;
  }));
}

/// Bytes queued for `node`, and whether any of those messages is a snapshot.
std::pair<std::size_t, bool> queued_for(const testing::Cluster& cluster, NodeId node) {
  std::size_t bytes = 0;
  bool snapshot = false;
  for (const auto& e : cluster.queue) {
    if (e.to != node) continue;
    bytes += e.payload.size();
    snapshot |= !e.payload.empty() && static_cast<std::uint8_t>(e.payload[0]) == kSnapshotTag;
  }
  return {bytes, snapshot};
}

/// Client 1 goes away while `missed` events happen on top of `items` items, then returns. Returns
/// what the server queued for it in answer to its resume.
std::pair<std::size_t, bool> catch_up(const char* name, std::uint32_t items, std::uint32_t missed) {
  testing::Cluster cluster(log_model(name), 1, 2);
  for (std::uint32_t k = 0; k < items; ++k) cluster.user(0, OpKind::list_add, k);
  settle(cluster);
  cluster.disconnect(cluster.client(1));
  for (std::uint32_t i = 0; i < missed; ++i) cluster.user(0, OpKind::list_update, i % items);
  settle(cluster);
  cluster.reconnect(cluster.client(1));
  cluster.deliver_all(1);  // the resume reaches the server, which queues its answer
  const auto answer = queued_for(cluster, cluster.client(1));
  settle(cluster);
  REQUIRE(all_agree(cluster, 2));
  return answer;
}

}  // namespace

TEST_CASE("event-log-list converges after shuffled delivery", "[models][event-log-list]") {
  for (const char* name : {"event-log-list", "event-log-list-full-resync"}) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      testing::Cluster cluster(log_model(name), 1, 3);
      Rng rng(seed);
      for (int i = 0; i < 40; ++i) {
        const auto kinds = std::array{OpKind::list_add, OpKind::list_update, OpKind::list_remove};
        cluster.user(static_cast<std::uint32_t>(rng.below(3)), kinds[rng.below(3)], static_cast<std::uint32_t>(rng.below(4)));
        if (rng.below(3) == 0) cluster.deliver_shuffled(rng, rng.below(5));
      }
      cluster.deliver_shuffled(rng);
      settle(cluster);
      INFO(name << " seed " << seed);
      REQUIRE(all_agree(cluster, 3));
    }
  }
}

TEST_CASE("event-log-list resolves concurrent writes in server order", "[models][event-log-list]") {
  testing::Cluster cluster(log_model("event-log-list"), 1, 2);
  const Operation a = cluster.user(0, OpKind::list_add, 1);
  const Operation b = cluster.user(1, OpKind::list_add, 1);
  // Each client shows its own write until it hears the server's order.
  REQUIRE(cluster.state(cluster.client(0))->items == std::vector<Item>{Item{KeyId{1}, a.id}});
  REQUIRE(cluster.state(cluster.client(1))->items == std::vector<Item>{Item{KeyId{1}, b.id}});
  settle(cluster);
  REQUIRE(cluster.state(cluster.server())->items == std::vector<Item>{Item{KeyId{1}, b.id}});  // b arrived last
  REQUIRE(all_agree(cluster, 2));
  REQUIRE(reports_of(cluster, cluster.client(0), a.id, Lifecycle::acknowledged) == 1);
  REQUIRE(reports_of(cluster, cluster.client(1), a.id, Lifecycle::seen) == 1);
  REQUIRE(reports_of(cluster, cluster.client(0), a.id, Lifecycle::seen) == 0);  // never one's own
}

TEST_CASE("event-log-list catches up by delta when the log still holds the missed events", "[models][event-log-list]") {
  const auto [bytes, snapshot] = catch_up("event-log-list", 10, 3);
  REQUIRE_FALSE(snapshot);
  REQUIRE(bytes > 0);
}

TEST_CASE("event-log-list catches up from a snapshot when the missed events were trimmed", "[models][event-log-list]") {
  const auto [bytes, snapshot] = catch_up("event-log-list", 4, 80);
  REQUIRE(snapshot);
  REQUIRE(bytes > 0);
}

TEST_CASE("event-log-list-full-resync sends everything on reconnect and costs more bytes",
          "[models][event-log-list-full-resync]") {
  const auto [full_bytes, full_snapshot] = catch_up("event-log-list-full-resync", 10, 2);
  const auto [delta_bytes, delta_snapshot] = catch_up("event-log-list", 10, 2);
  REQUIRE(full_snapshot);
  REQUIRE_FALSE(delta_snapshot);
  REQUIRE(full_bytes > delta_bytes);
}

TEST_CASE("event-log-list applies a resend after a lost acknowledgement once", "[models][event-log-list]") {
  testing::Cluster cluster(log_model("event-log-list"), 1, 2);
  const Operation op = cluster.user(0, OpKind::list_add, 2);
  cluster.deliver_all(1);                 // the server logs it and queues the event and the ack
  cluster.disconnect(cluster.client(0));  // which are lost with the connection
  REQUIRE(reports_of(cluster, cluster.client(0), op.id, Lifecycle::acknowledged) == 0);
  cluster.reconnect(cluster.client(0));
  settle(cluster);
  REQUIRE(reports_of(cluster, cluster.client(0), op.id, Lifecycle::acknowledged) == 1);
  REQUIRE(reports_of(cluster, cluster.client(1), op.id, Lifecycle::seen) == 1);
  const Operation later = cluster.user(1, OpKind::list_update, 2);
  settle(cluster);
  REQUIRE(cluster.state(cluster.server())->items == std::vector<Item>{Item{KeyId{2}, later.id}});
  REQUIRE(all_agree(cluster, 2));
}

TEST_CASE("event-log-list keeps acknowledged and unsent writes across crashes with persistence", "[models][event-log-list]") {
  testing::Cluster cluster(log_model("event-log-list"), 1, 2);
  const Operation acked = cluster.user(0, OpKind::list_add, 1);
  settle(cluster);
  REQUIRE(reports_of(cluster, cluster.client(0), acked.id, Lifecycle::acknowledged) == 1);
  cluster.crash_restart(cluster.server(), true);
  cluster.disconnect(cluster.client(1));
  const Operation offline = cluster.user(1, OpKind::list_add, 2);
  cluster.crash_restart(cluster.client(1), true);
  cluster.disconnect(cluster.client(1));
  cluster.reconnect(cluster.client(1));
  settle(cluster);
  const std::vector<Item> expected{Item{KeyId{1}, acked.id}, Item{KeyId{2}, offline.id}};
  REQUIRE(cluster.state(cluster.server())->items == expected);
  REQUIRE(all_agree(cluster, 2));
}

TEST_CASE("event-log-list metadata stays bounded by the retention", "[models][event-log-list]") {
  testing::Cluster cluster(log_model("event-log-list"), 1, 1);
  for (std::uint32_t i = 0; i < 100; ++i) cluster.user(0, OpKind::list_update, i % 3);
  settle(cluster);
  const std::uint64_t after_100 = cluster.node(cluster.server()).metadata_bytes();
  for (std::uint32_t i = 0; i < 100; ++i) cluster.user(0, OpKind::list_update, i % 3);
  settle(cluster);
  // Only the de-duplication index grows (16 bytes per operation); the log itself is trimmed.
  REQUIRE(cluster.node(cluster.server()).metadata_bytes() <= after_100 + 100 * 16);
}

TEST_CASE("event-log-list followers replay the leader's log", "[models][event-log-list]") {
  for (const char* name : {"event-log-list", "event-log-list-full-resync"}) {
    testing::Cluster cluster(log_model(name), 2, 2);
    for (std::uint32_t i = 0; i < 40; ++i) cluster.user(i % 2, i % 5 == 4 ? OpKind::list_remove : OpKind::list_update, i % 6);
    settle(cluster);
    INFO(name);
    REQUIRE(cluster.state(cluster.server(1)) == cluster.state(cluster.server(0)));
    REQUIRE(all_agree(cluster, 2));
    REQUIRE_FALSE(cluster.state(cluster.server(1))->items.empty());
  }
}

TEST_CASE("event-log-list breaks no invariant in the engine under rough faults", "[models][event-log-list][engine]") {
  for (const char* name : {"event-log-list", "event-log-list-full-resync"}) {
    for (std::uint32_t servers : {1u, 2u}) {
      INFO(name << " with " << servers << " servers");
      REQUIRE(engine_breaks(engine_rough(servers), log_model(name), 6).empty());
    }
    REQUIRE(engine_breaks(engine_offline_removes(), log_model(name), 6).empty());
  }
}

// Over datagram links (scenarios with link = "datagram"): messages lost, duplicated, reordered.

TEST_CASE("event-log-list's leader appends an op that overtook its predecessor once the predecessor comes",
          "[models][event-log-list][datagram]") {
  // datagram-relay: the leader dropped an op whose predecessor had not arrived and waited for the
  // client's next resend burst, which the links reordered again: a client writing steadily fell
  // further behind with every second, and the run ended with its writes unanswered.
  testing::Cluster cluster(log_model("event-log-list"), 1, 1);
  const Operation older = cluster.user(0, OpKind::list_add, 1);
  const Operation newer = cluster.user(0, OpKind::list_update, 1);
  REQUIRE(cluster.queue.size() == 2);
  std::swap(cluster.queue[0], cluster.queue[1]);
  REQUIRE(cluster.deliver_all(1) == 1);  // the newer one first: it waits, unanswered
  CHECK(cluster.state(cluster.server())->items.empty());
  CHECK(reports_of(cluster, cluster.client(0), newer.id, Lifecycle::acknowledged) == 0);
  cluster.deliver_all();  // the older one: both are appended, in the order made
  CHECK(cluster.state(cluster.server())->items == std::vector<Item>{Item{KeyId{1}, newer.id}});
  CHECK(reports_of(cluster, cluster.client(0), older.id, Lifecycle::acknowledged) == 1);
  CHECK(reports_of(cluster, cluster.client(0), newer.id, Lifecycle::acknowledged) == 1);
  CHECK(cluster.state(cluster.client(0))->items == std::vector<Item>{Item{KeyId{1}, newer.id}});
}

TEST_CASE("event-log-list never shows an older own write over a newer one whose acknowledgement came first",
          "[models][event-log-list][datagram]") {
  // datagram-relay: the acknowledgement of the older write was lost, the newer one's arrived, and a
  // snapshot brought the log copy past both. The newer write left the view for the log copy; the
  // older one, still unacknowledged, stayed on top of it and showed the user its older value.
  testing::Cluster cluster(log_model("event-log-list-full-resync"), 1, 1);
  const Operation older = cluster.user(0, OpKind::list_add, 1);
  const Operation newer = cluster.user(0, OpKind::list_update, 1);
  cluster.deliver_all(2);  // both appended; events and acknowledgements queued
  std::erase_if(cluster.queue, [&](const testing::Envelope& e) {
    Reader r(e.payload);
    const bool newer_ack = r.u8() == 2 && r.u64() == newer.id.value;
    return e.to == cluster.client(0) && !newer_ack;
  });  // all lost but the newer one's acknowledgement
  REQUIRE(cluster.queue.size() == 1);
  cluster.deliver_all();
  REQUIRE(reports_of(cluster, cluster.client(0), newer.id, Lifecycle::acknowledged) == 1);
  REQUIRE(reports_of(cluster, cluster.client(0), older.id, Lifecycle::acknowledged) == 0);
  cluster.disconnect(cluster.client(0));
  cluster.reconnect(cluster.client(0));  // the answer is a snapshot of the whole log
  while (!cluster.queue.empty() && !(cluster.queue.front().to == cluster.client(0) &&
                                     static_cast<std::uint8_t>(cluster.queue.front().payload[0]) == kSnapshotTag)) {
    cluster.deliver_all(1);
  }
  REQUIRE_FALSE(cluster.queue.empty());
  cluster.deliver_all(1);  // the snapshot, before the older write's acknowledgement
  REQUIRE(reports_of(cluster, cluster.client(0), older.id, Lifecycle::acknowledged) == 0);
  CHECK(cluster.state(cluster.client(0))->items == std::vector<Item>{Item{KeyId{1}, newer.id}});
  settle(cluster);
  CHECK(cluster.state(cluster.client(0))->items == std::vector<Item>{Item{KeyId{1}, newer.id}});
}
