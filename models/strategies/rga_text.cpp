// rga-text: collaborative text as a replicated growable array (models/rga.hpp), synced through relay
// servers that merge and store it. Clients apply their edits at once and keep them in an outbox until
// a server has stored and flushed them; servers de-duplicate by op id, broadcast each accepted op,
// forward it to the other servers and exchange full state with them periodically. On every
// (re)connect a client sends its whole state (harmless: merge is a union) and resends its outbox, and
// the server sends its whole state back.
#include <algorithm>
#include <cassert>
#include <map>

#include <boost/container/flat_set.hpp>

#include "models/kit/digest_term.hpp"
#include "models/crdt/rga.hpp"
#include "models/kit/store_keys.hpp"
#include "sim/base/rng.hpp"

namespace syncstorm::rga {

// ---- the pure state --------------------------------------------------------------------------

namespace {

std::uint64_t element_term(OpId id, const Element& e) {
  return digest_term(1, id.value, e.parent.value, e.lamport, e.origin.value);
}

std::uint64_t deletion_term(OpId target, const Deletion& d) {
  return digest_term(2, target.value, d.by.value, d.origin.value, 0);
}

/// Siblings come newest first: by Lamport time, then by op id, both descending.
bool sibling_before(std::uint64_t lamport_a, OpId a, std::uint64_t lamport_b, OpId b) {
  return lamport_a != lamport_b ? lamport_a > lamport_b : b < a;
}

}  // namespace

bool Rga::insert(OpId id, const Element& element) {
  if (!id.valid()) return false;  // 0 names the start of the text
  if (!elements_.try_emplace(id, element).second) return false;  // no node built for a duplicate
  digest_ += element_term(id, element);
  max_lamport_ = std::max(max_lamport_, element.lamport);
  if (place(id, element)) {
    place_with_waiting_children(id);
  } else {
    waiting_for_parent_[element.parent].push_back(id);
  }
  return true;
}

bool Rga::place(OpId id, const Element& element) {
  // Find the parent, then pass over the siblings that come before this element, each with its
  // whole subtree (the slots after it that are deeper than it).
  std::size_t i = 0;
  std::uint32_t parent_depth = 0;
  if (element.parent.valid()) {
    while (i < order_.size() && order_[i].id != element.parent) ++i;
    if (i == order_.size()) return false;
    parent_depth = order_[i].depth;
    ++i;
  }
  while (i < order_.size() && order_[i].depth > parent_depth) {
    assert(order_[i].depth == parent_depth + 1);  // a sibling: subtrees were passed over whole
    if (!sibling_before(order_[i].lamport, order_[i].id, element.lamport, id)) break;
    ++i;
    while (i < order_.size() && order_[i].depth > parent_depth + 1) ++i;
  }
  order_.insert(order_.begin() + static_cast<std::ptrdiff_t>(i),
                Slot{id, element.lamport, parent_depth + 1, deleted_.contains(id)});
  return true;
}

void Rga::place_with_waiting_children(OpId id) {
  // Children that arrived before `id` can be placed now, and their own waiting children after
  // them. Each element waits under one parent and is placed once, so this ends.
  std::vector<OpId> placed{id};
  while (!placed.empty()) {
    const OpId parent = placed.back();
    placed.pop_back();
    auto waiting = waiting_for_parent_.find(parent);
    if (waiting == waiting_for_parent_.end()) continue;
    const std::vector<OpId> children = std::move(waiting->second);
    waiting_for_parent_.erase(waiting);
    for (OpId child : children) {
      const bool ok = place(child, elements_.at(child));
      assert(ok);
      (void)ok;
      placed.push_back(child);
    }
  }
}

bool Rga::erase(OpId target, const Deletion& deletion) {
  if (!target.valid()) return false;
  auto [it, inserted] = deleted_.try_emplace(target, deletion);
  if (inserted) {
    digest_ += deletion_term(target, deletion);
    for (Slot& slot : order_) {
      if (slot.id == target) {
        slot.dead = true;
        break;
      }
    }
    return true;
  }
  if (!(deletion.by < it->second.by)) return false;
  digest_ -= deletion_term(target, it->second);
  it->second = deletion;
  digest_ += deletion_term(target, deletion);
  return true;
}

bool Rga::apply(const Op& op) {
  if (op.kind == OpKind::text_insert) return insert(op.id, Element{op.ref, op.lamport, op.origin});
  return erase(op.ref, Deletion{op.id, op.origin});
}

bool Rga::merge(const Rga& other) {
  bool grew = false;
  for (const auto& [id, element] : other.elements_) grew |= insert(id, element);
  for (const auto& [id, deletion] : other.deleted_) grew |= erase(id, deletion);
  return grew;
}

std::vector<OpId> Rga::visible() const {
  std::vector<OpId> out;
  out.reserve(order_.size());
  for (const Slot& slot : order_) {
    if (!slot.dead) out.push_back(slot.id);
  }
  return out;
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
  return elements_.size() * 20 + deleted_.size() * (20 + 20);
}

void Rga::encode(Writer& w) const {
  w.u32(static_cast<std::uint32_t>(elements_.size()));
  for (const auto& [id, e] : elements_) w.u64(id.value).u64(e.parent.value).u64(e.lamport).u32(e.origin.value);
  w.u32(static_cast<std::uint32_t>(deleted_.size()));
  for (const auto& [id, d] : deleted_) w.u64(id.value).u64(d.by.value).u32(d.origin.value);
}

bool Rga::decode(Reader& r) {
  const auto ops = decode_ops(r);
  if (!ops) return false;
  for (const Op& op : *ops) apply(op);
  return true;
}

std::optional<std::vector<Op>> decode_ops(Reader& r) {
  std::vector<Op> inserts;
  const std::uint32_t n = r.u32();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    Op op;
    op.kind = OpKind::text_insert;
    op.id = OpId{r.u64()};
    op.ref = OpId{r.u64()};
    op.lamport = r.u64();
    op.origin = NodeId{r.u32()};
    if (r.ok() && op.id.valid()) inserts.push_back(op);
  }
  std::vector<Op> deletes;
  const std::uint32_t m = r.u32();
  for (std::uint32_t i = 0; i < m && r.ok(); ++i) {
    Op op;
    op.kind = OpKind::text_delete;
    op.ref = OpId{r.u64()};
    op.id = OpId{r.u64()};
    op.origin = NodeId{r.u32()};
    if (r.ok() && op.ref.valid()) deletes.push_back(op);
  }
  if (!r.ok()) return std::nullopt;
  // Bytes from Rga::encode are sorted already; anything else is put in that order, so that a
  // replica applies the same operations in the same order as a merge of the decoded state would.
  std::stable_sort(inserts.begin(), inserts.end(), [](const Op& a, const Op& b) { return a.id < b.id; });
  inserts.erase(std::unique(inserts.begin(), inserts.end(), [](const Op& a, const Op& b) { return a.id == b.id; }),
                inserts.end());
  std::stable_sort(deletes.begin(), deletes.end(),
                   [](const Op& a, const Op& b) { return a.ref != b.ref ? a.ref < b.ref : a.id < b.id; });
  deletes.erase(std::unique(deletes.begin(), deletes.end(), [](const Op& a, const Op& b) { return a.ref == b.ref; }),
                deletes.end());
  inserts.insert(inserts.end(), deletes.begin(), deletes.end());
  return inserts;
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
    if (auto server = ctx.connected_server()) send_op(ctx, *server, op);
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      const OpId id{r.u64()};
      if (r.ok() && outbox_.contains(id) && acked_.insert(id).second) {
        ctx.report(id, Lifecycle::acknowledged);
        settle_acknowledged(ctx);
      }
    } else if (tag == kApply) {
      auto op = decode_op(r);
      if (!op) return;
      const bool grew = learn(ctx, *op);
      if (grew) settle_acknowledged(ctx);
      if (grew || view_stale_) changed(ctx);
    } else if (tag == kFull) {
      const auto ops = decode_ops(r);
      if (!ops) return;
      bool grew = false;
      for (const Op& op : *ops) grew |= learn(ctx, op);
      if (grew) settle_acknowledged(ctx);
      if (grew || view_stale_) changed(ctx);
    }
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTick) return;
    ctx.set_timer(kResendInterval, kTick);
    // Datagram links lose messages: resend what is unacknowledged, and compare digests with the
    // server (anti-entropy) so that a lost update heals.
    if (auto server = ctx.connected_server()) {
      for (const auto& [id, op] : outbox_) {
        if (!acked_.contains(id)) send_op(ctx, *server, op);
      }
      ctx.send_control(*server, Writer().u8(kDigest).u64(base_.digest()).take());
    }
  }

  void on_connected(Context& ctx, NodeId peer) override {
    ctx.send(peer, full_message(kHello, base_));
    for (const auto& [id, op] : outbox_) {
      if (!acked_.contains(id)) send_op(ctx, peer, op);
    }
  }

  std::optional<State> state() const override {
    State s;
    s.type = DataType::text;
    s.text = visible_order();
    return s;
  }

  std::uint64_t metadata_bytes() const override { return view_.metadata_bytes() + outbox_.size() * 29; }

 private:
  /// Sends one of this client's ops, declaring that it lacks the others still unacknowledged: over
  /// datagrams an older one may be lost while this one arrives, and counted whole, its past would
  /// order the server's next pushes after writes still on their way.
  void send_op(Context& ctx, NodeId to, const Op& op) {
    std::vector<OpId> missing;
    missing.reserve(outbox_.size());
    for (const auto& [id, waiting] : outbox_) {
      if (id != op.id && !acked_.contains(id)) missing.push_back(id);
    }
    ctx.send_without_own_writes(to, op_message(kOp, op), missing);
  }

  /// Lets go of the acknowledged ops base_ holds. One that it does not hold yet stays in the
  /// outbox (no longer resent): over datagrams the acknowledgement may come before the broadcast
  /// that brings the op, and taken out now, the user's own edit would vanish until it came.
  void settle_acknowledged(Context& ctx) {
    bool any = false;
    for (auto it = acked_.begin(); it != acked_.end();) {
      auto op = outbox_.find(*it);
      if (op != outbox_.end() && !covered_by_base(op->second)) {
        ++it;
        continue;
      }
      if (op != outbox_.end()) outbox_.erase(op);
      ctx.store().erase(outbox_key(*it));
      it = acked_.erase(it);
      any = true;
    }
    if (any) ctx.store().flush();
  }

  /// Whether taking `op` out of the outbox leaves the view as it is: base_ holds its element, or
  /// a tombstone of its target by it or by a lower op id (the view keeps the lowest).
  bool covered_by_base(const Op& op) const {
    if (op.kind == OpKind::text_insert) return base_.elements().contains(op.id);
    if (!op.ref.valid()) return true;  // a delete in an empty text: nothing to hold
    const auto it = base_.deleted().find(op.ref);
    return it != base_.deleted().end() && it->second.by <= op.id;
  }

  /// Adds a server-sent op to base_ (and to the view, while that is current); returns whether
  /// base_ grew, and notes what changed for the next `changed`.
  bool learn(Context& ctx, const Op& op) {
    if (!base_.apply(op)) return false;
    ctx.store().put(base_key(op.id), op_record(op));  // flushed by `changed`
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
      const auto it = view_.elements().find(id);
      if (it != view_.elements().end() && it->second.origin != ctx.self() && reported_.insert(id).second) {
        ctx.report(id, Lifecycle::seen);
      }
    }
    std::sort(dirty_targets_.begin(), dirty_targets_.end());
    dirty_targets_.erase(std::unique(dirty_targets_.begin(), dirty_targets_.end()), dirty_targets_.end());
    for (OpId target : dirty_targets_) {
      const auto it = view_.deleted().find(target);
      if (it == view_.deleted().end()) continue;
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
  // writes only what changed: "rga/b/ID" for every op base_ gained, "rga/o/ID" for the outbox.
  static std::string base_key(OpId id) { return numbered_key("rga/b/", id.value); }
  static std::string outbox_key(OpId id) { return numbered_key("rga/o/", id.value); }
  static std::string op_record(const Op& op) {
    Writer w;
    encode_op(w, op);
    return w.take();
  }

  void restore(Context& ctx) {
    Rga base;
    for (const auto& [key, record] : ctx.store().scan("rga/b/")) {
      Reader r(record);
      const auto op = decode_op(r);
      if (!op) return;
      base.apply(*op);
    }
    std::map<OpId, Op> outbox;
    for (const auto& [key, record] : ctx.store().scan("rga/o/")) {
      Reader r(record);
      const auto op = decode_op(r);
      if (!op) return;
      outbox[op->id] = *op;
    }
    if (auto saved = ctx.store().get("rga/lamport")) lamport_ = Reader(*saved).u64();
    base_ = std::move(base);
    outbox_ = std::move(outbox);
    for (const auto& [id, e] : base_.elements()) reported_.insert(id);
    for (const auto& [id, d] : base_.deleted()) reported_.insert(d.by);
  }

  Rga base_;                   ///< what the servers have told us
  std::map<OpId, Op> outbox_;  ///< applied here, not yet acknowledged or not yet in base_
  boost::container::flat_set<OpId> acked_;  ///< outbox ops acknowledged, waiting for base_ to hold them
  Rga view_;                   ///< base_ with the outbox applied
  bool view_stale_ = true;     ///< view_ must be rebuilt from base_ and the outbox
  mutable std::vector<OpId> order_;  ///< view_'s visible text (see visible_order)
  mutable bool order_stale_ = true;
  std::uint64_t lamport_ = 0;
  boost::container::flat_set<OpId> reported_;  ///< remote operations already reported as seen
  std::vector<OpId> fresh_elements_;  ///< inserts base_ gained since the last `changed`
  std::vector<OpId> dirty_targets_;   ///< elements whose tombstone may have changed since then
};

class Server final : public Node {
 public:
  void on_start(Context& ctx) override {
    restore(ctx);
    ctx.set_timer(kResendInterval, kTick);
  }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kOp || tag == kForward) {
      auto op = decode_op(r);
      if (op) accept(ctx, from, *op, tag == kOp);
    } else if (tag == kHello || tag == kSync) {
      const auto ops = decode_ops(r);
      if (!ops) return;
      bool grew = false;
      for (const Op& op : *ops) {
        if (!state_.apply(op)) continue;
        grew = true;
        persist(ctx, op);
      }
      if (!grew) return;
      state_changed();
      ctx.store().flush();
      broadcast(ctx, full_state());
    } else if (tag == kDigest) {
      const std::uint64_t theirs = r.u64();
      if (r.ok() && theirs != state_.digest()) ctx.send(from, full_state());
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
    ctx.send(peer, server ? full_message(kSync, state_) : full_state());
  }

  std::optional<State> state() const override {
    if (!shown_) shown_ = state_.state();  // sampled every 100 ms; rebuilt only after a change
    return shown_;
  }
  std::uint64_t metadata_bytes() const override { return state_.metadata_bytes() + accepted_.size() * 8; }

 private:
  void accept(Context& ctx, NodeId from, const Op& op, bool from_client) {
    if (accepted_.insert(op.id).second) {
      if (state_.apply(op)) state_changed();
      persist(ctx, op);
      ctx.store().flush();  // before the ack: an acknowledged edit survives a crash
      broadcast(ctx, op_message(kApply, op));
      if (from_client) {
        for (NodeId s : ctx.servers()) {
          if (s != ctx.self()) ctx.send(s, op_message(kForward, op));
        }
      }
    }
    // The acknowledgement names only the receiver's own write: no happens-before along it, since
    // over datagrams it may overtake the broadcasts before it.
    if (from_client) ctx.send_control(from, Writer().u8(kAck).u64(op.id.value).take());
  }

  void broadcast(Context& ctx, const std::string& message) {
    for (NodeId c : ctx.clients()) {
      if (ctx.connected(c)) ctx.send(c, message);
    }
  }

  void state_changed() {
    shown_.reset();
    full_.reset();
  }

  /// The kFull message for state_, encoded once per change: digest mismatches and reconnects ask
  /// for it far more often than the state changes.
  const std::string& full_state() {
    if (!full_) full_ = full_message(kFull, state_);
    return *full_;
  }

  // The store holds one record per operation (the op, then 1 when it was accepted from a client or
  // a server's forward, 0 when it came in a merged state), so a change writes only itself.
  static std::string op_key(OpId id) { return numbered_key("rga/p/", id.value); }

  void persist(Context& ctx, const Op& op) {
    Writer w;
    encode_op(w, op);
    w.u8(accepted_.contains(op.id) ? 1 : 0);
    ctx.store().put(op_key(op.id), w.take());
  }

  void restore(Context& ctx) {
    Rga state;
    boost::container::flat_set<OpId> accepted;
    for (const auto& [key, record] : ctx.store().scan("rga/p/")) {
      Reader r(record);
      const auto op = decode_op(r);
      const std::uint8_t was_accepted = r.u8();
      if (!op || !r.ok()) return;
      state.apply(*op);
      if (was_accepted != 0) accepted.insert(op->id);
    }
    state_ = std::move(state);
    accepted_ = std::move(accepted);
  }

  Rga state_;
  mutable std::optional<State> shown_;  ///< state_.state(), while state_ is unchanged
  std::optional<std::string> full_;     ///< full_message(kFull, state_), while state_ is unchanged
  boost::container::flat_set<OpId> accepted_;  ///< op ids already applied: resends apply once
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
      .breaks = std::nullopt,
      .make_client = [](NodeId) { return std::make_unique<rga::Client>(); },
      .make_server = [](NodeId) { return std::make_unique<rga::Server>(); },
      // Every replica keeps a tombstone for every deleted element for ever (this RGA collects
      // none), and the server every accepted id, so that a resend is merged once: what a replica
      // holds grows with every insert ever made, whatever the text shows, and no bound is
      // promised. Its size is a figure (`run`, `compare`), not a finding.
      .datagram_links = true,
      .multi_server = true,  // servers forward ops and exchange full states
      .metadata_growth = MetadataGrowth::keeps_every_change,
  };
}

}  // namespace syncstorm
