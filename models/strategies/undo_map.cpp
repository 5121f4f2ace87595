// undo-map: optimistic updates with rollback, as the article's step 3 describes them: "immediately
// apply the expected state change locally and store a snapshot of the previous state. If the server
// responds with a different result, revert." The server rejects a write whose author had not seen
// the field's latest version from another user (optimistic concurrency, like an HTTP If-Match), so
// contended fields produce real rejections, which the user is told about.
//
// Two ways to roll a rejected write back, one knob:
// - undo-map (inverse operation, a rebase): take the rejected write out of the pending set and show
//   the server's state with the remaining pending writes on top. Remote updates that arrived while
//   the write was pending stay.
// - undo-map-snapshot (Redux undo middleware, Zustand temporal store: jump back to the snapshot
//   taken before the write): every remote update that arrived in between, and the user's own later
//   writes, vanish from the screen, while the server and everyone else keep them. The checkers see
//   the replica diverge (and, when the lost value was acknowledged, a lost write).
#include <algorithm>
#include <map>
#include <string>

#include "models/kit/fields.hpp"
#include "models/model.hpp"
#include "models/kit/outbox.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {
namespace {

enum Tag : std::uint8_t { kOp = 1, kAck = 2, kReject = 3, kSnapshot = 4, kUpdate = 5, kAnswered = 6 };

using Versions = std::map<KeyId, std::uint64_t>;

class UndoClient final : public Node {
 public:
  explicit UndoClient(bool snapshot_rollback) : snapshot_rollback_(snapshot_rollback) {}

  void on_start(Context& ctx) override {
    // A reload keeps the pending writes (and their base versions); the undo history is in memory.
    pending_.restore(ctx);
    pending_.overlay(shown_);
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::map_set) return;
    pending_.add(ctx, op, version_of(op.key));
    if (snapshot_rollback_) history_[op.id] = shown_;  // the undo stack's "past" entry
    shown_[op.key] = op.id;
    ctx.report(op.id, Lifecycle::applied);
    if (auto server = ctx.connected_server()) send_op(ctx, *server, pending_.entries().at(op.id));
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck || tag == kReject) {
      const OpId id{r.u64()};
      if (!r.ok() || !pending_.answer(ctx, id)) return;
      ctx.report(id, tag == kAck ? Lifecycle::acknowledged : Lifecycle::rejected);
      if (tag == kReject) roll_back(id);
      history_.erase(id);
      if (!snapshot_rollback_) rebase();
      answered_ = std::max(answered_, id);
      // Every write sent so far has its answer: the server may forget its verdicts on them. Once a
      // burst, not once an answer (a write sent later says the same with its oldest pending one).
      if (pending_.size() == 0) {
        if (auto server = ctx.connected_server()) ctx.send_control(*server, Writer().u8(kAnswered).u64(answered_.value).take());
      }
    } else if (tag == kUpdate) {
      const KeyId key{r.u32()};
      const OpId value{r.u64()};
      const std::uint64_t version = r.u64();
      if (!r.ok()) return;
      server_[key] = value;
      versions_[key] = version;
      ctx.report(value, Lifecycle::seen);
      if (!snapshot_rollback_) rebase();
      else if (!pending_.touches(key)) shown_[key] = value;  // the store applies the server's action in place
    } else if (tag == kSnapshot) {
      Fields fresh;
      Versions versions;
      const std::uint32_t n = r.u32();
      for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        const KeyId key{r.u32()};
        fresh[key] = OpId{r.u64()};
        versions[key] = r.u64();
      }
      if (!r.ok()) return;
      server_ = std::move(fresh);
      versions_ = std::move(versions);
      rebase();
    }
  }

  void on_connected(Context& ctx, NodeId peer) override {
    for (const auto& [id, p] : pending_.entries()) send_op(ctx, peer, p);
  }

  std::optional<State> state() const override { return to_state(shown_); }
  std::uint64_t metadata_bytes() const override {
    std::uint64_t bytes = pending_.size() * sizeof(Outbox::Entry) + versions_.size() * 12;
    for (const auto& [id, past] : history_) bytes += past.size() * 12;
    return bytes;
  }

 private:
  std::uint64_t version_of(KeyId key) const {
    auto it = versions_.find(key);
    return it == versions_.end() ? 0 : it->second;
  }
  /// An entry's base is the field's server version the user saw when writing. The oldest pending
  /// write tells the server which answers this client has had: it may forget its verdicts on older ones.
  void send_op(Context& ctx, NodeId to, const Outbox::Entry& p) const {
    const OpId oldest_pending = pending_.entries().begin()->first;
    ctx.send(to, Writer().u8(kOp).bytes(p.op.encode()).u64(p.base).u64(oldest_pending.value).take());
  }

  void roll_back(OpId rejected) {
    if (!snapshot_rollback_) return;  // the rebase that follows is the inverse operation
    auto it = history_.find(rejected);
    if (it == history_.end()) return;
    shown_ = it->second;
    // Jumping to the past discards every later entry of the undo stack.
    history_.erase(it, history_.end());
  }

  /// The server's state with the pending writes on top, in the order the user made them.
  void rebase() {
    shown_ = server_;
    pending_.overlay(shown_);
  }

  bool snapshot_rollback_;
  OpId answered_;  ///< the newest write of this incarnation whose answer arrived
  Fields server_;
  Versions versions_;
  Fields shown_;
  Outbox pending_;
  std::map<OpId, Fields> history_;  ///< snapshot rollback: the state before each pending write
};

class UndoServer final : public Node {
 public:
  void on_start(Context& ctx) override {
    if (auto saved = ctx.store().get("state")) {
      Reader r(*saved);
      const std::uint32_t n = r.u32();
      for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        const KeyId key{r.u32()};
        Field& f = fields_[key];
        f.value = OpId{r.u64()};
        f.version = r.u64();
        f.writer = NodeId{r.u32()};
      }
      const std::uint32_t m = r.u32();
      for (std::uint32_t i = 0; i < m && r.ok(); ++i) {
        Author& a = authors_[NodeId{r.u32()}];
        a.mark = OpId{r.u64()};
        const std::uint32_t v = r.u32();
        for (std::uint32_t j = 0; j < v && r.ok(); ++j) {
          const OpId id{r.u64()};
          a.verdicts[id] = r.u8() != 0;
        }
      }
    }
  }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAnswered) {
      // The client has the answers to all its writes through this one and none pending.
      const OpId through{r.u64()};
      auto author = authors_.find(from);
      if (!r.ok() || author == authors_.end()) return;
      auto& verdicts = author->second.verdicts;
      verdicts.erase(verdicts.begin(), verdicts.upper_bound(through));
      return;
    }
    if (tag != kOp) return;
    auto op = Operation::decode(r.bytes());
    const std::uint64_t base = r.u64();
    const OpId oldest_pending{r.u64()};
    if (!r.ok() || !op || op->kind != OpKind::map_set || op->client != from) return;
    Author& author = authors_[op->client];
    // The author has had the answer to every write older than its oldest pending one.
    author.verdicts.erase(author.verdicts.begin(), author.verdicts.lower_bound(std::min(oldest_pending, op->id)));
    bool accepted = false;
    if (auto known = author.verdicts.find(op->id); known != author.verdicts.end()) {
      accepted = known->second;  // a resend gets the same answer
    } else if (op->id <= author.mark) {
      return;  // decided, and its author says it has the answer: nothing to send
    } else {
      accepted = decide(ctx, *op, base);
    }
    ctx.send_control(from, Writer().u8(accepted ? kAck : kReject).u64(op->id.value).take());
  }

  void on_connected(Context& ctx, NodeId peer) override {
    Writer w;
    w.u8(kSnapshot).u32(static_cast<std::uint32_t>(fields_.size()));
    for (const auto& [key, f] : fields_) w.u32(key.value).u64(f.value.value).u64(f.version);
    ctx.send(peer, w.take());
  }

  std::optional<State> state() const override {
    Fields shown;
    for (const auto& [key, f] : fields_) shown[key] = f.value;
    return to_state(shown);
  }
  std::uint64_t metadata_bytes() const override {
    std::uint64_t bytes = fields_.size() * 12 + authors_.size() * 12;
    for (const auto& [client, a] : authors_) bytes += a.verdicts.size() * 9;
    return bytes;
  }

 private:
  struct Field {
    OpId value;
    std::uint64_t version = 0;
    NodeId writer;
  };
  /// Per client: the newest write decided, and the verdicts it may still ask for again (those on
  /// its writes from its oldest pending one on, none once it says it has every answer), so that a
  /// resend gets the same answer while what the server keeps grows with the writers and their
  /// pending writes, not with every write ever.
  struct Author {
    OpId mark;
    std::map<OpId, bool> verdicts;
  };

  /// Accepts a write made on top of the field's current version, or on top of the writer's own
  /// latest write; rejects one that would silently overwrite another user's newer write.
  bool decide(Context& ctx, const Operation& op, std::uint64_t base) {
    Field& f = fields_[op.key];
    if (f.version != base && f.writer != op.client) {
      if (f.version == 0) fields_.erase(op.key);
      record(op, false);
      persist(ctx);
      return false;
    }
    f.value = op.id;
    f.writer = op.client;
    ++f.version;
    record(op, true);
    persist(ctx);  // durable before anyone hears of it
    const std::string update = Writer().u8(kUpdate).u32(op.key.value).u64(op.id.value).u64(f.version).take();
    for (NodeId client : ctx.clients()) {
      if (ctx.connected(client)) ctx.send(client, update);
    }
    return true;
  }

  void persist(Context& ctx) {
    Writer w;
    w.u32(static_cast<std::uint32_t>(fields_.size()));
    for (const auto& [key, f] : fields_) w.u32(key.value).u64(f.value.value).u64(f.version).u32(f.writer.value);
    w.u32(static_cast<std::uint32_t>(authors_.size()));
    for (const auto& [client, a] : authors_) {
      w.u32(client.value).u64(a.mark.value).u32(static_cast<std::uint32_t>(a.verdicts.size()));
      for (const auto& [id, accepted] : a.verdicts) w.u64(id.value).u8(accepted ? 1 : 0);
    }
    ctx.store().put("state", w.take());
    ctx.store().flush();
  }

  void record(const Operation& op, bool accepted) {
    Author& a = authors_[op.client];
    a.mark = op.id;
    a.verdicts[op.id] = accepted;
  }

  std::map<KeyId, Field> fields_;
  std::map<NodeId, Author> authors_;
};

ModelInfo make(std::string name, std::string description, bool snapshot_rollback) {
  return ModelInfo{
      .name = std::move(name),
      .description = std::move(description),
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::server_order,
      .breaks = snapshot_rollback ? std::optional<Invariant>(Invariant::convergence) : std::nullopt,
      .make_client = [snapshot_rollback](NodeId) { return std::make_unique<UndoClient>(snapshot_rollback); },
      .make_server = [](NodeId) { return std::make_unique<UndoServer>(); },
      // Writes follow reads: one server applies and pushes every write in one order.
      .writes_follow_reads = OrderPromise::promised,
      .writes_in_order = OrderPromise::promised,
  };
}

}  // namespace

ModelInfo undo_map_model() {
  return make("undo-map",
              "optimistic map; the server rejects stale writes and the client rolls back by inverse (rebase)", false);
}

ModelInfo undo_map_snapshot_model() {
  return make("undo-map-snapshot",
              "undo-map rolling back by restoring the pre-write snapshot (Redux undo): wipes remote updates", true);
}

}  // namespace syncstorm
