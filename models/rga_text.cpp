// rga-text: collaborative text as a replicated growable array (models/rga.hpp), synced through relay
// servers that merge and store it. Clients apply their edits at once and keep them in an outbox until
// a server has stored and flushed them; servers de-duplicate by op id, broadcast each accepted op,
// forward it to the other servers and exchange full state with them periodically. On every
// (re)connect a client sends its whole state (harmless: merge is a union) and resends its outbox, and
// the server sends its whole state back.
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "models/rga.hpp"
#include "sim/rng.hpp"

namespace syncstorm::rga {

// ---- the pure state --------------------------------------------------------------------------

bool Rga::insert(OpId id, const Element& element) { return elements.emplace(id, element).second; }

bool Rga::erase(OpId target, const Deletion& deletion) {
  if (!target.valid()) return false;
  auto [it, inserted] = deleted.emplace(target, deletion);
  if (inserted) return true;
  if (!(deletion.by < it->second.by)) return false;
  it->second = deletion;
  return true;
}

bool Rga::apply(const Op& op) {
  if (op.kind == OpKind::text_insert) return insert(op.id, Element{op.ref, op.lamport, op.origin});
  return erase(op.ref, Deletion{op.id, op.origin});
}

bool Rga::merge(const Rga& other) {
  bool grew = false;
  for (const auto& [id, element] : other.elements) grew |= insert(id, element);
  for (const auto& [id, deletion] : other.deleted) grew |= erase(id, deletion);
  return grew;
}

std::vector<OpId> Rga::visible() const {
  // Every element as (parent, newest first), in one sorted vector: the children of a parent are a
  // contiguous run found by binary search. Then a depth-first walk from the start. (One allocation
  // instead of a map of vectors: replicas call this after every change.)
  struct Child {
    OpId parent;
    std::uint64_t lamport;
    OpId id;
  };
  std::vector<Child> children;
  children.reserve(elements.size());
  for (const auto& [id, element] : elements) children.push_back(Child{element.parent, element.lamport, id});
  std::sort(children.begin(), children.end(), [](const Child& a, const Child& b) {
    if (a.parent != b.parent) return a.parent < b.parent;
    if (a.lamport != b.lamport) return a.lamport > b.lamport;
    return b.id < a.id;
  });
  std::vector<OpId> out;
  out.reserve(elements.size());
  std::vector<OpId> stack;
  auto push_children = [&](OpId parent) {
    auto first = std::lower_bound(children.begin(), children.end(), parent,
                                  [](const Child& c, OpId p) { return c.parent < p; });
    auto last = first;
    while (last != children.end() && last->parent == parent) ++last;
    for (auto c = last; c != first;) stack.push_back((--c)->id);
  };
  push_children(OpId{0});
  while (!stack.empty()) {
    const OpId id = stack.back();
    stack.pop_back();
    if (!deleted.contains(id)) out.push_back(id);
    push_children(id);
  }
  return out;
}

std::uint64_t Rga::max_lamport() const {
  std::uint64_t m = 0;
  for (const auto& [id, element] : elements) m = std::max(m, element.lamport);
  return m;
}

State Rga::state() const {
  State s;
  s.type = DataType::text;
  s.text = visible();
  return s;
}

std::uint64_t Rga::metadata_bytes() const {
  // Every element carries its parent, Lamport time and origin; a tombstone also keeps a deleted
  // element's whole record alive.
  return elements.size() * 20 + deleted.size() * (20 + 20);
}

void Rga::encode(Writer& w) const {
  w.u32(static_cast<std::uint32_t>(elements.size()));
  for (const auto& [id, e] : elements) w.u64(id.value).u64(e.parent.value).u64(e.lamport).u32(e.origin.value);
  w.u32(static_cast<std::uint32_t>(deleted.size()));
  for (const auto& [id, d] : deleted) w.u64(id.value).u64(d.by.value).u32(d.origin.value);
}

bool Rga::decode(Reader& r) {
  const std::uint32_t n = r.u32();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    const OpId id{r.u64()};
    Element e;
    e.parent = OpId{r.u64()};
    e.lamport = r.u64();
    e.origin = NodeId{r.u32()};
    if (r.ok() && id.valid()) insert(id, e);
  }
  const std::uint32_t m = r.u32();
  for (std::uint32_t i = 0; i < m && r.ok(); ++i) {
    const OpId id{r.u64()};
    Deletion d;
    d.by = OpId{r.u64()};
    d.origin = NodeId{r.u32()};
    if (r.ok()) erase(id, d);
  }
  return r.ok();
}

void encode_op(Writer& w, const Op& op) {
  w.u64(op.id.value).u32(op.origin.value).u8(static_cast<std::uint8_t>(op.kind)).u64(op.ref.value).u64(op.lamport);
}

std::optional<Op> decode_op(Reader& r) {
  Op op;
  op.id = OpId{r.u64()};
  op.origin = NodeId{r.u32()};
  const std::uint8_t kind = r.u8();
  op.ref = OpId{r.u64()};
  op.lamport = r.u64();
  const bool text_kind = kind == static_cast<std::uint8_t>(OpKind::text_insert) ||
                         kind == static_cast<std::uint8_t>(OpKind::text_delete);
  if (!r.ok() || !text_kind || !op.id.valid()) return std::nullopt;
  op.kind = static_cast<OpKind>(kind);
  return op;
}

std::size_t index_at(std::uint32_t position_ppm, std::size_t length) {
  return static_cast<std::size_t>(std::uint64_t{position_ppm} * length / 1'000'000);
}

// ---- the relay protocol ----------------------------------------------------------------------

namespace {

enum MsgTag : std::uint8_t {
  kOp = 1,       ///< client -> server: an operation (resent until acknowledged)
  kAck = 2,      ///< server -> client: stored and flushed
  kApply = 3,    ///< server -> clients: an accepted operation
  kFull = 4,     ///< server -> client: the whole state
  kHello = 5,    ///< client -> server: the client's whole state on (re)connect
  kForward = 6,  ///< server -> server: an operation a client sent
  kSync = 7,     ///< server -> server: the whole state
  kDigest = 8,   ///< client -> server: a hash of the client's base; a mismatch gets a full state back
};

enum TimerTag : std::uint64_t { kTick = 1 };
constexpr Duration kResendInterval = Duration::seconds(1);   ///< unacknowledged ops resent this often
constexpr std::uint64_t kSyncEveryTicks = 2;                  ///< servers exchange state every 2 s

std::uint64_t digest(const Rga& rga) {
  Writer w;
  rga.encode(w);
  return fnv1a64(w.take());
}

std::string op_message(MsgTag tag, const Op& op) {
  Writer w;
  w.u8(tag);
  encode_op(w, op);
  return w.take();
}

std::string full_message(MsgTag tag, const Rga& rga) {
  Writer w;
  w.u8(tag);
  rga.encode(w);
  return w.take();
}

class Client final : public Node {
 public:
  void on_start(Context& ctx) override {
    restore(ctx);
    refresh();
    ctx.set_timer(kResendInterval, kTick);
  }

  void on_user_operation(Context& ctx, const Operation& user) override {
    if (data_type_of(user.kind) != DataType::text) return;
    Op op;
    op.id = user.id;
    op.origin = ctx.self();
    op.kind = user.kind;
    const std::vector<OpId>& order = visible_order();
    const std::size_t length = order.size();
    std::size_t index = index_at(user.position_ppm, length);
    if (op.kind == OpKind::text_insert) {
      if (index > length) index = length;
      op.ref = index == 0 ? OpId{0} : order[index - 1];
      lamport_ = std::max(lamport_, view_.max_lamport()) + 1;
      op.lamport = lamport_;
    } else if (length > 0) {
      op.ref = order[std::min(index, length - 1)];
    }
    outbox_[op.id] = op;
    if (!view_stale_) view_.apply(op);
    refresh();
    ctx.store().put(outbox_key(op.id), op_record(op));
    ctx.store().put("rga/lamport", Writer().u64(lamport_).take());
    ctx.store().flush();
    if (op.kind == OpKind::text_insert) ctx.report(op.id, Lifecycle::applied);
    else ctx.report(op.id, Lifecycle::applied, op.ref);
    if (auto server = ctx.connected_server()) ctx.send(*server, op_message(kOp, op));
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      const OpId id{r.u64()};
      auto acked = outbox_.find(id);
      if (r.ok() && acked != outbox_.end()) {
        // The view is base_ joined with the outbox. When base_ already holds the acknowledged op
        // (the server broadcasts before it acknowledges), the view stays as it is; otherwise it is
        // rebuilt at the next refresh: a delete of ours may have hidden a remote delete.
        if (!covered_by_base(acked->second)) {
          if (acked->second.kind == OpKind::text_delete) dirty_targets_.push_back(acked->second.ref);
          view_stale_ = true;
        }
        outbox_.erase(acked);
        ctx.store().erase(outbox_key(id));
        ctx.store().flush();
        ctx.report(id, Lifecycle::acknowledged);
      }
    } else if (tag == kApply) {
      auto op = decode_op(r);
      if (!op) return;
      const bool grew = learn(ctx, *op);
      if (grew || view_stale_) changed(ctx);
    } else if (tag == kFull) {
      Rga server;
      if (!server.decode(r)) return;
      bool grew = false;
      for (const auto& [id, element] : server.elements) {
        grew |= learn(ctx, Op{id, element.origin, OpKind::text_insert, element.parent, element.lamport});
      }
      for (const auto& [target, deletion] : server.deleted) {
        grew |= learn(ctx, Op{deletion.by, deletion.origin, OpKind::text_delete, target, 0});
      }
      if (grew || view_stale_) changed(ctx);
    }
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTick) return;
    ctx.set_timer(kResendInterval, kTick);
    // Datagram links lose messages: resend what is unacknowledged, and compare digests with the
    // server (anti-entropy) so that a lost update heals.
    if (auto server = ctx.connected_server()) {
      for (const auto& [id, op] : outbox_) ctx.send(*server, op_message(kOp, op));
      if (!base_digest_) base_digest_ = digest(base_);
      ctx.send(*server, Writer().u8(kDigest).u64(*base_digest_).take());
    }
  }

  void on_connected(Context& ctx, NodeId peer) override {
    ctx.send(peer, full_message(kHello, base_));
    for (const auto& [id, op] : outbox_) ctx.send(peer, op_message(kOp, op));
  }

  std::optional<State> state() const override {
    State s;
    s.type = DataType::text;
    s.text = visible_order();
    return s;
  }

  std::uint64_t metadata_bytes() const override { return view_.metadata_bytes() + outbox_.size() * 29; }

 private:
  /// Whether taking `op` out of the outbox leaves the view as it is: base_ holds its element, or
  /// a tombstone of its target by it or by a lower op id (the view keeps the lowest).
  bool covered_by_base(const Op& op) const {
    if (op.kind == OpKind::text_insert) return base_.elements.contains(op.id);
    const auto it = base_.deleted.find(op.ref);
    return it != base_.deleted.end() && it->second.by <= op.id;
  }

  /// Adds a server-sent op to base_ (and to the view, while that is current); returns whether
  /// base_ grew, and notes what changed for the next `changed`.
  bool learn(Context& ctx, const Op& op) {
    if (!base_.apply(op)) return false;
    ctx.store().put(base_key(op.id), op_record(op));  // flushed by `changed`
    base_digest_.reset();
    if (op.kind == OpKind::text_insert) fresh_elements_.push_back(op.id);
    else dirty_targets_.push_back(op.ref);
    if (!view_stale_) view_.apply(op);
    return true;
  }

  /// Reports remote operations the user now sees, in op id order: first inserts, then deletes (by
  /// the element deleted). Only what changed since the last call can be new: base_ only grows, and
  /// the view's tombstone for an element changes only when base_ or the outbox does.
  void changed(Context& ctx) {
    refresh();
    std::sort(fresh_elements_.begin(), fresh_elements_.end());
    for (OpId id : fresh_elements_) {
      const auto it = view_.elements.find(id);
      if (it != view_.elements.end() && it->second.origin != ctx.self() && reported_.insert(id).second) {
        ctx.report(id, Lifecycle::seen);
      }
    }
    std::sort(dirty_targets_.begin(), dirty_targets_.end());
    dirty_targets_.erase(std::unique(dirty_targets_.begin(), dirty_targets_.end()), dirty_targets_.end());
    for (OpId target : dirty_targets_) {
      const auto it = view_.deleted.find(target);
      if (it == view_.deleted.end()) continue;
      const Deletion& d = it->second;
      if (d.origin != ctx.self() && reported_.insert(d.by).second) ctx.report(d.by, Lifecycle::seen);
    }
    fresh_elements_.clear();
    dirty_targets_.clear();
    ctx.store().flush();
  }

  /// The view is base_ joined with the outbox. Joins commute, so while nothing left the outbox the
  /// view is kept current op by op; after an acknowledgement it is rebuilt.
  void refresh() {
    if (view_stale_) {
      view_ = base_;
      for (const auto& [id, op] : outbox_) view_.apply(op);
      view_stale_ = false;
    }
    order_stale_ = true;
  }

  /// view_'s visible text as of the last refresh, computed when first asked for: a burst of
  /// messages between two reads costs one walk of the tree.
  const std::vector<OpId>& visible_order() const {
    if (order_stale_) {
      order_ = view_.visible();
      order_stale_ = false;
    }
    return order_;
  }

  // The client's store holds one record per op (as an IndexedDB object store would), so a change
  // writes only what changed: "rga/base/ID" for every op base_ gained, "rga/out/ID" for the outbox.
  static std::string base_key(OpId id) { return fmt::format("rga/base/{:020}", id.value); }
  static std::string outbox_key(OpId id) { return fmt::format("rga/out/{:020}", id.value); }
  static std::string op_record(const Op& op) {
    Writer w;
    encode_op(w, op);
    return w.take();
  }

  void restore(Context& ctx) {
    Rga base;
    for (const auto& [key, record] : ctx.store().scan("rga/base/")) {
      Reader r(record);
      const auto op = decode_op(r);
      if (!op) return;
      base.apply(*op);
    }
    std::map<OpId, Op> outbox;
    for (const auto& [key, record] : ctx.store().scan("rga/out/")) {
      Reader r(record);
      const auto op = decode_op(r);
      if (!op) return;
      outbox[op->id] = *op;
    }
    if (auto saved = ctx.store().get("rga/lamport")) lamport_ = Reader(*saved).u64();
    base_ = std::move(base);
    outbox_ = std::move(outbox);
    for (const auto& [id, e] : base_.elements) reported_.insert(id);
    for (const auto& [id, d] : base_.deleted) reported_.insert(d.by);
  }

  Rga base_;                   ///< what the servers have told us
  std::map<OpId, Op> outbox_;  ///< applied here, not yet acknowledged
  Rga view_;                   ///< base_ with the outbox applied
  bool view_stale_ = true;     ///< view_ must be rebuilt from base_ and the outbox
  mutable std::vector<OpId> order_;  ///< view_'s visible text (see visible_order)
  mutable bool order_stale_ = true;
  std::uint64_t lamport_ = 0;
  std::set<OpId> reported_;    ///< remote operations already reported as seen
  std::vector<OpId> fresh_elements_;  ///< inserts base_ gained since the last `changed`
  std::vector<OpId> dirty_targets_;   ///< elements whose tombstone may have changed since then
  std::optional<std::uint64_t> base_digest_;  ///< digest(base_), while base_ is unchanged
};

class Server final : public Node {
 public:
  void on_start(Context& ctx) override {
    restore(ctx);
    ctx.set_timer(kResendInterval, kTick);
  }
  void on_user_operation(Context&, const Operation&) override {}

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kOp || tag == kForward) {
      auto op = decode_op(r);
      if (op) accept(ctx, from, *op, tag == kOp);
    } else if (tag == kHello || tag == kSync) {
      Rga incoming;
      if (!incoming.decode(r)) return;
      if (!state_.merge(incoming)) return;
      state_digest_.reset();
      shown_.reset();
      persist(ctx);
      broadcast(ctx, full_message(kFull, state_));
    } else if (tag == kDigest) {
      const std::uint64_t theirs = r.u64();
      if (!state_digest_) state_digest_ = digest(state_);
      if (r.ok() && theirs != *state_digest_) ctx.send(from, full_message(kFull, state_));
    }
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTick) return;
    ctx.set_timer(kResendInterval, kTick);
    if (++ticks_ % kSyncEveryTicks != 0 || ctx.servers().size() < 2) return;
    const std::string message = full_message(kSync, state_);
    for (NodeId s : ctx.servers()) {
      if (s != ctx.self()) ctx.send(s, message);
    }
  }

  void on_connected(Context& ctx, NodeId peer) override {
    const auto servers = ctx.servers();
    const bool server = std::find(servers.begin(), servers.end(), peer) != servers.end();
    ctx.send(peer, full_message(server ? kSync : kFull, state_));
  }

  std::optional<State> state() const override {
    if (!shown_) shown_ = state_.state();  // sampled every 100 ms; rebuilt only after a change
    return shown_;
  }
  std::uint64_t metadata_bytes() const override { return state_.metadata_bytes() + accepted_.size() * 8; }

 private:
  void accept(Context& ctx, NodeId from, const Op& op, bool from_client) {
    if (accepted_.insert(op.id).second) {
      state_.apply(op);
      state_digest_.reset();
      shown_.reset();
      persist(ctx);  // flushed before the ack: an acknowledged edit survives a crash
      broadcast(ctx, op_message(kApply, op));
      if (from_client) {
        for (NodeId s : ctx.servers()) {
          if (s != ctx.self()) ctx.send(s, op_message(kForward, op));
        }
      }
    }
    if (from_client) ctx.send(from, Writer().u8(kAck).u64(op.id.value).take());
  }

  void broadcast(Context& ctx, const std::string& message) {
    for (NodeId c : ctx.clients()) {
      if (ctx.connected(c)) ctx.send(c, message);
    }
  }

  void persist(Context& ctx) {
    Writer w;
    state_.encode(w);
    w.u32(static_cast<std::uint32_t>(accepted_.size()));
    for (OpId id : accepted_) w.u64(id.value);
    ctx.store().put("rga/server", w.take());
    ctx.store().flush();
  }

  void restore(Context& ctx) {
    auto saved = ctx.store().get("rga/server");
    if (!saved) return;
    Reader r(*saved);
    Rga state;
    if (!state.decode(r)) return;
    std::set<OpId> accepted;
    const std::uint32_t n = r.u32();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) accepted.insert(OpId{r.u64()});
    if (!r.ok()) return;
    state_ = std::move(state);
    accepted_ = std::move(accepted);
  }

  Rga state_;
  std::optional<std::uint64_t> state_digest_;  ///< digest(state_), while state_ is unchanged
  mutable std::optional<State> shown_;         ///< state_.state(), while state_ is unchanged
  std::set<OpId> accepted_;  ///< op ids already applied: resends apply once
  std::uint64_t ticks_ = 0;
};

}  // namespace
}  // namespace syncstorm::rga

namespace syncstorm {

ModelInfo rga_text_model() {
  return ModelInfo{
      .name = "rga-text",
      .description = "RGA sequence CRDT for text through relay servers that merge and store; deletes leave tombstones",
      .data_type = DataType::text,
      .topology = Topology::client_server,
      .rule = SupersedeRule::add_wins,
      .correct = true,
      .breaks = std::nullopt,
      .make_client = [](NodeId) { return std::make_unique<rga::Client>(); },
      .make_server = [](NodeId) { return std::make_unique<rga::Server>(); },
  };
}

}  // namespace syncstorm
