// rga-text: the RGA laws (RapidCheck) and the relay strategy driven through the harness.
#include <algorithm>
#include <map>
#include <set>
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "models/model.hpp"
#include "models/crdt/rga.hpp"
#include "sim/scenario/schedule.hpp"
#include "sim/engine/simulation.hpp"
#include "tests/models/engine_situations.hpp"
#include "tests/models/harness.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

using namespace syncstorm::testing;
using rga::Rga;

namespace {

using testing::settle;
using testing::all_agree;

/// Edits by three replicas that sync now and then, as bytes decide: every op is kept, in the
/// (causal) order it was issued.
struct Edits {
  std::vector<rga::Op> ops;
  std::vector<Rga> replicas{3};
};

Edits edits_from(const std::vector<std::uint8_t>& bytes) {
  Edits e;
  std::uint64_t next = 1;
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) {
    const std::uint8_t action = bytes[i];
    const std::uint32_t position_ppm = static_cast<std::uint32_t>(bytes[i + 1]) * 3'900;
    Rga& r = e.replicas[action % 3];
    if (action % 8 == 7) {
      r.merge(e.replicas[(action / 8) % 3]);
      continue;
    }
    const auto text = r.visible();
    rga::Op op;
    op.id = OpId{next++};
    op.origin = NodeId{static_cast<std::uint32_t>(action % 3)};
    const std::size_t index = rga::index_at(position_ppm, text.size());
    if (action % 8 < 5 || text.empty()) {
      op.kind = OpKind::text_insert;
      op.ref = index == 0 ? OpId{0} : text[index - 1];
      op.lamport = r.max_lamport() + 1;
    } else {
      op.kind = OpKind::text_delete;
      op.ref = text[std::min(index, text.size() - 1)];
    }
    r.apply(op);
    e.ops.push_back(op);
  }
  return e;
}

Rga merged(Rga a, const Rga& b) {
  a.merge(b);
  return a;
}

const ModelInfo& rga_model() { return testing::shipped_model("rga-text"); }

}  // namespace

TEST_CASE("RGA merge obeys the semilattice laws", "[models][rga-text][crdt]") {
  // Replicas come from one edit history, so that one op id always names one insert or delete.
  rc::prop("merge is commutative", [](const std::vector<std::uint8_t>& a) {
    const Edits e = edits_from(a);
    const Rga &x = e.replicas[0], &y = e.replicas[1];
    RC_ASSERT(merged(x, y) == merged(y, x));
    RC_ASSERT(merged(x, y).visible() == merged(y, x).visible());
  });
  rc::prop("merge is associative", [](const std::vector<std::uint8_t>& a) {
    const Edits e = edits_from(a);
    const Rga &x = e.replicas[0], &y = e.replicas[1], &z = e.replicas[2];
    RC_ASSERT(merged(merged(x, y), z) == merged(x, merged(y, z)));
  });
  rc::prop("merge is idempotent", [](const std::vector<std::uint8_t>& a) {
    const Rga x = edits_from(a).replicas[2];
    RC_ASSERT(merged(x, x) == x);
  });
}

TEST_CASE("RGA operations applied in any order give the same text", "[models][rga-text][crdt]") {
  rc::prop("delivery order does not change the text", [](const std::vector<std::uint8_t>& bytes) {
    const Edits e = edits_from(bytes);
    const auto order = *rc::gen::container<std::vector<std::uint32_t>>(e.ops.size(), rc::gen::arbitrary<std::uint32_t>());
    std::vector<std::size_t> index(e.ops.size());
    for (std::size_t i = 0; i < index.size(); ++i) index[i] = i;
    std::stable_sort(index.begin(), index.end(), [&](std::size_t x, std::size_t y) { return order[x] < order[y]; });
    Rga in_order, shuffled;
    for (const auto& op : e.ops) in_order.apply(op);
    for (std::size_t i : index) shuffled.apply(e.ops[i]);
    RC_ASSERT(in_order == shuffled);
    RC_ASSERT(in_order.visible() == shuffled.visible());
    RC_ASSERT(in_order == merged(merged(e.replicas[0], e.replicas[1]), e.replicas[2]));
  });
}

/// The definition of the text order, walked from scratch: every element under its parent,
/// siblings newest first by (Lamport time, op id), depth first from the start; elements whose
/// parent chain does not reach the start are not shown. Rga keeps this order incrementally.
std::vector<OpId> visible_by_walk(const Rga& r) {
  std::map<OpId, std::vector<std::pair<std::uint64_t, OpId>>> children;
  for (const auto& [id, e] : r.elements()) children[e.parent].push_back({e.lamport, id});
  for (auto& [parent, list] : children) std::sort(list.begin(), list.end(), std::greater<>());
  std::vector<OpId> out;
  std::vector<OpId> stack;
  auto push_children = [&](OpId parent) {
    auto it = children.find(parent);
    if (it == children.end()) return;
    for (auto c = it->second.rbegin(); c != it->second.rend(); ++c) stack.push_back(c->second);
  };
  push_children(OpId{0});
  while (!stack.empty()) {
    const OpId id = stack.back();
    stack.pop_back();
    if (!r.deleted().contains(id)) out.push_back(id);
    push_children(id);
  }
  return out;
}

TEST_CASE("the RGA's incremental text order is the depth-first walk, for any elements in any order",
          "[models][rga-text][crdt]") {
  // Arbitrary parents (missing ones, cycles, self-parents) and arbitrary Lamport times, which no
  // honest replica writes but a hostile message can: the kept order must still be the definition's.
  rc::prop("visible() equals the walk, and the digest depends only on the content", [] {
    const auto count = *rc::gen::inRange<std::uint64_t>(1, 40);
    std::vector<rga::Op> ops;
    for (std::uint64_t id = 1; id <= count; ++id) {
      rga::Op op;
      op.id = OpId{id};
      op.origin = NodeId{*rc::gen::inRange<std::uint32_t>(1, 4)};
      if (*rc::gen::inRange(0, 5) == 0) {
        op.kind = OpKind::text_delete;
        op.ref = OpId{*rc::gen::inRange<std::uint64_t>(0, count + 1)};
      } else {
        op.kind = OpKind::text_insert;
        op.ref = OpId{*rc::gen::inRange<std::uint64_t>(0, count + 2)};
        op.lamport = *rc::gen::inRange<std::uint64_t>(0, 6);
      }
      ops.push_back(op);
    }
    Rga in_order;
    for (const auto& op : ops) {
      in_order.apply(op);
      RC_ASSERT(in_order.visible() == visible_by_walk(in_order));
    }
    const auto keys = *rc::gen::container<std::vector<std::uint32_t>>(ops.size(), rc::gen::arbitrary<std::uint32_t>());
    std::vector<std::size_t> index(ops.size());
    for (std::size_t i = 0; i < index.size(); ++i) index[i] = i;
    std::stable_sort(index.begin(), index.end(), [&](std::size_t x, std::size_t y) { return keys[x] < keys[y]; });
    Rga shuffled;
    for (std::size_t i : index) shuffled.apply(ops[i]);
    RC_ASSERT(shuffled.visible() == visible_by_walk(shuffled));
    RC_ASSERT(shuffled == in_order);
    RC_ASSERT(shuffled.digest() == in_order.digest());
    RC_ASSERT(shuffled.visible() == in_order.visible());
  });
}

TEST_CASE("the RGA digest tells different contents apart", "[models][rga-text][crdt]") {
  Rga a, b;
  a.apply(rga::Op{OpId{1}, NodeId{1}, OpKind::text_insert, OpId{0}, 1});
  b.apply(rga::Op{OpId{1}, NodeId{1}, OpKind::text_insert, OpId{0}, 2});
  CHECK(a.digest() != b.digest());
  Rga c = a;
  c.apply(rga::Op{OpId{5}, NodeId{2}, OpKind::text_delete, OpId{1}, 0});
  CHECK(c.digest() != a.digest());
  Rga d = c;
  d.apply(rga::Op{OpId{3}, NodeId{2}, OpKind::text_delete, OpId{1}, 0});  // a lower deleter replaces
  CHECK(d.digest() != c.digest());
  Rga e = a;
  e.apply(rga::Op{OpId{3}, NodeId{2}, OpKind::text_delete, OpId{1}, 0});
  CHECK(e.digest() == d.digest());
  CHECK(e == d);
  CHECK(Rga{}.digest() == 0);
}

TEST_CASE("an RGA insert lands at the index its user chose", "[models][rga-text][crdt]") {
  rc::prop("a local insert appears at floor(position * length)", [](const std::vector<std::uint16_t>& positions) {
    Rga r;
    std::uint64_t next = 1;
    for (std::uint16_t p : positions) {
      const auto text = r.visible();
      const std::uint32_t ppm = static_cast<std::uint32_t>(p % 1000) * 1000;
      const std::size_t index = rga::index_at(ppm, text.size());
      const rga::Op op{OpId{next++}, NodeId{1}, OpKind::text_insert, index == 0 ? OpId{0} : text[index - 1], r.max_lamport() + 1};
      r.apply(op);
      RC_ASSERT(r.visible().at(index) == op.id);
    }
  });
}

TEST_CASE("rga-text converges after shuffled delivery", "[models][rga-text]") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    testing::Cluster cluster(rga_model(), 1, 3);
    Rng rng(seed);
    for (int i = 0; i < 30; ++i) {
      const OpKind kind = rng.below(4) == 0 ? OpKind::text_delete : OpKind::text_insert;
      cluster.user(static_cast<std::uint32_t>(rng.below(3)), kind, 0, 0, static_cast<std::uint32_t>(rng.below(1'000'000)));
      if (rng.below(3) == 0) cluster.deliver_shuffled(rng, rng.below(5));
    }
    cluster.deliver_shuffled(rng);
    settle(cluster);
    INFO("seed " << seed);
    REQUIRE(all_agree(cluster, 3));
    REQUIRE_FALSE(cluster.state(cluster.server())->text.empty());
  }
}

TEST_CASE("rga-text reports the element a delete removed", "[models][rga-text]") {
  testing::Cluster cluster(rga_model(), 1, 2);
  const Operation first = cluster.user(0, OpKind::text_insert, 0, 0, 0);
  const Operation second = cluster.user(0, OpKind::text_insert, 0, 0, 999'999);  // index 0 of 1: before it
  settle(cluster);
  REQUIRE(cluster.state(cluster.client(1))->text == std::vector<OpId>{second.id, first.id});
  const std::uint64_t metadata_before = cluster.node(cluster.server()).metadata_bytes();
  const Operation del = cluster.user(1, OpKind::text_delete, 0, 0, 600'000);  // index 1 of 2
  const auto it = std::find_if(cluster.reports.begin(), cluster.reports.end(), [&](const testing::Report& r) {
    return r.op == del.id && r.lifecycle == Lifecycle::applied;
  });
  REQUIRE(it != cluster.reports.end());
  REQUIRE(it->target == first.id);
  settle(cluster);
  REQUIRE(cluster.state(cluster.server())->text == std::vector<OpId>{second.id});
  REQUIRE(all_agree(cluster, 2));
  REQUIRE(cluster.node(cluster.server()).metadata_bytes() > metadata_before);  // the tombstone is counted
}

TEST_CASE("rga-text delete of an empty text is applied with no target", "[models][rga-text]") {
  testing::Cluster cluster(rga_model(), 1, 1);
  const Operation del = cluster.user(0, OpKind::text_delete, 0, 0, 500'000);
  REQUIRE(cluster.reports.back().op == del.id);
  REQUIRE(cluster.reports.back().lifecycle == Lifecycle::applied);
  REQUIRE_FALSE(cluster.reports.back().target.valid());
  settle(cluster);
  REQUIRE(cluster.state(cluster.server())->text.empty());
}

TEST_CASE("rga-text resends after a reconnect and survives crashes with persistence", "[models][rga-text]") {
  testing::Cluster cluster(rga_model(), 1, 2);
  cluster.disconnect(cluster.client(0));
  const Operation op = cluster.user(0, OpKind::text_insert, 0, 0, 0);
  cluster.crash_restart(cluster.client(0), true);
  REQUIRE(cluster.state(cluster.client(0))->text == std::vector<OpId>{op.id});
  cluster.disconnect(cluster.client(0));
  cluster.reconnect(cluster.client(0));
  settle(cluster);
  REQUIRE(cluster.state(cluster.server())->text == std::vector<OpId>{op.id});
  const auto acked = std::count_if(cluster.reports.begin(), cluster.reports.end(), [&](const testing::Report& r) {
    return r.op == op.id && r.lifecycle == Lifecycle::acknowledged;
  });
  REQUIRE(acked == 1);
  cluster.crash_restart(cluster.server(), true);
  settle(cluster);
  REQUIRE(cluster.state(cluster.server())->text == std::vector<OpId>{op.id});
  REQUIRE(all_agree(cluster, 2));
}

TEST_CASE("rga-text servers forward to each other and agree", "[models][rga-text]") {
  testing::Cluster cluster(rga_model(), 2, 2);
  const Operation a = cluster.user(0, OpKind::text_insert, 0, 0, 0);
  const Operation b = cluster.user(1, OpKind::text_insert, 0, 0, 0);
  settle(cluster);
  REQUIRE(cluster.state(cluster.server(1)) == cluster.state(cluster.server(0)));
  std::vector<OpId> text = cluster.state(cluster.server(1))->text;
  std::sort(text.begin(), text.end());
  REQUIRE(text == std::vector<OpId>{a.id, b.id});
  REQUIRE(all_agree(cluster, 2));
}

TEST_CASE("rga-text breaks no invariant in the engine under rough faults", "[models][rga-text][engine]") {
  for (std::uint32_t servers : {1u, 2u}) {
    INFO(servers << " servers");
    REQUIRE(engine_breaks(engine_rough(servers), rga_model(), 6).empty());
  }
  REQUIRE(engine_breaks(engine_offline_removes(), rga_model(), 6).empty());
}

TEST_CASE("rga-text keeps an acknowledged edit on screen until the base holds it", "[models][rga-text][datagram]") {
  // datagram-relay: the acknowledgement overtook the broadcast of the insert it acknowledged;
  // taking the insert out of the outbox then showed a text without it, the user's own edit gone.
  testing::Cluster cluster(rga_model(), 1, 2);
  const Operation op = cluster.user(0, OpKind::text_insert, 0, 0, 0);
  REQUIRE(cluster.deliver_all(1) == 1);  // the server stores it, broadcasts it and acknowledges it
  auto ack = std::find_if(cluster.queue.begin(), cluster.queue.end(), [&](const testing::Envelope& e) {
    return e.to == cluster.client(0) && !e.payload.empty() && e.payload[0] == 2;
  });
  REQUIRE(ack != cluster.queue.end());
  std::rotate(cluster.queue.begin(), ack, ack + 1);  // the acknowledgement first
  REQUIRE(cluster.deliver_all(1) == 1);
  CHECK(std::count_if(cluster.reports.begin(), cluster.reports.end(), [&](const testing::Report& r) {
          return r.op == op.id && r.lifecycle == Lifecycle::acknowledged;
        }) == 1);
  CHECK(cluster.state(cluster.client(0))->text == std::vector<OpId>{op.id});
  cluster.fire_timers();  // acknowledged: not resent
  CHECK(std::none_of(cluster.queue.begin(), cluster.queue.end(), [&](const testing::Envelope& e) {
    return e.to == cluster.server() && !e.payload.empty() && e.payload[0] == 1;
  }));
  settle(cluster);
  CHECK(cluster.state(cluster.client(0))->text == std::vector<OpId>{op.id});
  CHECK(all_agree(cluster, 2));
  CHECK(cluster.node(cluster.client(0)).metadata_bytes() == cluster.node(cluster.client(1)).metadata_bytes());
}

TEST_CASE("rga-text lets go of an acknowledged delete of an empty text", "[models][rga-text][datagram]") {
  testing::Cluster cluster(rga_model(), 1, 1);
  cluster.user(0, OpKind::text_delete, 0, 0, 500'000);
  settle(cluster);
  CHECK(cluster.node(cluster.client(0)).metadata_bytes() == 0);
}
