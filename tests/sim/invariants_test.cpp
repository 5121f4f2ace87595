// The invariant checkers, judged on histories built by hand: for each checker, a history it must
// flag and the look-alikes a strategy legitimately produces, which it must not.
#include <catch2/catch.hpp>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/checkers/invariants.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

namespace {

/// Builds a History the way the engine would: each client keeps the causal past of what it has
/// seen; an operation records a copy of it. Every operation starts issued and applied 1 ms after
/// its issue; the test then marks acknowledgements, rejections and the like.
class Builder {
 public:
  explicit Builder(DataType type, SupersedeRule rule = SupersedeRule::last_writer_wins) {
    history_.type = type;
    history_.rule = rule;
    history_.last_heal = Instant::start();
    history_.converged_at = Instant::start();
    history_.end = Instant::start() + Duration::seconds(60);
  }

  OpId op(std::uint32_t client, OpKind kind, std::uint32_t key = 0, std::int64_t amount = 0) {
    now_ += Duration::millis(10);
    OpRecord r;
    r.op.id = OpId{history_.ops.size() + 1};
    r.op.client = NodeId{client};
    r.op.issued_at = now_;
    r.op.kind = kind;
    r.op.key = KeyId{key};
    r.op.amount = amount;
    r.issued = true;
    CausalPast& past = seen_[client];
    r.sequence = past.advance(NodeId{client});
    r.past = std::make_shared<const CausalPast>(past);
    r.applied = now_ + Duration::millis(1);
    history_.ops.push_back(std::move(r));
    return history_.ops.back().op.id;
  }

  Builder& ack(OpId id) {
    rec(id).acknowledged = rec(id).op.issued_at + Duration::millis(50);
    return *this;
  }
  Builder& reject(OpId id) {
    rec(id).rejected = rec(id).op.issued_at + Duration::millis(60);
    return *this;
  }
  Builder& unacknowledged(OpId id) {
    rec(id).acknowledged.reset();
    return *this;
  }
  Builder& unapplied(OpId id) {
    rec(id).applied.reset();
    return *this;
  }
  Builder& unissued(OpId id) {
    rec(id).issued = false;
    return *this;
  }
  /// A text delete's replica reports which element it removed.
  Builder& target(OpId del, OpId element) {
    rec(del).target = element;
    return *this;
  }
  /// Writes of the same field or item the writer's replica had shown before it issued `id`.
  Builder& seen_before(OpId id, std::vector<OpId> seen) {
    rec(id).seen_before = std::move(seen);
    return *this;
  }
  /// What a replica that took in everything `clients` had seen could have seen (a node's past).
  std::shared_ptr<const CausalPast> past_of(const std::vector<std::uint32_t>& clients) {
    CausalPast past;
    for (std::uint32_t c : clients) past.merge(seen_[c]);
    return std::make_shared<const CausalPast>(std::move(past));
  }
  /// Node `id` (already given) ends having taken in exactly what `clients` had seen.
  Builder& knows(std::uint32_t id, const std::vector<std::uint32_t>& clients) {
    for (NodeFinal& f : history_.finals) {
      if (f.node == NodeId{id}) f.past = past_of(clients);
    }
    return *this;
  }
  /// Client `to` now has seen everything client `from` has seen (a sync through the server).
  Builder& sees(std::uint32_t to, std::uint32_t from) {
    seen_[to].merge(seen_[from]);
    return *this;
  }
  Builder& node(std::uint32_t id, std::optional<State> state, bool live = true,
                std::uint64_t metadata_bytes = 0, std::uint32_t writers = 0) {
    history_.finals.push_back({NodeId{id}, id == 0, live, std::move(state), metadata_bytes, writers});
    return *this;
  }
  /// A sample of every node's metadata taken just before operation `before` (see MetadataSampling);
  /// nodes not given are down at that moment.
  Builder& sample(OpId before, std::vector<std::pair<std::uint32_t, MetadataSample>> nodes) {
    MetadataSampling& sampling = history_.metadata_samples.emplace_back();
    sampling.before = before;
    for (auto& [id, sample] : nodes) {
      if (sampling.nodes.size() <= id) sampling.nodes.resize(id + 1);
      sample.taken = true;
      sampling.nodes[id] = sample;
    }
    return *this;
  }
  History& history() { return history_; }

 private:
  OpRecord& rec(OpId id) { return history_.ops.at(id.value - 1); }

  History history_;
  std::map<std::uint32_t, CausalPast> seen_;
  Instant now_;
};

State map_state(std::vector<std::pair<std::uint32_t, OpId>> fields) {
  State s;
  s.type = DataType::map;
  std::sort(fields.begin(), fields.end());
  for (auto [key, value] : fields) s.fields.emplace_back(KeyId{key}, value);
  return s;
}

State list_state(std::vector<std::pair<std::uint32_t, OpId>> items) {
  State s;
  s.type = DataType::list;
  for (auto [key, value] : items) s.items.push_back({KeyId{key}, value});
  return s;
}

State counter_state(std::int64_t value) {
  State s;
  s.type = DataType::counter;
  s.counter = value;
  return s;
}

State text_state(std::vector<OpId> elements) {
  State s;
  s.type = DataType::text;
  s.text = std::move(elements);
  return s;
}

std::vector<Violation> check(const History& history, InvariantOptions options = {}) {
  return check_invariants(history, options);
}

/// Nodes 0..`last` all end showing item `key` = `shown` (or without the item, for none): the findings.
std::vector<Violation> ending_with(Builder& b, std::uint32_t last, std::uint32_t key, std::optional<OpId> shown) {
  b.history().finals.clear();
  for (std::uint32_t n = 0; n <= last; ++n) b.node(n, shown ? list_state({{key, *shown}}) : list_state({}));
  return check(b.history());
}

std::vector<Violation> of(const std::vector<Violation>& all, Invariant invariant) {
  std::vector<Violation> out;
  for (const Violation& v : all) {
    if (v.invariant == invariant) out.push_back(v);
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Convergence.

TEST_CASE("replicas that end in different states are reported with the first differing field",
          "[invariants]") {
  Builder b(DataType::map);
  const OpId w1 = b.op(1, OpKind::map_set, 1);
  const OpId w2 = b.op(2, OpKind::map_set, 1);
  b.node(0, map_state({{1, w2}})).node(1, map_state({{1, w2}})).node(2, map_state({{1, w1}}));
  b.history().converged_at.reset();
  const auto found = of(check(b.history()), Invariant::convergence);
  REQUIRE(found.size() == 2);
  CHECK(found[0].subject == "all replicas");
  CHECK(found[1].subject == "node 2");
  CHECK(contains(found[1].detail, "field 1"));
  CHECK(contains(found[1].detail, "1 of 3"));
  CHECK(contains(found[1].observed, "op1"));
}

TEST_CASE("the majority state is the reference, so the odd replica out is the one named",
          "[invariants]") {
  Builder b(DataType::counter);
  b.op(1, OpKind::counter_add, 0, 2);
  b.node(0, counter_state(2)).node(1, counter_state(5)).node(2, counter_state(2));
  const auto found = of(check(b.history()), Invariant::convergence);
  REQUIRE(found.size() == 1);
  CHECK(found[0].subject == "node 1");
}

TEST_CASE("a run that never converged is reported even when the final states agree", "[invariants]") {
  Builder b(DataType::map);
  const OpId w = b.op(1, OpKind::map_set, 1);
  b.node(1, map_state({{1, w}})).node(2, map_state({{1, w}}));
  b.history().converged_at.reset();
  const auto found = check(b.history());
  REQUIRE(found.size() == 1);
  CHECK(found[0].invariant == Invariant::convergence);
  CHECK(found[0].observed == "never agreed");
}

TEST_CASE("converging later than the bound after the last heal is reported with how long it took",
          "[invariants]") {
  Builder b(DataType::map);
  const OpId w = b.op(1, OpKind::map_set, 1);
  b.node(1, map_state({{1, w}})).node(2, map_state({{1, w}}));
  b.history().last_heal = Instant::start() + Duration::seconds(10);
  InvariantOptions options;
  options.convergence_bound = Duration::seconds(15);

  b.history().converged_at = Instant::start() + Duration::seconds(30);
  const auto late = check(b.history(), options);
  REQUIRE(late.size() == 1);
  CHECK(contains(late[0].observed, "20.000 s"));

  b.history().converged_at = Instant::start() + Duration::seconds(25);
  CHECK(check(b.history(), options).empty());
}

TEST_CASE("the convergence bound runs from the last client's reconnection when one was still cut off at the heal",
          "[invariants]") {
  // The reconnect backoff is the scenario's, the same for every strategy: a client still waiting it
  // out at the heal starts the strategy's resync only when its connection is back.
  Builder b(DataType::map);
  const OpId w = b.op(1, OpKind::map_set, 1);
  b.node(1, map_state({{1, w}})).node(2, map_state({{1, w}}));
  b.history().last_heal = Instant::start() + Duration::seconds(10);
  b.history().clients_back = Instant::start() + Duration::seconds(17);
  InvariantOptions options;
  options.convergence_bound = Duration::seconds(10);

  b.history().converged_at = Instant::start() + Duration::seconds(26);  // 16 s after the heal, 9 after
  CHECK(check(b.history(), options).empty());

  b.history().converged_at = Instant::start() + Duration::seconds(28);  // 11 s after the reconnection
  const auto late = check(b.history(), options);
  REQUIRE(late.size() == 1);
  CHECK(contains(late[0].expected, "reconnection"));
  CHECK(contains(late[0].observed, "11.000 s"));
  CHECK(contains(late[0].detail, "17000.000 ms"));

  // Never agreeing is never excused.
  b.history().converged_at.reset();
  CHECK(check(b.history(), options).size() == 1);
}

TEST_CASE("a relay server that holds no state does not count against convergence", "[invariants]") {
  Builder b(DataType::map);
  const OpId w = b.op(1, OpKind::map_set, 1);
  b.ack(w);
  b.node(0, std::nullopt).node(1, map_state({{1, w}})).node(2, map_state({{1, w}}));
  CHECK(check(b.history()).empty());
}

TEST_CASE("a crashed node's stale state is ignored by every checker", "[invariants]") {
  Builder b(DataType::map);
  const OpId w = b.op(1, OpKind::map_set, 1);
  b.ack(w);
  b.node(1, map_state({{1, w}})).node(2, map_state({{1, w}})).node(3, map_state({}), false, 1 << 30);
  CHECK(check(b.history()).empty());

  // The same stale state on a live node is caught, so the test above can fail: as a divergence
  // (the largest state holds the write), and as a lost write when convergence is not judged.
  b.history().finals.back().live = true;
  CHECK_FALSE(of(check(b.history()), Invariant::convergence).empty());
  InvariantOptions no_convergence;
  std::erase(no_convergence.enabled, Invariant::convergence);
  CHECK_FALSE(of(check(b.history(), no_convergence), Invariant::lost_acknowledged_write).empty());
}

TEST_CASE("a write the largest state holds is a divergence on the replicas without it, not a loss", "[invariants]") {
  Builder b(DataType::map);
  const OpId w = b.op(1, OpKind::map_set, 1);
  b.ack(w);
  // Three replicas hold the write, one never received it (a stalled sync): one stall, one verdict.
  b.node(0, map_state({{1, w}})).node(1, map_state({{1, w}})).node(2, map_state({{1, w}})).node(3, map_state({}));
  const auto stalled = check(b.history());
  CHECK(of(stalled, Invariant::convergence).size() == 1);
  CHECK(of(stalled, Invariant::lost_acknowledged_write).empty());
  CHECK(of(stalled, Invariant::silent_rollback).empty());
}

TEST_CASE("a write the largest state lacks is lost, even when the replicas diverged", "[invariants]") {
  Builder b(DataType::map);
  const OpId w = b.op(1, OpKind::map_set, 1);
  b.ack(w);
  // The server and two clients lost it; only the writer still shows it.
  b.node(0, map_state({})).node(1, map_state({{1, w}})).node(2, map_state({})).node(3, map_state({}));
  const auto lost = check(b.history());
  CHECK(of(lost, Invariant::convergence).size() == 1);
  CHECK(of(lost, Invariant::lost_acknowledged_write).size() == 1);

  // Two against two: no state is the larger, so the write counts as lost.
  Builder tie(DataType::map);
  const OpId t = tie.op(1, OpKind::map_set, 1);
  tie.ack(t);
  tie.node(0, map_state({{1, t}})).node(1, map_state({{1, t}})).node(2, map_state({})).node(3, map_state({}));
  CHECK(of(check(tie.history()), Invariant::lost_acknowledged_write).size() == 1);
}

TEST_CASE("with convergence off, a write is judged on every replica without it, not only the first",
          "[invariants]") {
  // `older` came before `write` (its writer saw it); `concurrent` was written by a third client that
  // saw neither, so last-writer-wins may rank it above `write`. Node 0 shows `concurrent`: `write`
  // may have lost to it there. Node 1 still shows `older`, which `write` overwrote: lost there.
  Builder b(DataType::map);
  const OpId older = b.op(2, OpKind::map_set, 1);
  b.ack(older).sees(1, 2);
  const OpId write = b.op(1, OpKind::map_set, 1);
  const OpId concurrent = b.op(3, OpKind::map_set, 1);
  b.ack(write).ack(concurrent);
  b.node(0, map_state({{1, concurrent}})).node(1, map_state({{1, older}}));
  InvariantOptions off;
  off.enabled = {Invariant::lost_acknowledged_write, Invariant::silent_rollback};
  const auto lost = of(check(b.history(), off), Invariant::lost_acknowledged_write);
  REQUIRE(lost.size() == 1);
  CHECK(lost.front().involved.at(0).op == write);
  CHECK(contains(lost.front().observed, "node 1"));

  // With convergence on, the divergence is the finding, reported once.
  const auto judged = check(b.history());
  CHECK(of(judged, Invariant::convergence).size() == 1);

  // Both replicas showing what may have replaced the write: nothing to report.
  b.history().finals.clear();
  b.node(0, map_state({{1, concurrent}})).node(1, map_state({{1, concurrent}}));
  CHECK(check(b.history(), off).empty());
}

// ------------------------------------------------------------------------------------------------
// Resurrection.

TEST_CASE("an item removed after every add was seen and yet present is a resurrection",
          "[invariants]") {
  for (SupersedeRule rule : {SupersedeRule::add_wins, SupersedeRule::remove_wins,
                             SupersedeRule::last_writer_wins}) {
    Builder b(DataType::list, rule);
    const OpId add = b.op(1, OpKind::list_add, 4);
    b.ack(add).sees(2, 1);
    const OpId remove = b.op(2, OpKind::list_remove, 4);
    b.ack(remove).target(remove, add);  // its replica showed the add and removed it
    b.node(0, list_state({})).node(1, list_state({{4, add}})).node(2, list_state({{4, add}}));
    const auto found = of(check(b.history()), Invariant::resurrection);
    REQUIRE(found.size() == 1);
    CHECK(found[0].subject == "item 4");
    CHECK(contains(found[0].observed, "node 1"));
    REQUIRE(found[0].involved.size() == 2);
    CHECK(found[0].involved[0].op == remove);
    CHECK(found[0].involved[1].op == add);
  }
}

TEST_CASE("a remove of an item its replica did not show covers nothing: no resurrection", "[invariants]") {
  // The engine's happens-before says client 2 could have seen the add (some message carried that
  // knowledge), but its replica showed no item 4 when the user removed it: target 0.
  Builder b(DataType::list, SupersedeRule::add_wins);
  const OpId add = b.op(1, OpKind::list_add, 4);
  b.ack(add).sees(2, 1);
  const OpId remove = b.op(2, OpKind::list_remove, 4);
  b.ack(remove);
  b.node(0, list_state({{4, add}})).node(1, list_state({{4, add}})).node(2, list_state({{4, add}}));
  CHECK(of(check(b.history()), Invariant::resurrection).empty());
}

TEST_CASE("a concurrent add that wins over a remove in an add-wins set is not a resurrection",
          "[invariants]") {
  Builder b(DataType::list, SupersedeRule::add_wins);
  const OpId add = b.op(1, OpKind::list_add, 4);
  b.ack(add).sees(2, 1);
  const OpId remove = b.op(2, OpKind::list_remove, 4);
  const OpId concurrent = b.op(3, OpKind::list_add, 4);
  b.ack(remove).ack(concurrent);
  b.node(0, list_state({{4, concurrent}})).node(1, list_state({{4, concurrent}}));
  CHECK(check(b.history()).empty());
}

TEST_CASE("a remove that was never acknowledged cannot be resurrected", "[invariants]") {
  Builder b(DataType::list, SupersedeRule::add_wins);
  const OpId add = b.op(1, OpKind::list_add, 4);
  b.ack(add).sees(2, 1);
  b.op(2, OpKind::list_remove, 4);
  b.node(0, list_state({{4, add}})).node(1, list_state({{4, add}}));
  CHECK(of(check(b.history()), Invariant::resurrection).empty());
}

TEST_CASE("a remove its live user was never answered about, undone on that user's own replica, is a silent rollback",
          "[invariants]") {
  // Client 2 removed item 4 after seeing its add; the remove was neither acknowledged nor rejected,
  // and client 2's own replica ends showing the item again.
  auto history = [](bool concurrent_add, bool live, bool acked) {
    Builder b(DataType::list, SupersedeRule::add_wins);
    const OpId add = b.op(1, OpKind::list_add, 4);
    b.ack(add).sees(2, 1);
    const OpId remove = b.op(2, OpKind::list_remove, 4);
    b.target(remove, add);
    if (acked) b.ack(remove);
    OpId shown = add;
    if (concurrent_add) {
      shown = b.op(3, OpKind::list_add, 4);  // never saw the remove: under add-wins it may win
      b.ack(shown);
    }
    b.node(0, list_state({{4, shown}})).node(2, list_state({{4, shown}}), live);
    return b.history();
  };
  const auto found = of(check(history(false, true, false)), Invariant::silent_rollback);
  REQUIRE(found.size() == 1);
  CHECK(found[0].subject == "item 4");
  CHECK(contains(found[0].observed, "node 2 (the removing client)"));
  CHECK(found[0].involved[0].op == OpId{2});
  CHECK(of(check(history(true, true, false)), Invariant::silent_rollback).empty());
  CHECK(check(history(false, false, false)).empty());  // a user no longer there was told nothing
  const auto acked = check(history(false, true, true));
  CHECK(of(acked, Invariant::silent_rollback).empty());
  CHECK(of(acked, Invariant::resurrection).size() == 1);
}

TEST_CASE("a text element shown again after its delete: a resurrection when acknowledged, a silent rollback on the deleting user's replica when not",
          "[invariants]") {
  auto history = [](bool acked, bool others_deleted) {
    Builder b(DataType::text, SupersedeRule::add_wins);
    const OpId insert = b.op(1, OpKind::text_insert);
    b.ack(insert).sees(2, 1);
    const OpId del = b.op(2, OpKind::text_delete);
    b.target(del, insert);
    if (acked) b.ack(del);
    // Node 2 shows the element again; node 0 and node 1 show it too unless the delete reached them.
    const State gone = text_state({});
    const State back = text_state({insert});
    b.node(0, others_deleted ? gone : back).node(1, others_deleted ? gone : back).node(2, back);
    return b.history();
  };
  const auto resurrected = of(check(history(true, false)), Invariant::resurrection);
  REQUIRE(resurrected.size() == 1);
  CHECK(resurrected[0].subject == "text element op1");
  CHECK(resurrected[0].involved[0].op == OpId{2});
  const auto rolled_back = check(history(false, false));
  REQUIRE(rolled_back.size() == 1);
  CHECK(rolled_back[0].invariant == Invariant::silent_rollback);
  CHECK(contains(rolled_back[0].observed, "node 2 (the deleting client)"));
  // Most replicas have the delete: the one without it diverged, which convergence reports alone.
  const auto diverged = check(history(true, true));
  CHECK(of(diverged, Invariant::resurrection).empty());
  CHECK_FALSE(of(diverged, Invariant::convergence).empty());
  // A delete its user was told failed may be undone.
  Builder b(DataType::text, SupersedeRule::add_wins);
  const OpId insert = b.op(1, OpKind::text_insert);
  b.ack(insert).sees(2, 1);
  const OpId del = b.op(2, OpKind::text_delete);
  b.target(del, insert).reject(del);
  b.node(0, text_state({insert})).node(2, text_state({insert}));
  CHECK(check(b.history()).empty());
}

// ------------------------------------------------------------------------------------------------
// Lost acknowledged writes.

TEST_CASE("an acknowledged later write replaced by an earlier one it had seen is lost",
          "[invariants]") {
  Builder b(DataType::map);
  const OpId first = b.op(1, OpKind::map_set, 2);
  b.ack(first).sees(2, 1);
  const OpId later = b.op(2, OpKind::map_set, 2);
  b.ack(later);
  b.node(0, map_state({{2, first}})).node(1, map_state({{2, first}})).node(2, map_state({{2, first}}));
  const auto found = check(b.history());
  REQUIRE(found.size() == 1);
  CHECK(found[0].invariant == Invariant::lost_acknowledged_write);
  CHECK(found[0].subject == "field 2");
  CHECK(contains(found[0].observed, "op1"));
  REQUIRE(found[0].involved.size() == 2);
  CHECK(found[0].involved[0].op == later);
  CHECK(found[0].involved[1].op == first);
}

TEST_CASE("a last-writer-wins value overwritten by a later write is not lost", "[invariants]") {
  Builder b(DataType::map);
  const OpId first = b.op(1, OpKind::map_set, 2);
  b.ack(first).sees(2, 1);
  const OpId later = b.op(2, OpKind::map_set, 2);
  b.ack(later);
  b.node(0, map_state({{2, later}})).node(1, map_state({{2, later}}));
  CHECK(check(b.history()).empty());
}

TEST_CASE("either of two concurrent acknowledged writes may win", "[invariants]") {
  Builder b(DataType::map);
  const OpId one = b.op(1, OpKind::map_set, 2);
  const OpId two = b.op(2, OpKind::map_set, 2);
  b.ack(one).ack(two);
  for (OpId winner : {one, two}) {
    b.history().finals.clear();
    b.node(0, map_state({{2, winner}})).node(1, map_state({{2, winner}}));
    CHECK(check(b.history()).empty());
  }
}

TEST_CASE("a concurrent write that is not what a replica shows does not excuse the older value it shows",
          "[invariants]") {
  // `older` happened before the acknowledged `newer`; `concurrent` was written meanwhile by a third
  // client and could have won, but the replicas show `older`: `newer` was lost, whatever else existed.
  for (SupersedeRule rule : {SupersedeRule::last_writer_wins, SupersedeRule::add_wins}) {
    Builder b(DataType::map, rule);
    const OpId older = b.op(1, OpKind::map_set, 2);
    b.ack(older).sees(2, 1);
    const OpId newer = b.op(2, OpKind::map_set, 2);
    const OpId concurrent = b.op(3, OpKind::map_set, 2);
    b.ack(newer);
    b.node(0, map_state({{2, older}})).node(1, map_state({{2, older}})).node(2, map_state({{2, older}}));
    const auto lost = of(check(b.history()), Invariant::lost_acknowledged_write);
    REQUIRE(lost.size() == 1);
    CHECK(lost[0].involved.front().op == newer);
    CHECK(lost[0].involved.back().op == older);
    // Shown instead, the concurrent write explains it.
    b.history().finals.clear();
    b.node(0, map_state({{2, concurrent}})).node(1, map_state({{2, concurrent}})).node(2, map_state({{2, concurrent}}));
    CHECK(of(check(b.history()), Invariant::lost_acknowledged_write).empty());
  }
}

TEST_CASE("a remove that superseded a write explains its absence even when an older value comes back",
          "[invariants]") {
  // The older value shown after the remove is the remove's resurrection: one finding, not two.
  Builder b(DataType::list, SupersedeRule::add_wins);
  const OpId add = b.op(1, OpKind::list_add, 4);
  b.ack(add).sees(2, 1);
  const OpId update = b.op(2, OpKind::list_update, 4);
  b.ack(update).sees(3, 2);
  const OpId remove = b.op(3, OpKind::list_remove, 4);
  b.ack(remove).target(remove, update);
  b.node(0, list_state({{4, add}})).node(1, list_state({{4, add}}));
  const auto found = check(b.history());
  CHECK(of(found, Invariant::lost_acknowledged_write).empty());
  CHECK(of(found, Invariant::resurrection).size() == 1);
}

TEST_CASE("under server order a remove does not excuse an acknowledged update rolled back to the value it overwrote",
          "[invariants]") {
  // Client 2 updates item 5 after seeing client 1's add; client 3 removes the item having seen only
  // the add. Whatever order the server picks, the item ends absent (the remove last) or showing the
  // update (an update ordered after the remove): never showing the add the update had overwritten.
  Builder b(DataType::list, SupersedeRule::server_order);
  const OpId add = b.op(1, OpKind::list_add, 5);
  b.ack(add).sees(2, 1).sees(3, 1);
  const OpId update = b.op(2, OpKind::list_update, 5);
  b.seen_before(update, {add}).ack(update);
  const OpId remove = b.op(3, OpKind::list_remove, 5);
  b.seen_before(remove, {add}).target(remove, add).ack(remove);
  auto ending = [&b](std::optional<OpId> shown) { return ending_with(b, 3, 5, shown); };
  SECTION("the item back at the add's value, which the remove took away: a resurrection") {
    const auto found = ending(add);
    REQUIRE(found.size() == 1);
    CHECK(found[0].invariant == Invariant::resurrection);
    CHECK(found[0].subject == "item 5");
    CHECK(found[0].involved.front().op == remove);
  }
  SECTION("with resurrection not judged, the update overwritten by nothing that may win is lost") {
    InvariantOptions options;
    options.enabled = {Invariant::lost_acknowledged_write};
    const auto found = [&] { ending(add); return check(b.history(), options); }();
    REQUIRE(found.size() == 1);
    CHECK(found[0].invariant == Invariant::lost_acknowledged_write);
    CHECK(found[0].involved.front().op == update);
  }
  SECTION("the same with the remove rejected: the update is lost") {
    b.unacknowledged(remove).reject(remove);
    const auto found = ending(add);
    REQUIRE(found.size() == 1);
    CHECK(found[0].invariant == Invariant::lost_acknowledged_write);
  }
  SECTION("the orders the server may pick are fine") {
    CHECK(ending(std::nullopt).empty());
    CHECK(ending(update).empty());
  }
}

TEST_CASE("in an add-wins list a remove that saw one update does not excuse a concurrent one rolled back",
          "[invariants]") {
  // Updates op2 and op3 of item 5 are concurrent, both after the add; remove op4 saw op3 only.
  // Add-wins lets the item end showing op2 (the update the remove never saw), or gone with the
  // value that beat it; never showing the add both updates had overwritten.
  Builder b(DataType::list, SupersedeRule::add_wins);
  const OpId add = b.op(1, OpKind::list_add, 5);
  b.ack(add).sees(2, 1).sees(3, 1);
  const OpId seen_update = b.op(2, OpKind::list_update, 5);
  b.ack(seen_update);
  const OpId other_update = b.op(3, OpKind::list_update, 5);
  b.ack(other_update).sees(4, 3);
  const OpId remove = b.op(4, OpKind::list_remove, 5);
  b.target(remove, other_update).ack(remove);
  auto ending = [&b](std::optional<OpId> shown) { return ending_with(b, 4, 5, shown); };
  SECTION("the item back at the add's value, which the remove took away: a resurrection") {
    const auto found = ending(add);
    REQUIRE(found.size() == 1);
    CHECK(found[0].invariant == Invariant::resurrection);
    CHECK(found[0].subject == "item 5");
    CHECK(contains(found[0].expected, "did not see"));
  }
  SECTION("with the remove unacknowledged, the update overwritten by nothing that may win is lost") {
    b.history().ops.at(remove.value - 1).acknowledged.reset();
    const auto found = ending(add);
    REQUIRE(found.size() == 1);
    CHECK(found[0].invariant == Invariant::lost_acknowledged_write);
    CHECK(found[0].involved.front().op == seen_update);
  }
  SECTION("an add concurrent with the value removed may have kept that value: nothing to report") {
    // Without the updates, the remove took the add away; a rival add of the item that never saw it
    // keeps the item, and a design that ranks values apart from presence may show either add.
    const OpId rival = b.op(5, OpKind::list_add, 5);  // client 5 never saw the add
    b.ack(rival).unissued(seen_update).unissued(other_update).target(remove, add);
    CHECK(ending(add).empty());
    CHECK(ending(rival).empty());
  }
  SECTION("without the update the remove never saw, the same state is the remove's resurrection") {
    b.unissued(seen_update);
    const auto found = ending(add);
    REQUIRE(found.size() == 1);
    CHECK(found[0].invariant == Invariant::resurrection);
  }
  SECTION("the outcomes add-wins allows are fine") {
    CHECK(ending(seen_update).empty());
    CHECK(ending(std::nullopt).empty());
  }
}

TEST_CASE("a write whose rejection was reported may vanish", "[invariants]") {
  Builder b(DataType::map);
  const OpId first = b.op(1, OpKind::map_set, 2);
  b.ack(first).sees(2, 1);
  const OpId rejected = b.op(2, OpKind::map_set, 2);
  b.reject(rejected);
  b.node(0, map_state({{2, first}})).node(2, map_state({{2, first}}));
  CHECK(check(b.history()).empty());
}

TEST_CASE("under server order another client's write its writer had not seen applied may supersede",
          "[invariants]") {
  // The engine's happens-before says client 2 could have seen `first` (a handshake carried it),
  // but nobody saw it applied before `later` was issued: the server may have ordered it later.
  Builder b(DataType::map, SupersedeRule::server_order);
  const OpId first = b.op(1, OpKind::map_set, 2);
  b.ack(first).sees(2, 1);
  const OpId later = b.op(2, OpKind::map_set, 2);
  b.ack(later);
  b.node(0, map_state({{2, first}})).node(1, map_state({{2, first}}));
  CHECK(check(b.history()).empty());
}

TEST_CASE("under server order a client's own earlier write never supersedes its later one",
          "[invariants]") {
  Builder b(DataType::map, SupersedeRule::server_order);
  const OpId earlier = b.op(1, OpKind::map_set, 7);
  const OpId later = b.op(1, OpKind::map_set, 7);
  b.ack(earlier).ack(later);
  // The earlier write was lost on its way and resent after the later one was answered.
  b.history().ops.at(earlier.value - 1).acknowledged = Instant::start() + Duration::seconds(5);
  b.node(0, map_state({{7, earlier}})).node(1, map_state({{7, earlier}}));
  SECTION("with the check on, it is named a monotonic-writes violation") {
    const auto found = check(b.history());
    REQUIRE(found.size() == 1);
    CHECK(found[0].invariant == Invariant::monotonic_writes);
    CHECK(found[0].subject == "field 7");
    CHECK(found[0].involved.front().op == later);
    CHECK(found[0].involved.back().op == earlier);
  }
  SECTION("with the check off, it is still a lost acknowledged write") {
    InvariantOptions options;
    options.enabled = {Invariant::lost_acknowledged_write};
    const auto found = check(b.history(), options);
    REQUIRE(found.size() == 1);
    CHECK(found[0].invariant == Invariant::lost_acknowledged_write);
  }
  SECTION("answered in order, the later write was lost rather than reordered") {
    b.ack(earlier);
    const auto found = check(b.history());
    REQUIRE(found.size() == 1);
    CHECK(found[0].invariant == Invariant::lost_acknowledged_write);
  }
  SECTION("the later write supersedes the earlier one") {
    b.history().finals.clear();
    b.node(0, map_state({{7, later}})).node(1, map_state({{7, later}}));
    CHECK(check(b.history()).empty());
  }
}

TEST_CASE("under server order a write acknowledged before another was issued is never ordered after it",
          "[invariants]") {
  Builder b(DataType::map, SupersedeRule::server_order);
  const OpId old_write = b.op(2, OpKind::map_set, 4);
  b.ack(old_write);  // acknowledged 50 ms after its issue
  b.op(3, OpKind::list_add, 9);  // time passes: 10 ms
  b.op(3, OpKind::list_add, 9);
  b.op(3, OpKind::list_add, 9);
  b.op(3, OpKind::list_add, 9);
  b.op(3, OpKind::list_add, 9);
  const OpId lost = b.op(1, OpKind::map_set, 4);  // 60 ms after old_write: after its acknowledgement
  b.ack(lost);
  b.node(0, map_state({{4, old_write}})).node(1, map_state({{4, old_write}}));
  const auto found = of(check(b.history()), Invariant::lost_acknowledged_write);
  REQUIRE(found.size() == 1);
  CHECK(found[0].involved.front().op == lost);
}

TEST_CASE("under server order a remove covers only the writes users saw applied before it", "[invariants]") {
  // Client 3's update was on its way to the server, stalled, when a handshake carried client 3's
  // causal past to client 1: the engine's happens-before puts it before client 1's update, which
  // client 2 then removed. Nobody saw it applied; the server applied it after the remove.
  Builder b(DataType::list, SupersedeRule::server_order);
  const OpId add = b.op(1, OpKind::list_add, 5);
  b.ack(add);
  const OpId late = b.op(3, OpKind::list_update, 5);
  b.sees(1, 3);
  const OpId shown = b.op(1, OpKind::list_update, 5);
  b.ack(shown).sees(2, 1);
  const OpId remove = b.op(2, OpKind::list_remove, 5);
  b.ack(remove).target(remove, shown);
  b.node(0, list_state({{5, late}})).node(1, list_state({{5, late}})).node(2, list_state({{5, late}}));
  SECTION("applied after the remove, as the server may: no resurrection") {
    b.history().ops.at(late.value - 1).acknowledged = Instant::start() + Duration::seconds(9);
    CHECK(of(check(b.history()), Invariant::resurrection).empty());
  }
  SECTION("acknowledged to its user before the remove was issued: the remove covered it") {
    b.history().ops.at(late.value - 1).acknowledged = b.history().ops.at(remove.value - 1).op.issued_at - Duration::millis(1);
    CHECK(of(check(b.history()), Invariant::resurrection).size() == 1);
  }
  SECTION("shown on the remover's replica before the remove: covered") {
    b.history().ops.at(remove.value - 1).seen_before = {late};
    CHECK(of(check(b.history()), Invariant::resurrection).size() == 1);
  }
}

namespace {
ViewRegression regression(std::uint32_t node, OpId from, OpId to, std::uint32_t key, Duration at = Duration::seconds(30)) {
  return ViewRegression{NodeId{node}, Instant::start() + at, KeyId{key}, from, to};
}
}  // namespace

TEST_CASE("a view that goes back from the user's own write to an older value breaks read-your-writes",
          "[invariants][sessions]") {
  Builder b(DataType::map, SupersedeRule::server_order);
  const OpId old_value = b.op(2, OpKind::map_set, 3);
  b.ack(old_value);
  b.op(3, OpKind::list_add, 9);  // time passes: the old value is acknowledged before the next write
  b.op(3, OpKind::list_add, 9);
  b.op(3, OpKind::list_add, 9);
  b.op(3, OpKind::list_add, 9);
  b.op(3, OpKind::list_add, 9);
  const OpId mine = b.op(1, OpKind::map_set, 3);
  b.ack(mine);
  b.node(0, map_state({{3, mine}})).node(1, map_state({{3, mine}})).node(2, map_state({{3, mine}}));
  b.history().view_regressions.push_back(regression(1, mine, old_value, 3));
  SECTION("on the writer's own replica: read-your-writes") {
    const auto found = check(b.history());
    REQUIRE(found.size() == 1);
    CHECK(found[0].invariant == Invariant::read_your_writes);
    CHECK(found[0].subject == "field 3");
    CHECK(found[0].involved.front().op == mine);
  }
  SECTION("on another replica: monotonic reads") {
    b.history().view_regressions.front().node = NodeId{2};
    const auto found = check(b.history());
    REQUIRE(found.size() == 1);
    CHECK(found[0].invariant == Invariant::monotonic_reads);
  }
  SECTION("the write was rejected before the view went back: its user was told") {
    b.history().ops.at(mine.value - 1).acknowledged.reset();
    b.history().ops.at(mine.value - 1).rejected = Instant::start() + Duration::seconds(29);
    CHECK(of(check(b.history()), Invariant::read_your_writes).empty());
  }
  SECTION("rejected only after the view went back: the user saw it vanish untold") {
    b.history().ops.at(mine.value - 1).acknowledged.reset();
    b.history().ops.at(mine.value - 1).rejected = Instant::start() + Duration::seconds(31);
    CHECK(of(check(b.history()), Invariant::read_your_writes).size() == 1);
  }
  SECTION("rejected after its acknowledgement: the acknowledgement stands, the view went back") {
    b.history().ops.at(mine.value - 1).rejected = Instant::start() + Duration::seconds(29);
    CHECK(of(check(b.history()), Invariant::read_your_writes).size() == 1);
  }
  SECTION("a value vanishing from a map view altogether goes back too") {
    b.history().view_regressions.front().to = OpId{};
    CHECK(of(check(b.history()), Invariant::read_your_writes).size() == 1);
  }
}

TEST_CASE("a text element gone from a view with no delete of it issued goes back in time",
          "[invariants][sessions]") {
  // The engine keys a text view by element id: an element can only vanish (to = 0).
  Builder b(DataType::text, SupersedeRule::add_wins);
  const OpId mine = b.op(1, OpKind::text_insert);
  const OpId theirs = b.op(2, OpKind::text_insert);
  b.ack(mine).ack(theirs);
  b.node(0, text_state({mine, theirs})).node(1, text_state({mine, theirs})).node(2, text_state({mine, theirs}));
  b.history().view_regressions.push_back(regression(1, mine, OpId{}, static_cast<std::uint32_t>(mine.value)));
  b.history().view_regressions.push_back(regression(1, theirs, OpId{}, static_cast<std::uint32_t>(theirs.value)));
  SECTION("no delete: the own insert breaks read-your-writes, the other's monotonic reads") {
    const auto found = check(b.history());
    REQUIRE(of(found, Invariant::read_your_writes).size() == 1);
    CHECK(of(found, Invariant::read_your_writes)[0].subject == "text element op1");
    REQUIRE(of(found, Invariant::monotonic_reads).size() == 1);
    CHECK(of(found, Invariant::monotonic_reads)[0].subject == "text element op2");
  }
  SECTION("a delete of the element issued by then explains it; one issued later does not") {
    const OpId del = b.op(3, OpKind::text_delete);  // issued at 30 ms, before the sample at 30 s
    b.target(del, theirs);
    const auto found = check(b.history());
    CHECK(of(found, Invariant::monotonic_reads).empty());
    CHECK(of(found, Invariant::read_your_writes).size() == 1);
    b.history().view_regressions.back().at = Instant::start() + Duration::millis(20);
    CHECK(of(check(b.history()), Invariant::monotonic_reads).size() == 1);
  }
}

TEST_CASE("a view may move to a write the rule lets win, and a list item may vanish once removed",
          "[invariants][sessions]") {
  SECTION("server order: another client's write nobody saw applied first may come after") {
    Builder b(DataType::map, SupersedeRule::server_order);
    const OpId other = b.op(2, OpKind::map_set, 3);
    const OpId mine = b.op(1, OpKind::map_set, 3);
    b.ack(other).ack(mine);
    b.node(0, map_state({{3, other}})).node(1, map_state({{3, other}}));
    b.history().view_regressions.push_back(regression(1, mine, other, 3));
    CHECK(check(b.history()).empty());
  }
  SECTION("last writer wins: a write its writer never saw may rank either way mid-merge; one it saw, or "
          "its own earlier one, may not") {
    Builder b(DataType::map, SupersedeRule::last_writer_wins);
    const OpId first = b.op(2, OpKind::map_set, 3);
    b.sees(3, 2);
    const OpId later = b.op(3, OpKind::map_set, 3);
    b.node(0, map_state({{3, later}})).node(1, map_state({{3, later}}));
    b.history().view_regressions.push_back(regression(4, later, first, 3));
    CHECK(of(check(b.history()), Invariant::monotonic_reads).empty());
    b.history().ops.at(later.value - 1).seen_before = {first};
    CHECK(of(check(b.history()), Invariant::monotonic_reads).size() == 1);
    const OpId own_later = b.op(2, OpKind::map_set, 3);
    b.history().view_regressions.push_back(regression(5, own_later, first, 3));
    CHECK(of(check(b.history()), Invariant::monotonic_reads).size() == 1);  // one report per field
    b.history().ops.at(later.value - 1).seen_before.clear();
    const auto found = of(check(b.history()), Invariant::monotonic_reads);
    REQUIRE(found.size() == 1);
    CHECK(found[0].involved.front().op == own_later);
  }
  SECTION("add-wins list: an item vanishes after a remove was issued, not before") {
    Builder b(DataType::list, SupersedeRule::add_wins);
    const OpId add = b.op(1, OpKind::list_add, 5);
    b.ack(add);
    const OpId remove = b.op(2, OpKind::list_remove, 5);
    b.ack(remove).target(remove, add);
    b.node(0, list_state({})).node(1, list_state({}));
    b.history().view_regressions.push_back(regression(3, add, OpId{}, 5));
    CHECK(of(check(b.history()), Invariant::monotonic_reads).empty());
    b.history().view_regressions.front().at = Instant::start() + Duration::millis(15);  // before the remove
    CHECK(of(check(b.history()), Invariant::monotonic_reads).size() == 1);
  }
}

TEST_CASE("an item re-added after its user saw the remove may not vanish from a view on account of that remove",
          "[invariants][sessions]") {
  for (SupersedeRule rule : {SupersedeRule::add_wins, SupersedeRule::server_order, SupersedeRule::last_writer_wins}) {
    INFO("rule " << to_string(rule));
    Builder b(DataType::list, rule);
    const OpId add = b.op(1, OpKind::list_add, 5);
    b.ack(add).sees(2, 1);
    const OpId remove = b.op(2, OpKind::list_remove, 5);
    b.target(remove, add).ack(remove).sees(1, 2);
    for (int i = 0; i < 10; ++i) b.op(3, OpKind::map_set, 9);  // time passes: 100 ms
    const OpId readd = b.op(1, OpKind::list_add, 5);  // after the remove was acknowledged and seen
    b.ack(readd);
    for (std::uint32_t n = 0; n <= 4; ++n) b.node(n, list_state({{5, readd}}));
    b.history().view_regressions.push_back(regression(4, readd, OpId{}, 5, Duration::seconds(1)));
    // The re-add vanishing from a view goes back in time.
    const auto found = of(check(b.history()), Invariant::monotonic_reads);
    REQUIRE(found.size() == 1);
    CHECK(found[0].subject == "item 5");
    CHECK(found[0].involved.front().op == readd);
    // The add the remove took away may vanish...
    b.history().view_regressions.front().from = add;
    CHECK(of(check(b.history()), Invariant::monotonic_reads).empty());
    // ...but not with no remove at all.
    b.unissued(remove);
    CHECK(of(check(b.history()), Invariant::monotonic_reads).size() == 1);
  }
}

TEST_CASE("a view going back to a write that users saw ordered first through a chain of writes breaks monotonic reads",
          "[invariants][sessions]") {
  SECTION("last writer wins: two hops of seen writes") {
    Builder b(DataType::map, SupersedeRule::last_writer_wins);
    const OpId w1 = b.op(1, OpKind::map_set, 7);
    b.ack(w1).sees(2, 1);
    const OpId w2 = b.op(2, OpKind::map_set, 7);
    b.seen_before(w2, {w1}).ack(w2).sees(3, 2);
    const OpId w3 = b.op(3, OpKind::map_set, 7);
    b.seen_before(w3, {w2}).ack(w3);
    const OpId unrelated = b.op(5, OpKind::map_set, 7);  // nobody saw it: either may win
    for (std::uint32_t n = 0; n <= 5; ++n) b.node(n, map_state({{7, w3}}));
    b.history().view_regressions.push_back(regression(4, w3, w1, 7));
    const auto found = of(check(b.history()), Invariant::monotonic_reads);
    REQUIRE(found.size() == 1);
    CHECK(found[0].involved.front().op == w3);
    CHECK(found[0].involved.back().op == w1);
    b.history().view_regressions.front() = regression(4, w2, w1, 7);  // one hop, as before
    CHECK(of(check(b.history()), Invariant::monotonic_reads).size() == 1);
    b.history().view_regressions.front() = regression(4, w3, unrelated, 7);
    CHECK(of(check(b.history()), Invariant::monotonic_reads).empty());
  }
  SECTION("a write seen before the writer's own earlier write of the field") {
    Builder b(DataType::map, SupersedeRule::last_writer_wins);
    const OpId theirs = b.op(1, OpKind::map_set, 7);
    b.sees(2, 1);
    const OpId first = b.op(2, OpKind::map_set, 7);
    b.seen_before(first, {theirs});
    const OpId again = b.op(2, OpKind::map_set, 7);  // its own record forgot `theirs`
    for (std::uint32_t n = 0; n <= 3; ++n) b.node(n, map_state({{7, again}}));
    b.history().view_regressions.push_back(regression(3, again, theirs, 7));
    CHECK(of(check(b.history()), Invariant::monotonic_reads).size() == 1);
  }
  SECTION("server order: two hops of seen writes, none acknowledged in time to order them") {
    Builder b(DataType::map, SupersedeRule::server_order);
    const OpId w1 = b.op(1, OpKind::map_set, 7);
    const OpId w2 = b.op(2, OpKind::map_set, 7);
    b.seen_before(w2, {w1});
    const OpId w3 = b.op(3, OpKind::map_set, 7);
    b.seen_before(w3, {w2}).ack(w1).ack(w2).ack(w3);
    for (std::uint32_t n = 0; n <= 4; ++n) b.node(n, map_state({{7, w3}}));
    b.history().view_regressions.push_back(regression(4, w3, w1, 7));
    CHECK(of(check(b.history()), Invariant::monotonic_reads).size() == 1);
    b.seen_before(w2, {});  // w2's client never showed w1: the server may have ordered it last
    CHECK(of(check(b.history()), Invariant::monotonic_reads).empty());
  }
}

TEST_CASE("under server order a write shown on the writer's replica before it wrote is never ordered after it",
          "[invariants]") {
  Builder b(DataType::map, SupersedeRule::server_order);
  const OpId shown = b.op(2, OpKind::map_set, 4);  // never acknowledged to its own user
  const OpId lost = b.op(1, OpKind::map_set, 4);
  b.ack(lost);
  b.node(0, map_state({{4, shown}})).node(1, map_state({{4, shown}}));
  SECTION("not seen before: the server may have ordered it later") {
    CHECK(of(check(b.history()), Invariant::lost_acknowledged_write).empty());
  }
  SECTION("seen on the writer's replica before the write: it cannot supersede") {
    b.history().ops.at(lost.value - 1).seen_before = {shown};
    const auto found = of(check(b.history()), Invariant::lost_acknowledged_write);
    REQUIRE(found.size() == 1);
    CHECK(found[0].involved.front().op == lost);
  }
}

TEST_CASE("under server order a remove the writer had already seen cannot excuse a lost add",
          "[invariants]") {
  Builder b(DataType::list, SupersedeRule::server_order);
  const OpId remove = b.op(1, OpKind::list_remove, 2);
  const OpId add = b.op(1, OpKind::list_add, 2);
  b.ack(remove).ack(add);
  b.node(0, list_state({})).node(1, list_state({}));
  const auto found = check(b.history());
  REQUIRE(found.size() == 1);
  CHECK(found[0].invariant == Invariant::lost_acknowledged_write);
  CHECK(found[0].subject == "item 2");

  // A concurrent remove may have been ordered after the add.
  b.op(2, OpKind::list_remove, 2);
  CHECK(check(b.history()).empty());
}

TEST_CASE("a remove that never reached a replica explains nothing that replica lacks", "[invariants]") {
  // An acknowledged add, and a concurrent remove by a client that went offline with it and never
  // came back (down at the end): the server and the adder end without the item, and neither ever
  // received the remove. The add was lost.
  for (const SupersedeRule rule : {SupersedeRule::last_writer_wins, SupersedeRule::server_order}) {
    Builder b(DataType::list, rule);
    const OpId add = b.op(2, OpKind::list_add, 5);
    b.ack(add);
    const OpId remove = b.op(1, OpKind::list_remove, 5);
    b.unapplied(remove);
    b.node(0, list_state({})).node(1, std::nullopt, false).node(2, list_state({}));
    b.knows(0, {2}).knows(2, {2});
    const auto found = of(check(b.history()), Invariant::lost_acknowledged_write);
    REQUIRE(found.size() == 1);
    CHECK(found[0].subject == "item 5");

    // The same remove having reached them explains the item's absence.
    b.knows(0, {1, 2}).knows(2, {1, 2});
    CHECK(check(b.history()).empty());
  }

  // Nor may a write they never received stand in for a replaced one: under add-wins, a write of
  // client 1 that replaced the add there, then removed by client 1, explains nothing on the others.
  Builder chain(DataType::list, SupersedeRule::add_wins);
  const OpId add = chain.op(2, OpKind::list_add, 5);
  chain.ack(add);
  const OpId update = chain.op(1, OpKind::list_update, 5);
  chain.unapplied(update);
  const OpId remove = chain.op(1, OpKind::list_remove, 5);
  chain.target(remove, update).unapplied(remove);
  chain.node(0, list_state({})).node(1, std::nullopt, false).node(2, list_state({}));
  chain.knows(0, {2}).knows(2, {2});
  CHECK(of(check(chain.history()), Invariant::lost_acknowledged_write).size() == 1);
}

TEST_CASE("an item may vanish from a view only on account of a remove that had reached it",
          "[invariants]") {
  // Client 1 shows client 2's add, then no item; the only remove is client 3's, which client 1 had
  // not received by that sample.
  Builder b(DataType::list);
  const OpId add = b.op(2, OpKind::list_add, 5);
  b.ack(add);
  b.op(3, OpKind::list_remove, 5);
  b.history().view_regressions.push_back(
      {NodeId{1}, Instant::start() + Duration::seconds(1), KeyId{5}, add, OpId{}, b.past_of({2})});
  b.node(0, list_state({})).node(1, list_state({})).node(2, list_state({}));
  CHECK(of(check(b.history()), Invariant::monotonic_reads).size() == 1);

  // Having received it, the remove explains it.
  b.history().view_regressions.front().past = b.past_of({2, 3});
  CHECK(of(check(b.history()), Invariant::monotonic_reads).empty());
}

TEST_CASE("under server order a remove before a re-add excuses neither the re-add nor an update of it",
          "[invariants]") {
  // Remove, re-add, update, one user in that order, each acknowledged: the server applied them in
  // that order, so the item must end showing the update. The remove is no update's superseder: the
  // re-add brought the item back between them.
  Builder b(DataType::list, SupersedeRule::server_order);
  const OpId remove = b.op(1, OpKind::list_remove, 2);
  const OpId add = b.op(1, OpKind::list_add, 2);
  const OpId update = b.op(1, OpKind::list_update, 2);
  b.ack(remove).ack(add).ack(update);
  b.node(0, list_state({})).node(1, list_state({}));
  const auto found = of(check(b.history()), Invariant::lost_acknowledged_write);
  REQUIRE(found.size() == 1);
  CHECK(found[0].subject == "item 2");

  // Another user's update made after it saw the re-add, the same.
  Builder other(DataType::list, SupersedeRule::server_order);
  const OpId remove2 = other.op(1, OpKind::list_remove, 2);
  const OpId add2 = other.op(1, OpKind::list_add, 2);
  other.ack(remove2).ack(add2).sees(2, 1);
  const OpId update2 = other.op(2, OpKind::list_update, 2);
  other.seen_before(update2, {add2}).ack(update2);
  other.node(0, list_state({})).node(1, list_state({})).node(2, list_state({}));
  CHECK(of(check(other.history()), Invariant::lost_acknowledged_write).size() == 1);

  // Without a re-add between them, a remove applied before an update left it no item to change.
  Builder plain(DataType::list, SupersedeRule::server_order);
  const OpId first = plain.op(2, OpKind::list_add, 2);
  plain.ack(first).sees(1, 2);
  const OpId remove3 = plain.op(1, OpKind::list_remove, 2);
  plain.target(remove3, first).ack(remove3);
  const OpId update3 = plain.op(1, OpKind::list_update, 2);
  plain.ack(update3);
  plain.node(0, list_state({})).node(1, list_state({})).node(2, list_state({}));
  CHECK(check(plain.history()).empty());
}

TEST_CASE("a remove that happened before a write cannot take away what superseded the write", "[invariants]") {
  // Client 2 removes the item after seeing client 1's add; client 3 updates it concurrently; client
  // 1, having seen the remove, adds the item again. The re-add came after the remove, so no order
  // lets the remove take away the update and the re-add with it.
  for (SupersedeRule rule : {SupersedeRule::last_writer_wins, SupersedeRule::remove_wins}) {
    INFO("rule " << to_string(rule));
    Builder b(DataType::list, rule);
    const OpId add = b.op(1, OpKind::list_add, 4);
    b.ack(add).sees(2, 1);
    const OpId remove = b.op(2, OpKind::list_remove, 4);
    b.target(remove, add).ack(remove);
    const OpId update = b.op(3, OpKind::list_update, 4);
    b.ack(update).sees(1, 2);
    const OpId readd = b.op(1, OpKind::list_add, 4);
    b.ack(readd);
    for (std::uint32_t n = 0; n <= 3; ++n) b.node(n, list_state({}));
    const auto found = of(check(b.history()), Invariant::lost_acknowledged_write);
    REQUIRE(found.size() == 1);
    CHECK(found[0].involved.front().op == readd);
  }
}

TEST_CASE("an acknowledged text insert missing without a delete is lost, with one it is not",
          "[invariants]") {
  Builder b(DataType::text);
  const OpId insert = b.op(1, OpKind::text_insert);
  b.ack(insert);
  b.node(0, text_state({})).node(1, text_state({}));
  const auto found = check(b.history());
  REQUIRE(found.size() == 1);
  CHECK(found[0].invariant == Invariant::lost_acknowledged_write);
  CHECK(found[0].subject == "text element op1");

  b.sees(2, 1);
  const OpId del = b.op(2, OpKind::text_delete);
  b.target(del, insert);
  CHECK(check(b.history()).empty());
}

TEST_CASE("in an add-wins list a remove that never saw an add does not excuse its loss",
          "[invariants]") {
  auto run = [](SupersedeRule rule) {
    Builder b(DataType::list, rule);
    const OpId add = b.op(1, OpKind::list_add, 3);
    const OpId remove = b.op(2, OpKind::list_remove, 3);
    b.ack(add).ack(remove);
    b.node(0, list_state({})).node(1, list_state({}));
    return of(check(b.history()), Invariant::lost_acknowledged_write);
  };
  const auto add_wins = run(SupersedeRule::add_wins);
  REQUIRE(add_wins.size() == 1);
  CHECK(add_wins[0].subject == "item 3");
  CHECK(run(SupersedeRule::remove_wins).empty());
  CHECK(run(SupersedeRule::last_writer_wins).empty());
}

TEST_CASE("an acknowledged lost write is not also reported as a silent rollback", "[invariants]") {
  Builder b(DataType::map);
  const OpId w = b.op(1, OpKind::map_set, 5);
  b.ack(w);
  b.node(0, map_state({})).node(1, map_state({}));
  const auto found = check(b.history());
  REQUIRE(found.size() == 1);
  CHECK(found[0].invariant == Invariant::lost_acknowledged_write);
}

// ------------------------------------------------------------------------------------------------
// Silent rollbacks.

TEST_CASE("an applied write that vanishes without a rejection is a silent rollback at its own client",
          "[invariants]") {
  Builder b(DataType::map);
  const OpId w = b.op(3, OpKind::map_set, 5);
  b.node(0, map_state({})).node(1, map_state({})).node(3, map_state({}));
  const auto found = check(b.history());
  REQUIRE(found.size() == 1);
  CHECK(found[0].invariant == Invariant::silent_rollback);
  CHECK(found[0].subject == "field 5");
  CHECK(contains(found[0].observed, "node 3"));
  REQUIRE(found[0].involved.size() == 1);
  CHECK(found[0].involved[0].op == w);
}

TEST_CASE("an unacknowledged write superseded by a concurrent one is not a rollback", "[invariants]") {
  Builder b(DataType::map);
  b.op(1, OpKind::map_set, 5);
  const OpId other = b.op(2, OpKind::map_set, 5);
  b.ack(other);
  b.node(0, map_state({{5, other}})).node(1, map_state({{5, other}})).node(2, map_state({{5, other}}));
  CHECK(check(b.history()).empty());
}

TEST_CASE("an acknowledged write is judged as acknowledged whatever rejection its model reports too", "[invariants]") {
  // An acknowledgement promises the write is kept. A model that reports a rejection after it (or
  // before it, and then acknowledges) has not told its user the write failed: the write's absence
  // is a lost acknowledged write, not an excused one.
  for (bool rejected_first : {false, true}) {
    INFO((rejected_first ? "rejected, then acknowledged" : "acknowledged, then rejected"));
    Builder b(DataType::map);
    const OpId w = b.op(1, OpKind::map_set, 4);
    b.ack(w).reject(w);
    if (rejected_first) b.history().ops.at(w.value - 1).acknowledged = *b.history().ops.at(w.value - 1).rejected + Duration::millis(5);
    b.node(0, map_state({})).node(1, map_state({}));
    const auto found = check(b.history());
    REQUIRE(of(found, Invariant::lost_acknowledged_write).size() == 1);
    INFO(format_violation(found.front(), b.history()));
    CHECK(contains(format_violation(found.front(), b.history()), "stands"));  // wrapped at 100 columns
    // Shown at the end it is no phantom: it was saved.
    b.history().finals.clear();
    b.node(0, map_state({{4, w}})).node(1, map_state({{4, w}}));
    CHECK(check(b.history()).empty());
  }
  // Told only that it failed, it may vanish.
  Builder told(DataType::map);
  const OpId w = told.op(1, OpKind::map_set, 4);
  told.reject(w);
  told.node(0, map_state({})).node(1, map_state({}));
  CHECK(check(told.history()).empty());
}

TEST_CASE("an applied write whose rejection was shown is not a rollback", "[invariants]") {
  Builder b(DataType::list);
  const OpId w = b.op(1, OpKind::list_add, 5);
  b.reject(w);
  b.node(0, list_state({})).node(1, list_state({}));
  CHECK(check(b.history()).empty());
}

TEST_CASE("an intent that was never issued or never applied is not judged", "[invariants]") {
  Builder b(DataType::map);
  const OpId lost_intent = b.op(1, OpKind::map_set, 5);
  const OpId never_applied = b.op(2, OpKind::map_set, 6);
  b.unissued(lost_intent).unapplied(never_applied);
  b.node(0, map_state({})).node(1, map_state({}));
  CHECK(check(b.history()).empty());
}

// ------------------------------------------------------------------------------------------------
// Phantom or double-applied values.

TEST_CASE("a map value that no set of that field wrote is a phantom", "[invariants]") {
  Builder b(DataType::map);
  const OpId elsewhere = b.op(1, OpKind::map_set, 1);
  b.ack(elsewhere);
  b.node(0, map_state({{1, elsewhere}, {2, elsewhere}, {3, OpId{99}}}));
  const auto found = of(check(b.history()), Invariant::phantom_or_double_applied);
  REQUIRE(found.size() == 2);
  CHECK(found[0].subject == "field 2");
  CHECK(found[1].subject == "field 3");
}

TEST_CASE("a map field present twice is double-applied", "[invariants]") {
  Builder b(DataType::map);
  const OpId set = b.op(1, OpKind::map_set, 3);
  b.ack(set);
  State twice = map_state({{3, set}});
  twice.fields.push_back(twice.fields.front());
  b.node(0, twice);
  const auto found = of(check(b.history()), Invariant::phantom_or_double_applied);
  REQUIRE(found.size() == 1);
  CHECK(found[0].subject == "field 3");
}

TEST_CASE("a list item present twice is double-applied", "[invariants]") {
  Builder b(DataType::list);
  const OpId add = b.op(1, OpKind::list_add, 3);
  b.ack(add);
  b.node(0, list_state({{3, add}, {3, add}}));
  const auto found = of(check(b.history()), Invariant::phantom_or_double_applied);
  REQUIRE(found.size() == 1);
  CHECK(found[0].subject == "item 3");
  CHECK(contains(found[0].observed, "2 times"));
}

TEST_CASE("a text element present twice or never inserted is flagged", "[invariants]") {
  Builder b(DataType::text);
  const OpId insert = b.op(1, OpKind::text_insert);
  const OpId unissued = b.op(1, OpKind::text_insert);
  b.ack(insert).unissued(unissued);
  b.node(0, text_state({insert, unissued, insert}));
  const auto found = of(check(b.history()), Invariant::phantom_or_double_applied);
  REQUIRE(found.size() == 2);
  CHECK(found[0].subject == "text element op1");
  CHECK(contains(found[0].observed, "2 times"));
  CHECK(found[1].subject == "text element op2");
}

TEST_CASE("a counter excludes a rejected increment and reports double-applied or lost amounts",
          "[invariants]") {
  Builder b(DataType::counter);
  b.ack(b.op(1, OpKind::counter_add, 0, 5));
  b.reject(b.op(2, OpKind::counter_add, 0, 3));
  b.node(0, counter_state(5)).node(1, counter_state(5));
  CHECK(check(b.history()).empty());

  b.history().finals = {{NodeId{0}, true, true, counter_state(8), 0}};
  const auto doubled = check(b.history());
  REQUIRE(doubled.size() == 1);
  CHECK(doubled[0].subject == "counter");
  CHECK(doubled[0].expected == "5");
  CHECK(contains(doubled[0].detail, "double-applied by 3"));

  b.history().finals = {{NodeId{0}, true, true, counter_state(0), 0}};
  const auto lost = check(b.history());
  REQUIRE(lost.size() == 1);
  CHECK(contains(lost[0].detail, "lost by 5"));
}

TEST_CASE("a counter report names the increments whose amount alone explains the difference", "[invariants]") {
  Builder b(DataType::counter);
  const OpId seven = b.op(1, OpKind::counter_add, 0, 7);
  const OpId forty = b.op(2, OpKind::counter_add, 0, 40);
  const OpId rejected = b.op(2, OpKind::counter_add, 0, 9);
  b.ack(seven).ack(forty).reject(rejected);

  b.node(0, counter_state(40));  // short by 7: the first increment is missing
  auto found = check(b.history());
  REQUIRE(found.size() == 1);
  REQUIRE(found[0].involved.size() == 1);
  CHECK(found[0].involved[0].op == seven);
  CHECK(contains(found[0].involved[0].role, "may lack"));

  b.history().finals = {{NodeId{0}, true, true, counter_state(56), 0}};  // 47 + 9: the rejected one counted
  found = check(b.history());
  REQUIRE(found.size() == 1);
  REQUIRE(found[0].involved.size() == 1);
  CHECK(found[0].involved[0].op == rejected);
  CHECK(contains(found[0].involved[0].role, "rejected"));

  b.history().finals = {{NodeId{0}, true, true, counter_state(60), 0}};  // 13 too many: no single increment
  found = check(b.history());
  REQUIRE(found.size() == 1);
  CHECK(found[0].involved.empty());
}

TEST_CASE("a write its user was told had been rejected, shown at the end, is a phantom", "[invariants]") {
  SECTION("a map field") {
    Builder b(DataType::map, SupersedeRule::server_order);
    const OpId rejected = b.op(1, OpKind::map_set, 3);
    b.reject(rejected);
    b.node(0, map_state({{3, rejected}})).node(1, map_state({{3, rejected}})).node(2, map_state({{3, rejected}}));
    const auto found = check(b.history());
    REQUIRE(found.size() == 1);
    CHECK(found[0].invariant == Invariant::phantom_or_double_applied);
    CHECK(found[0].subject == "field 3");
    CHECK(contains(found[0].detail, "rejected"));
    b.history().finals.clear();
    b.node(0, map_state({})).node(1, map_state({}));  // gone, as its user was told
    CHECK(check(b.history()).empty());
  }
  SECTION("a list item and a text element") {
    Builder list(DataType::list, SupersedeRule::add_wins);
    const OpId add = list.op(1, OpKind::list_add, 4);
    list.reject(add);
    list.node(0, list_state({{4, add}})).node(1, list_state({{4, add}}));
    CHECK(of(check(list.history()), Invariant::phantom_or_double_applied).size() == 1);
    Builder text(DataType::text, SupersedeRule::add_wins);
    const OpId insert = text.op(1, OpKind::text_insert);
    text.reject(insert);
    text.node(0, text_state({insert})).node(1, text_state({insert}));
    CHECK(of(check(text.history()), Invariant::phantom_or_double_applied).size() == 1);
  }
}

TEST_CASE("a counter counts an acknowledged increment that was never reported applied, but not an "
          "unapplied one", "[invariants]") {
  Builder b(DataType::counter);
  const OpId confirmed = b.op(1, OpKind::counter_add, 0, 4);
  const OpId pending = b.op(2, OpKind::counter_add, 0, 7);
  b.unapplied(confirmed).ack(confirmed).unapplied(pending);
  b.node(0, counter_state(4));
  CHECK(check(b.history()).empty());
}

// ------------------------------------------------------------------------------------------------
// Bounded metadata.

TEST_CASE("metadata above the bound on a live node is reported once", "[invariants]") {
  Builder b(DataType::counter);
  b.node(0, counter_state(0), true, 100).node(1, counter_state(0), true, 5'000);
  b.node(2, counter_state(0), true, 9'000).node(3, counter_state(0), false, 90'000);
  InvariantOptions options;
  options.metadata_bytes_max = 1'000;
  const auto found = check(b.history(), options);
  REQUIRE(found.size() == 1);
  CHECK(found[0].invariant == Invariant::bounded_metadata);
  CHECK(found[0].subject == "node 1");
  CHECK(contains(found[0].detail, "2 of 3"));
  CHECK(contains(found[0].detail, "node 2 with 9000 bytes"));
}

/// A map with fields 0..n-1, each holding the value of op 1 (the growth check only counts them).
State fields_state(std::uint32_t n) {
  std::vector<std::pair<std::uint32_t, OpId>> fields;
  for (std::uint32_t k = 0; k < n; ++k) fields.emplace_back(k, OpId{1});
  return map_state(std::move(fields));
}

/// 40 writes by clients 1 and 2 to 10 fields, and samples before ops 11 and 21.
Builder forty_writes() {
  Builder b(DataType::map);
  for (std::uint32_t i = 0; i < 40; ++i) b.op(1 + i % 2, OpKind::map_set, i % 10);
  return b;
}

TEST_CASE("metadata that doubles while the state it serves stays the same is flagged as growth", "[invariants]") {
  // A multi-value register that keeps every sibling: 100 to 150 bytes per write on every replica.
  Builder b = forty_writes();
  b.sample(OpId{11}, {{1, {true, 1'000, 10, 2}}, {2, {true, 1'000, 10, 2}}});
  b.sample(OpId{21}, {{1, {true, 2'000, 10, 2}}, {2, {true, 2'000, 10, 2}}});
  b.node(1, fields_state(10), true, 5'000, 2).node(2, fields_state(10), true, 5'000, 2);
  const auto found = of(check(b.history()), Invariant::bounded_metadata);
  REQUIRE(found.size() == 1);
  CHECK(found[0].subject == "node 1");
  CHECK(contains(found[0].observed, "5000 bytes on node 1"));
  // Against op 21's sample (the one allowing the most): 2,000 x 1.5 + 1,024 bytes.
  CHECK(contains(found[0].expected, "at most 4024 bytes"));
  CHECK(contains(found[0].detail, "2 of 2 judged nodes"));
  CHECK(contains(found[0].detail, "3000 bytes more over 20 writes (150 per write)"));
}

TEST_CASE("metadata that grows with the elements and writers it serves is not growth", "[invariants]") {
  // A version vector per field, 800 bytes per field and writer: from 5 fields and 1 writer to 10
  // fields and 2 writers the metadata grew 4 times. Scaled by the larger of the two growths alone it
  // would be allowed only 4,000 x 2 x 1.5 + 1,024 = 13,024 bytes; by their product, 25,024.
  Builder b = forty_writes();
  b.sample(OpId{21}, {{1, {true, 5 * 1 * 800, 5, 1}}});
  b.node(1, fields_state(10), true, 10 * 2 * 800, 2);
  CHECK(of(check(b.history()), Invariant::bounded_metadata).empty());
}

TEST_CASE("a growth check compares with every sample and needs all of them to agree", "[invariants]") {
  // A node that restarted empty just before the second sample: against it alone the end looks like
  // growth (80 bytes for 2 fields, 2,600 for 10), but the first sample shows it kept pace.
  Builder b = forty_writes();
  b.sample(OpId{11}, {{1, {true, 1'600, 10, 2}}});
  b.sample(OpId{21}, {{1, {true, 80, 2, 1}}});
  b.node(1, fields_state(10), true, 1'600 + 1'000, 2);
  CHECK(of(check(b.history()), Invariant::bounded_metadata).empty());
  // Without the first sample the second one decides, and 2,600 bytes exceed 80 x 5 x 2 x 1.5 + 1,024.
  b.history().metadata_samples.erase(b.history().metadata_samples.begin());
  CHECK(of(check(b.history()), Invariant::bounded_metadata).size() == 1);
}

TEST_CASE("the growth check skips samples that served nothing, down nodes and untrusted clients",
          "[invariants]") {
  Builder b = forty_writes();
  b.sample(OpId{21}, {{1, {true, 0, 0, 0}}, {3, {true, 500, 10, 2}}, {4, {true, 500, 10, 2}}});
  b.node(1, fields_state(10), true, 9'000, 2);  // empty at the sample: no ratio to scale by
  b.node(2, fields_state(10), true, 9'000, 2);  // down at the sample
  b.node(3, fields_state(10), false, 9'000, 2);  // down at the end
  b.node(4, fields_state(10), true, 9'000, 2);
  b.history().untrusted = {NodeId{4}};
  CHECK(of(check(b.history()), Invariant::bounded_metadata).empty());
}

TEST_CASE("the growth check judges only the nodes the model's declaration leaves to it", "[invariants]") {
  Builder b = forty_writes();
  b.sample(OpId{21}, {{0, {true, 2'000, 10, 2}}, {1, {true, 2'000, 10, 2}}});  // allows 4,024
  b.node(0, fields_state(10), true, 8'000, 2).node(1, fields_state(10), true, 8'000, 2);
  CHECK(of(check(b.history()), Invariant::bounded_metadata).size() == 1);
  b.history().growth_judges_servers = false;  // a server that keeps a record per write by design
  const auto clients = of(check(b.history()), Invariant::bounded_metadata);
  REQUIRE(clients.size() == 1);
  CHECK(clients[0].subject == "node 1");
  CHECK(contains(clients[0].detail, "1 of 1 judged nodes"));
  b.history().growth_judges_clients = false;  // a strategy that keeps its history
  CHECK(of(check(b.history()), Invariant::bounded_metadata).empty());
  // The absolute bound still holds every node.
  InvariantOptions options;
  options.metadata_bytes_max = 4'000;
  CHECK(of(check(b.history(), options), Invariant::bounded_metadata).size() == 1);
  // Unless the model declares that it keeps every change for ever (MetadataGrowth::keeps_every_change).
  b.history().metadata_bound_applies = false;
  CHECK(of(check(b.history(), options), Invariant::bounded_metadata).empty());
}

TEST_CASE("the growth check's allowed growth and floor come from the scenario", "[invariants]") {
  Builder b = forty_writes();
  b.sample(OpId{21}, {{1, {true, 2'000, 10, 2}}});
  b.node(1, fields_state(10), true, 5'000, 2);
  InvariantOptions options;
  CHECK(of(check(b.history(), options), Invariant::bounded_metadata).size() == 1);
  options.metadata_growth_milli_max = 2'000;  // twice the sample plus the floor
  CHECK(of(check(b.history(), options), Invariant::bounded_metadata).empty());
  options.metadata_growth_milli_max = 1'000;
  options.metadata_growth_bytes_min = 3'000;  // exactly at the allowance is allowed
  CHECK(of(check(b.history(), options), Invariant::bounded_metadata).empty());
  options.metadata_growth_bytes_min = 2'999;
  CHECK(of(check(b.history(), options), Invariant::bounded_metadata).size() == 1);
}

// ------------------------------------------------------------------------------------------------
// Order, selection and formatting.

TEST_CASE("violations come by invariant, then numerically by subject, each subject once",
          "[invariants]") {
  Builder b(DataType::map);
  const OpId lost = b.op(1, OpKind::map_set, 3);
  b.ack(lost);
  const State bad = map_state({{2, OpId{98}}, {10, OpId{99}}});
  b.node(0, bad).node(1, bad);
  const auto found = check(b.history());
  REQUIRE(found.size() == 3);
  CHECK(found[0].invariant == Invariant::lost_acknowledged_write);
  CHECK(found[1].subject == "field 2");
  CHECK(found[2].subject == "field 10");
}

TEST_CASE("a disabled invariant is not checked", "[invariants]") {
  Builder b(DataType::map);
  b.ack(b.op(1, OpKind::map_set, 3));
  b.node(0, map_state({{1, OpId{99}}}));
  InvariantOptions options;
  options.enabled = {Invariant::convergence, Invariant::bounded_metadata};
  CHECK(check(b.history(), options).empty());
  options.enabled = {Invariant::lost_acknowledged_write};
  CHECK(check(b.history(), options).size() == 1);
}

TEST_CASE("a formatted violation is readable in a terminal and relates its operations",
          "[invariants]") {
  Builder b(DataType::map);
  const OpId first = b.op(1, OpKind::map_set, 2);
  b.ack(first).sees(2, 1);
  const OpId later = b.op(2, OpKind::map_set, 2);
  b.ack(later);
  std::vector<std::pair<std::uint32_t, OpId>> fields{{2, first}};
  for (std::uint32_t k = 100; k < 140; ++k) fields.emplace_back(k, OpId{1'000'000 + k});
  b.node(0, map_state({{2, later}})).node(1, map_state(fields));
  const auto found = check(b.history());
  REQUIRE_FALSE(found.empty());
  for (const Violation& v : found) {
    const std::string text = format_violation(v, b.history());
    std::size_t start = 0;
    while (start < text.size()) {
      const std::size_t end = text.find('\n', start);
      REQUIRE(end != std::string::npos);
      const std::string line = text.substr(start, end - start);
      CHECK(line.size() <= 100);
      CHECK((line.empty() || line.back() != ' '));
      start = end + 1;
    }
  }
  const auto lost = of(found, Invariant::lost_acknowledged_write);
  REQUIRE(lost.size() == 1);
  const std::string text = format_violation(lost[0], b.history());
  CHECK(contains(text, "lost-acknowledged-write violation: field 2"));
  CHECK(contains(text, "client node 2"));
  CHECK(contains(text, "issued at 20.000 ms"));
  CHECK(contains(text, "acknowledged at 70.000 ms"));
  CHECK(contains(text, "happened before op2"));
}

// ------------------------------------------------------------------------------------------------
// The law: a faithful single user is never flagged.

namespace {

/// Applies one user's operations in order, as a perfect replica would, and returns the state.
State replay(History& history) {
  std::map<std::uint32_t, OpId> keyed;
  std::int64_t counter = 0;
  std::vector<OpId> text;
  for (OpRecord& r : history.ops) {
    const Operation& op = r.op;
    switch (op.kind) {
      case OpKind::map_set:
      case OpKind::list_add:
      case OpKind::list_update: keyed[op.key.value] = op.id; break;
      case OpKind::list_remove: keyed.erase(op.key.value); break;
      case OpKind::counter_add: counter += op.amount; break;
      case OpKind::text_insert: {
        const std::size_t at = text.size() * op.position_ppm / 1'000'000;
        text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), op.id);
        break;
      }
      case OpKind::text_delete: {
        if (text.empty()) break;
        const std::size_t at = std::min(text.size() - 1, text.size() * op.position_ppm / 1'000'000);
        r.target = text[at];
        text.erase(text.begin() + static_cast<std::ptrdiff_t>(at));
        break;
      }
    }
  }
  State s;
  s.type = history.type;
  for (auto [key, value] : keyed) {
    if (s.type == DataType::map) s.fields.emplace_back(KeyId{key}, value);
    if (s.type == DataType::list) s.items.push_back({KeyId{key}, value});
  }
  s.counter = counter;
  s.text = std::move(text);
  return s;
}

OpKind draw_kind(DataType type) {
  switch (type) {
    case DataType::map: return OpKind::map_set;
    case DataType::list:
      return *rc::gen::element(OpKind::list_add, OpKind::list_update, OpKind::list_remove);
    case DataType::counter: return OpKind::counter_add;
    case DataType::text: return *rc::gen::element(OpKind::text_insert, OpKind::text_delete);
  }
  return OpKind::map_set;
}

}  // namespace

TEST_CASE("a sequential history whose writes are all applied, acknowledged and present is never "
          "flagged", "[invariants]") {
  rc::prop("no checker flags a faithful single-client history", [] {
    const DataType type =
        *rc::gen::element(DataType::map, DataType::list, DataType::counter, DataType::text);
    const SupersedeRule rule =
        *rc::gen::element(SupersedeRule::last_writer_wins, SupersedeRule::add_wins,
                          SupersedeRule::remove_wins, SupersedeRule::server_order);
    Builder b(type, rule);
    const int count = *rc::gen::inRange(0, 60);
    for (int i = 0; i < count; ++i) {
      const OpKind kind = draw_kind(type);
      const auto key = *rc::gen::inRange<std::uint32_t>(1, 5);
      const auto amount = *rc::gen::inRange<std::int64_t>(-5, 6);
      b.ack(b.op(1, kind, key, amount));
      b.history().ops.back().op.position_ppm = *rc::gen::inRange<std::uint32_t>(0, 1'000'000);
    }
    const State final_state = replay(b.history());
    const bool relay = *rc::gen::arbitrary<bool>();
    b.node(0, relay ? std::nullopt : std::optional<State>(final_state)).node(1, final_state);
    const auto found = check(b.history());
    for (const Violation& v : found) RC_LOG() << format_violation(v, b.history());
    RC_ASSERT(found.empty());
  });

  rc::prop("no checker flags clients that each saw everything before they wrote", [] {
    const DataType type =
        *rc::gen::element(DataType::map, DataType::list, DataType::counter, DataType::text);
    Builder b(type, SupersedeRule::add_wins);
    const int count = *rc::gen::inRange(0, 60);
    for (int i = 0; i < count; ++i) {
      const auto client = *rc::gen::inRange<std::uint32_t>(1, 4);
      for (std::uint32_t other = 1; other < 4; ++other) b.sees(client, other);
      const OpKind kind = draw_kind(type);
      b.ack(b.op(client, kind, *rc::gen::inRange<std::uint32_t>(1, 5), 1));
      b.history().ops.back().op.position_ppm = *rc::gen::inRange<std::uint32_t>(0, 1'000'000);
    }
    const State final_state = replay(b.history());
    for (std::uint32_t n = 0; n < 4; ++n) b.node(n, final_state);
    const auto found = check(b.history());
    for (const Violation& v : found) RC_LOG() << format_violation(v, b.history());
    RC_ASSERT(found.empty());
  });
}

TEST_CASE("the last write to a field, missing at the end, is always flagged", "[invariants]") {
  rc::prop("a faithful map history with its last write dropped shows exactly that loss", [] {
    Builder b(DataType::map);
    const int count = *rc::gen::inRange(1, 40);
    for (int i = 0; i < count; ++i) {
      const auto client = *rc::gen::inRange<std::uint32_t>(1, 4);
      for (std::uint32_t other = 1; other < 4; ++other) b.sees(client, other);
      b.ack(b.op(client, OpKind::map_set, *rc::gen::inRange<std::uint32_t>(1, 5)));
    }
    const OpRecord last = b.history().ops.back();
    b.history().ops.pop_back();
    State dropped = replay(b.history());
    b.history().ops.push_back(last);
    b.node(0, dropped).node(1, dropped);
    const auto found = check(b.history());
    RC_ASSERT(found.size() == 1u);
    RC_ASSERT(found[0].invariant == Invariant::lost_acknowledged_write);
    RC_ASSERT(found[0].subject == "field " + std::to_string(last.op.key.value));
  });
}

// A manual timing check for large histories; run with "[invariants-perf]".
TEST_CASE("a history of 100000 operations is checked in reasonable time", "[.][invariants-perf]") {
  Builder b(DataType::list, SupersedeRule::add_wins);
  std::uint32_t x = 12345;
  auto next = [&x] { x = x * 1103515245u + 12345u; return (x >> 8) % 1000u; };
  std::map<std::uint32_t, OpId> present;
  for (int i = 0; i < 100'000; ++i) {
    const std::uint32_t client = 1 + next() % 200;
    if (next() % 4 == 0) b.sees(client, 1 + next() % 200);
    const std::uint32_t key = 1 + next() % 20;
    const OpKind kind = next() % 4 == 0 ? OpKind::list_remove : OpKind::list_add;
    const OpId id = b.op(client, kind, key);
    b.ack(id);
    if (kind == OpKind::list_add) present[key] = id;
    if (kind == OpKind::list_remove) present.erase(key);
  }
  std::vector<std::pair<std::uint32_t, OpId>> items(present.begin(), present.end());
  for (std::uint32_t n = 0; n <= 200; ++n) b.node(n, list_state(items));
  const auto found = check(b.history());
  CHECK(found.size() < 100);
}

TEST_CASE("under server order a write its live client never heard back about and that is gone is a "
          "silent rollback, even when another write could explain it",
          "[invariants]") {
  Builder b(DataType::map, SupersedeRule::server_order);
  const OpId dropped = b.op(1, OpKind::map_set, 3);
  const OpId other = b.op(2, OpKind::map_set, 3);
  b.ack(other);
  SECTION("never answered: flagged at its own client") {
    b.node(0, map_state({{3, other}})).node(1, map_state({{3, other}})).node(2, map_state({{3, other}}));
    const auto found = of(check(b.history()), Invariant::silent_rollback);
    REQUIRE(found.size() == 1);
    CHECK(found[0].subject == "field 3");
    CHECK(found[0].involved.front().op == dropped);
  }
  SECTION("rejected and told: not flagged") {
    b.reject(dropped);
    b.node(0, map_state({{3, other}})).node(1, map_state({{3, other}})).node(2, map_state({{3, other}}));
    CHECK(check(b.history()).empty());
  }
  SECTION("acknowledged and then overwritten by the server's order: not flagged") {
    b.ack(dropped);
    b.node(0, map_state({{3, other}})).node(1, map_state({{3, other}})).node(2, map_state({{3, other}}));
    CHECK(check(b.history()).empty());
  }
  SECTION("its client crashed for good: the later write explains the value") {
    b.node(0, map_state({{3, other}})).node(1, std::nullopt, /*live=*/false).node(2, map_state({{3, other}}));
    CHECK(of(check(b.history()), Invariant::silent_rollback).empty());
  }
}

TEST_CASE("a hostile client's replica and its own writes are not judged, but its writes stay real values",
          "[invariants]") {
  // Client 2 is hostile (a malicious fault). Its replica ends diverged and without its own
  // acknowledged write, which the server dropped: no violation, because its user is not honest.
  Builder b(DataType::map, SupersedeRule::server_order);
  const OpId honest = b.op(1, OpKind::map_set, 1);
  b.ack(honest);
  const OpId hostile = b.op(2, OpKind::map_set, 2);
  b.ack(hostile);
  const OpId kept = b.op(2, OpKind::map_set, 3);
  b.ack(kept);
  b.node(0, map_state({{1, honest}, {3, kept}}))
      .node(1, map_state({{1, honest}, {3, kept}}))
      .node(2, map_state({{9, OpId{999}}}));
  b.history().untrusted = {NodeId{2}};
  CHECK(check(b.history()).empty());
  // The same history with an honest client 2 breaks convergence, loses an acknowledged write and
  // shows a phantom value: the exemption is what hides them, not a blind checker.
  b.history().untrusted.clear();
  const auto all = check(b.history());
  CHECK_FALSE(of(all, Invariant::convergence).empty());
  CHECK_FALSE(of(all, Invariant::lost_acknowledged_write).empty());
  CHECK_FALSE(of(all, Invariant::phantom_or_double_applied).empty());
}

TEST_CASE("a value nobody wrote on an honest replica is a phantom even when a hostile client exists",
          "[invariants]") {
  Builder b(DataType::map, SupersedeRule::server_order);
  const OpId honest = b.op(1, OpKind::map_set, 1);
  b.ack(honest);
  b.node(0, map_state({{1, honest}, {5, OpId{1ULL << 40}}})).node(1, map_state({{1, honest}, {5, OpId{1ULL << 40}}}));
  b.history().untrusted = {NodeId{2}};
  CHECK(of(check(b.history()), Invariant::phantom_or_double_applied).size() == 1);
}

namespace {
/// A sampled view of client `node` at 30 s showing `shown` beside `instead` for the key of `read`.
ReadGap read_gap(std::uint32_t node, OpId shown, OpId read, OpId instead) {
  return ReadGap{NodeId{node}, Instant::start() + Duration::seconds(30), shown, read, instead};
}
}  // namespace

TEST_CASE("a view that shows a write beside an older value than its writer had read breaks writes follow reads",
          "[invariants][sessions]") {
  // Client 3 overwrote client 2's field 1 after seeing it; client 4 saw client 3's value and then
  // wrote field 2. Client 1's view shows client 4's write with field 1 still at client 2's value.
  Builder b(DataType::map, SupersedeRule::server_order);
  const OpId old_value = b.op(2, OpKind::map_set, 1);
  const OpId read = b.op(3, OpKind::map_set, 1);
  b.seen_before(read, {old_value});
  const OpId shown = b.op(4, OpKind::map_set, 2);
  b.ack(old_value).ack(read).ack(shown);
  b.history().ops.at(old_value.value - 1).acknowledged = b.history().ops.at(shown.value - 1).op.issued_at;
  b.history().ops.at(shown.value - 1).read_before = {read};
  for (std::uint32_t n : {0, 1, 2, 3, 4}) b.node(n, map_state({{1, read}, {2, shown}}));
  b.history().writes_follow_reads = true;
  b.history().read_gaps.push_back(read_gap(1, shown, read, old_value));
  SECTION("flagged, naming the field that lags and the three writes") {
    const auto found = check(b.history());
    REQUIRE(found.size() == 1);
    CHECK(found[0].invariant == Invariant::writes_follow_reads);
    CHECK(found[0].subject == "field 1");
    REQUIRE(found[0].involved.size() == 3);
    CHECK(found[0].involved[0].op == read);
    CHECK(found[0].involved[1].op == shown);
    CHECK(found[0].involved[2].op == old_value);
  }
  SECTION("a model that does not promise it is not judged by it") {
    b.history().writes_follow_reads = false;
    CHECK(check(b.history()).empty());
  }
  SECTION("nothing shown for the field lags too") {
    b.history().read_gaps.front().instead = OpId{};
    CHECK(of(check(b.history()), Invariant::writes_follow_reads).size() == 1);
  }
  SECTION("a value users did not see ordered before the read may be shown beside the write") {
    b.seen_before(read, {});
    CHECK(check(b.history()).empty());
  }
  SECTION("the node's own write may stand over what it received") {
    b.history().read_gaps.front().node = NodeId{2};
    CHECK(check(b.history()).empty());
  }
  SECTION("a read rolled back, its user told, before the sample promises nothing") {
    b.history().ops.at(read.value - 1).acknowledged.reset();
    b.reject(read);
    CHECK(of(check(b.history()), Invariant::writes_follow_reads).empty());
  }
  SECTION("a hostile writer's reads promise nothing") {
    b.history().untrusted = {NodeId{4}};
    CHECK(of(check(b.history()), Invariant::writes_follow_reads).empty());
  }
}

TEST_CASE("an item a writer had read may be missing beside its write only on account of a remove that had reached the view",
          "[invariants][sessions]") {
  Builder b(DataType::list);
  const OpId add = b.op(2, OpKind::list_add, 5);
  b.sees(3, 2);
  const OpId shown = b.op(3, OpKind::list_add, 6);
  b.op(4, OpKind::list_remove, 5);
  b.ack(add).ack(shown);
  b.history().ops.at(shown.value - 1).read_before = {add};
  for (std::uint32_t n : {0, 1, 2, 3, 4}) b.node(n, list_state({{6, shown}}));
  b.history().writes_follow_reads = true;
  b.history().read_gaps.push_back(read_gap(1, shown, add, OpId{}));
  b.history().read_gaps.front().past = b.past_of({3});
  CHECK(of(check(b.history()), Invariant::writes_follow_reads).size() == 1);

  // Having received the remove, the view may lack the item.
  b.history().read_gaps.front().past = b.past_of({3, 4});
  CHECK(of(check(b.history()), Invariant::writes_follow_reads).empty());
}

TEST_CASE("an item a writer had read may be missing beside its write when a remove took a later value of it",
          "[invariants][sessions]") {
  // Client 3 read client 2's add, then wrote item 6. Client 2 then replaced its add (an update,
  // sent before the add was acknowledged, without it), and client 4, having received the update
  // but not the add, removed the item without showing it (a blind remove). A view with both the
  // update and the remove lacks the item legitimately, although under add-wins the remove cannot
  // take the add itself away.
  Builder b(DataType::list, SupersedeRule::add_wins);
  const OpId add = b.op(2, OpKind::list_add, 5);
  b.sees(3, 2);
  const OpId shown = b.op(3, OpKind::list_add, 6);
  const OpId later = b.op(2, OpKind::list_update, 5);
  b.sees(4, 2);
  const OpId remove = b.op(4, OpKind::list_remove, 5);
  CausalPast without_add = *b.history().ops.at(remove.value - 1).past;
  without_add.exclude(NodeId{2}, {1});
  b.history().ops.at(remove.value - 1).past = std::make_shared<const CausalPast>(without_add);
  b.ack(add).ack(shown).ack(later).ack(remove);
  b.history().ops.at(shown.value - 1).read_before = {add};
  for (std::uint32_t n : {0, 1, 2, 3, 4}) b.node(n, list_state({{6, shown}}));
  b.history().writes_follow_reads = true;
  b.history().read_gaps.push_back(read_gap(1, shown, add, OpId{}));
  b.history().read_gaps.front().past = b.past_of({3, 4});
  CHECK(of(check(b.history()), Invariant::writes_follow_reads).empty());

  // Without the remove, nothing took the item away.
  b.history().read_gaps.front().past = b.past_of({3});
  CHECK(of(check(b.history()), Invariant::writes_follow_reads).size() == 1);
}

TEST_CASE("a view that shows a user's write without that user's earlier write of another field breaks monotonic writes",
          "[invariants][sessions]") {
  // Client 3 set field 1 (shown on its replica at once), then field 2. Client 1's view shows the
  // field 2 write with field 1 still at client 2's older value.
  Builder b(DataType::map, SupersedeRule::server_order);
  const OpId old_value = b.op(2, OpKind::map_set, 1);
  b.sees(3, 2);
  const OpId first = b.op(3, OpKind::map_set, 1);
  b.seen_before(first, {old_value});
  const OpId shown = b.op(3, OpKind::map_set, 2);
  b.ack(old_value).ack(first).ack(shown);
  b.history().ops.at(shown.value - 1).read_before = {first};
  for (std::uint32_t n : {0, 1, 2, 3}) b.node(n, map_state({{1, first}, {2, shown}}));
  b.history().writes_in_order = true;
  b.history().read_gaps.push_back(read_gap(1, shown, first, old_value));
  SECTION("flagged as monotonic writes, naming the earlier write, the later one and the value shown") {
    const auto found = check(b.history());
    REQUIRE(found.size() == 1);
    CHECK(found[0].invariant == Invariant::monotonic_writes);
    CHECK(found[0].subject == "field 1");
    REQUIRE(found[0].involved.size() == 3);
    CHECK(found[0].involved[0].op == first);
    CHECK(found[0].involved[1].op == shown);
    CHECK(found[0].involved[2].op == old_value);
  }
  SECTION("nothing shown for the field is out of order too") {
    b.history().read_gaps.front().instead = OpId{};
    CHECK(of(check(b.history()), Invariant::monotonic_writes).size() == 1);
  }
  SECTION("a model that does not promise writes in order is not judged by it") {
    b.history().writes_in_order = false;
    b.history().writes_follow_reads = true;  // the other promise does not stand for this one
    CHECK(check(b.history()).empty());
  }
  SECTION("off in the scenario, it is not judged") {
    InvariantOptions options;
    std::erase(options.enabled, Invariant::monotonic_writes);
    CHECK(check(b.history(), options).empty());
  }
  SECTION("an earlier write rejected, its user told, even after the sample, was never in the order") {
    b.unacknowledged(first);
    b.history().ops.at(first.value - 1).rejected = Instant::start() + Duration::seconds(40);
    CHECK(of(check(b.history()), Invariant::monotonic_writes).empty());
  }
  SECTION("a value users did not see ordered before the earlier write may be shown beside the later") {
    b.seen_before(first, {});
    CHECK(check(b.history()).empty());
  }
}

TEST_CASE("a view that shows a user's write beside the item that user had removed before breaks monotonic writes",
          "[invariants][sessions]") {
  // Client 3 removed item 5 (its replica showed client 2's add, and took it away at once), then
  // added item 6. Client 1's view shows the add with item 5 still at client 2's value.
  Builder b(DataType::list, SupersedeRule::server_order);
  const OpId add = b.op(2, OpKind::list_add, 5);
  b.sees(3, 2);
  const OpId remove = b.op(3, OpKind::list_remove, 5);
  b.seen_before(remove, {add});
  const OpId shown = b.op(3, OpKind::list_add, 6);
  b.ack(add).ack(remove).ack(shown).target(remove, add);
  b.history().ops.at(shown.value - 1).read_before = {remove};
  for (std::uint32_t n : {0, 1, 2, 3}) b.node(n, list_state({{6, shown}}));
  b.history().writes_in_order = true;
  b.history().read_gaps.push_back(read_gap(1, shown, remove, add));
  SECTION("flagged as monotonic writes, naming the remove, the later write and the value still shown") {
    const auto found = check(b.history());
    REQUIRE(found.size() == 1);
    CHECK(found[0].invariant == Invariant::monotonic_writes);
    CHECK(found[0].subject == "item 5");
    CHECK_THAT(found[0].expected, Catch::Matchers::Contains("removed by"));
    REQUIRE(found[0].involved.size() == 3);
    CHECK(found[0].involved[0].op == remove);
    CHECK(found[0].involved[1].op == shown);
    CHECK(found[0].involved[2].op == add);
  }
  SECTION("a value users saw ordered before the one the remove took away is shown too late as well") {
    const OpId older = b.op(4, OpKind::list_add, 5);
    b.ack(older);
    b.seen_before(add, {older});
    b.history().read_gaps.front().instead = older;
    CHECK(of(check(b.history()), Invariant::monotonic_writes).size() == 1);
  }
  SECTION("a value the remove did not take away may stay beside the later write") {
    const OpId other = b.op(4, OpKind::list_update, 5);  // made after the remove, unseen by its writer
    b.ack(other);
    b.history().read_gaps.front().instead = other;
    CHECK(check(b.history()).empty());
  }
  SECTION("the item gone is what the remove promised") {
    b.history().read_gaps.front().instead = OpId{};
    CHECK(check(b.history()).empty());
  }
  SECTION("a remove rejected, its user told, was never in the order") {
    b.unacknowledged(remove);
    b.history().ops.at(remove.value - 1).rejected = Instant::start() + Duration::seconds(40);
    CHECK(of(check(b.history()), Invariant::monotonic_writes).empty());
  }
  SECTION("a model that does not promise writes in order is not judged by it") {
    b.history().writes_in_order = false;
    CHECK(check(b.history()).empty());
  }
}

TEST_CASE("a view that shows a write beside the item its writer had seen removed breaks writes follow reads",
          "[invariants][sessions]") {
  // Client 3 removed client 2's item 5; client 4 saw the remove and then added item 6. Client 1's
  // view shows client 4's add with item 5 still at client 2's value.
  Builder b(DataType::list, SupersedeRule::add_wins);
  const OpId add = b.op(2, OpKind::list_add, 5);
  b.sees(3, 2);
  const OpId remove = b.op(3, OpKind::list_remove, 5);
  b.sees(4, 3);
  const OpId shown = b.op(4, OpKind::list_add, 6);
  b.ack(add).ack(remove).ack(shown).target(remove, add);
  b.history().ops.at(shown.value - 1).read_before = {remove};
  for (std::uint32_t n : {0, 1, 2, 3, 4}) b.node(n, list_state({{6, shown}}));
  b.history().writes_follow_reads = true;
  b.history().read_gaps.push_back(read_gap(1, shown, remove, add));
  const auto found = check(b.history());
  REQUIRE(found.size() == 1);
  CHECK(found[0].invariant == Invariant::writes_follow_reads);
  CHECK(found[0].subject == "item 5");
  CHECK_THAT(found[0].detail, Catch::Matchers::Contains("node 3's remove"));

  // Not promised, not judged; nor by the other promise, which is about a user's own writes.
  b.history().writes_follow_reads = false;
  b.history().writes_in_order = true;
  CHECK(check(b.history()).empty());
}
