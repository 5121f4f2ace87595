// or-set-list: an observed-remove set of list items synced through relay servers that merge and
// store it. Each add or update carries a unique tag (its op id) and kills the tags of the item its
// writer had observed; a remove kills the observed tags only, so a concurrent add survives (add wins).
// An item's value is its live tag with the greatest (Lamport time, op id).
//
// Tombstones are kept until every client and every server has durably stored them: clients report
// the tombstones they hold (after a flush), servers exchange those reports, and a server discards a
// tombstone once the report set is complete, remembering the discarded id so that a stale copy can
// never bring it back. The same code, with a different Collection, is the tombstone-ttl-list and
// union-set-list baselines.
//
// Clients show the server's state with their own unacknowledged operations applied on top. On every
// (re)connect a client sends its state (hello) and resends its outbox; servers de-duplicate by op id,
// store and flush before acknowledging, broadcast each accepted op, and forward it to other servers.
#include <algorithm>
#include <set>

#include <boost/container/flat_set.hpp>


#include "models/or_set.hpp"
#include "sim/rng.hpp"

namespace syncstorm::orset {

// ---- the pure state --------------------------------------------------------------------------

void OrSet::add(OpId id, const Tag& tag) { tags.try_emplace(id, tag); }

void OrSet::remove(OpId tag, const Removal& removal) {
  auto [it, inserted] = removed.try_emplace(tag, removal);
  // Two removes of one tag: keep the lower remover so that merge order never matters.
  if (!inserted && removal.by < it->second.by) it->second = removal;
}

void OrSet::discard(OpId tag) {
  tags.erase(tag);
  removed.erase(tag);
}

void OrSet::apply(const Op& op) {
  const Removal removal{op.id, op.origin};
  for (OpId tag : op.observed) remove(tag, removal);
  if (op.kind != OpKind::list_remove) add(op.id, Tag{op.key, op.lamport, op.origin});
}

void OrSet::merge(const OrSet& other) {
  for (const auto& [id, tag] : other.tags) add(id, tag);
  for (const auto& [id, removal] : other.removed) remove(id, removal);
}

std::vector<OpId> OrSet::live_tags(KeyId key) const {
  std::vector<OpId> out;
  for (const auto& [id, tag] : tags) {
    if (tag.key == key && !removed.contains(id)) out.push_back(id);
  }
  return out;
}

std::uint64_t OrSet::max_lamport() const {
  std::uint64_t m = 0;
  for (const auto& [id, tag] : tags) m = std::max(m, tag.lamport);
  return m;
}

State OrSet::state() const {
  std::map<KeyId, std::pair<std::uint64_t, OpId>> best;
  for (const auto& [id, tag] : tags) {
    if (removed.contains(id)) continue;
    auto [it, inserted] = best.emplace(tag.key, std::pair{tag.lamport, id});
    if (!inserted && it->second < std::pair{tag.lamport, id}) it->second = {tag.lamport, id};
  }
  State s;
  s.type = DataType::list;
  for (const auto& [key, value] : best) s.items.push_back(Item{key, value.second});
  return s;
}

std::uint64_t OrSet::metadata_bytes() const {
  // A dead tag still held and its tombstone are pure metadata; a live tag's lamport and origin are
  // the causal metadata of the value.
  std::uint64_t dead = 0;
  for (const auto& [id, tag] : tags) dead += removed.contains(id) ? 1 : 0;
  return dead * 24 + removed.size() * 20 + (tags.size() - dead) * 12;
}

void OrSet::encode(Writer& w) const {
  // Fixed-size records written into one extension each: replicas encode their whole state often.
  constexpr std::size_t kTagBytes = 8 + 4 + 8 + 4;
  constexpr std::size_t kRemovalBytes = 8 + 8 + 4;
  w.u32(static_cast<std::uint32_t>(tags.size()));
  char* at = w.extend(tags.size() * kTagBytes);
  for (const auto& [id, tag] : tags) {
    at = Writer::put_u64(at, id.value);
    at = Writer::put_u32(at, tag.key.value);
    at = Writer::put_u64(at, tag.lamport);
    at = Writer::put_u32(at, tag.origin.value);
  }
  w.u32(static_cast<std::uint32_t>(removed.size()));
  at = w.extend(removed.size() * kRemovalBytes);
  for (const auto& [id, removal] : removed) {
    at = Writer::put_u64(at, id.value);
    at = Writer::put_u64(at, removal.by.value);
    at = Writer::put_u32(at, removal.origin.value);
  }
}

bool OrSet::decode(Reader& r) {
  const std::uint32_t n = r.u32();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    const OpId id{r.u64()};
    Tag tag;
    tag.key = KeyId{r.u32()};
    tag.lamport = r.u64();
    tag.origin = NodeId{r.u32()};
    if (r.ok()) add(id, tag);
  }
  const std::uint32_t m = r.u32();
  for (std::uint32_t i = 0; i < m && r.ok(); ++i) {
    const OpId id{r.u64()};
    Removal removal;
    removal.by = OpId{r.u64()};
    removal.origin = NodeId{r.u32()};
    if (r.ok()) remove(id, removal);
  }
  return r.ok();
}

void encode_op(Writer& w, const Op& op) {
  w.u64(op.id.value).u32(op.origin.value).u8(static_cast<std::uint8_t>(op.kind)).u32(op.key.value).u64(op.lamport);
  w.u32(static_cast<std::uint32_t>(op.observed.size()));
  for (OpId tag : op.observed) w.u64(tag.value);
}

std::optional<Op> decode_op(Reader& r) {
  Op op;
  op.id = OpId{r.u64()};
  op.origin = NodeId{r.u32()};
  const std::uint8_t kind = r.u8();
  op.key = KeyId{r.u32()};
  op.lamport = r.u64();
  const std::uint32_t n = r.u32();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) op.observed.push_back(OpId{r.u64()});
  const bool list_kind = kind == static_cast<std::uint8_t>(OpKind::list_add) ||
                         kind == static_cast<std::uint8_t>(OpKind::list_update) ||
                         kind == static_cast<std::uint8_t>(OpKind::list_remove);
  if (!r.ok() || !list_kind || !op.id.valid()) return std::nullopt;
  op.kind = static_cast<OpKind>(kind);
  return op;
}

// ---- the relay protocol ----------------------------------------------------------------------

namespace {

/// std::erase_if for a flat map: one pass over its sorted sequence, which stays sorted.
template <typename FlatMap, typename Predicate>
void erase_where(FlatMap& map, Predicate predicate) {
  auto sequence = map.extract_sequence();
  sequence.erase(std::remove_if(sequence.begin(), sequence.end(), predicate), sequence.end());
  map.adopt_sequence(boost::container::ordered_unique_range, std::move(sequence));
}

/// The value of item `key` this replica shows now (0 when absent): what a remove takes away.
OpId shown_value(const Node& node, KeyId key) {
  if (auto s = node.state()) {
    for (const Item& item : s->items) {
      if (item.id == key) return item.value;
    }
  }
  return OpId{};
}

enum MsgTag : std::uint8_t {
  kOp = 1,       ///< client -> server: an operation (resent until acknowledged)
  kAck = 2,      ///< server -> client: the operation is stored and flushed
  kApply = 3,    ///< server -> clients: an accepted operation
  kFull = 4,     ///< server -> client: the whole state (catch-up)
  kHello = 5,    ///< client -> server: the client's whole state, merged on every (re)connect
  kSeen = 6,     ///< client -> server: tombstones this client has durably stored
  kPurge = 7,    ///< server -> clients: tombstones every replica has seen; discard them
  kForward = 8,  ///< server -> server: an operation a client sent
  kSync = 9,     ///< server -> server: state, discarded ids and tombstone reports
  kDigest = 10,  ///< client -> server: a hash of the client's base; a mismatch gets a full state back
};

enum TimerTag : std::uint64_t { kTick = 1 };

/// Clients repeat their whole tombstone report this often (in resend intervals), in case a datagram
/// carrying part of it was lost.
constexpr std::uint64_t kFullReportEveryTicks = 5;

std::string full_message(MsgTag tag, const OrSet& set) {
  Writer w;
  w.u8(tag);
  set.encode(w);
  return w.take();
}

std::uint64_t digest(const OrSet& set) {
  Writer w;
  set.encode(w);
  return fnv1a64(w.take());
}

std::string op_message(MsgTag tag, const Op& op) {
  Writer w;
  w.u8(tag);
  encode_op(w, op);
  return w.take();
}

std::string ids_message(MsgTag tag, const std::vector<OpId>& ids) {
  Writer w;
  w.u8(tag).u32(static_cast<std::uint32_t>(ids.size()));
  for (OpId id : ids) w.u64(id.value);
  return w.take();
}

std::vector<OpId> decode_ids(Reader& r) {
  std::vector<OpId> ids;
  const std::uint32_t n = r.u32();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) ids.push_back(OpId{r.u64()});
  return ids;
}

/// Tombstone time-to-live bookkeeping (after_ttl only): when this node first held each tombstone, by
/// its own local clock, and the collection of the expired ones.
class TtlClock {
 public:
  void note(Context& ctx, const OrSet& set) {
    for (const auto& [id, removal] : set.removed) since_.emplace(id, ctx.local_clock());
    std::erase_if(since_, [&](const auto& entry) { return !set.removed.contains(entry.first); });
  }
  /// Discards expired tombstones (and their tags); returns whether any was discarded.
  bool collect(Context& ctx, OrSet& set, Duration ttl) {
    bool any = false;
    for (auto it = since_.begin(); it != since_.end();) {
      if (ctx.local_clock() - it->second < ttl) { ++it; continue; }
      set.discard(it->first);
      it = since_.erase(it);
      any = true;
    }
    return any;
  }
  std::size_t size() const { return since_.size(); }

 private:
  std::map<OpId, Instant> since_;
};

/// Applies the strategy's collection rule right after a state change.
void collect_now(Context& ctx, const Options& options, OrSet& set, TtlClock& ttl) {
  if (options.collection == Collection::at_once) {
    while (!set.removed.empty()) set.discard(set.removed.begin()->first);
  } else if (options.collection == Collection::after_ttl) {
    ttl.note(ctx, set);
    ttl.collect(ctx, set, options.ttl);
  }
}

class Client final : public Node {
 public:
  explicit Client(Options options) : options_(options) {}

  void on_start(Context& ctx) override {
    restore(ctx);
    refresh();
    ctx.set_timer(options_.resend_interval, kTick);
  }

  void on_user_operation(Context& ctx, const Operation& user) override {
    if (data_type_of(user.kind) != DataType::list) return;
    Op op;
    op.id = user.id;
    op.origin = ctx.self();
    op.kind = user.kind;
    op.key = user.key;
    lamport_ = std::max(lamport_, view().max_lamport()) + 1;
    op.lamport = lamport_;
    op.observed = view().live_tags(user.key);
    const OpId removed = user.kind == OpKind::list_remove ? shown_value(*this, user.key) : OpId{};
    outbox_[op.id] = op;
    refresh();
    persist(ctx);
    ctx.report(op.id, Lifecycle::applied, removed);
    if (auto server = ctx.connected_server()) ctx.send(*server, op_message(kOp, op));
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      const OpId id{r.u64()};
      if (r.ok() && outbox_.erase(id) > 0) {
        persist(ctx);
        ctx.report(id, Lifecycle::acknowledged);
      }
    } else if (tag == kApply) {
      auto op = decode_op(r);
      if (!op) return;
      base_.apply(*op);
      changed(ctx);
    } else if (tag == kFull) {
      OrSet server;
      if (!server.decode(r)) return;
      base_ = std::move(server);
      changed(ctx);
    } else if (tag == kPurge) {
      const auto ids = decode_ids(r);
      if (!r.ok()) return;
      for (OpId id : ids) base_.discard(id);
      refresh();
      persist(ctx);
    }
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTick) return;
    ctx.set_timer(options_.resend_interval, kTick);
    if (options_.collection == Collection::after_ttl && ttl_.collect(ctx, base_, options_.ttl)) {
      refresh();
      persist(ctx);
    }
    // Datagram links lose and reorder messages: resend what is unacknowledged and the tombstone
    // report, and compare digests with the server (anti-entropy) so a lost or stale update heals.
    if (auto server = ctx.connected_server()) {
      for (const auto& [id, op] : outbox_) ctx.send(*server, op_message(kOp, op));
      if (++ticks_ % kFullReportEveryTicks == 0) told_.clear();
      report_tombstones(ctx, *server);
      if (!base_digest_) base_digest_ = digest(base_);
      ctx.send(*server, Writer().u8(kDigest).u64(*base_digest_).take());
    }
  }

  void on_connected(Context& ctx, NodeId peer) override {
    ctx.send(peer, full_message(kHello, base_));
    for (const auto& [id, op] : outbox_) ctx.send(peer, op_message(kOp, op));
    told_.clear();  // a new connection, maybe a new server: report every tombstone again
    report_tombstones(ctx, peer);
  }

  std::optional<State> state() const override {
    if (!shown_) shown_ = view().state();  // computed when read: a burst of messages costs one
    return shown_;
  }

  std::uint64_t metadata_bytes() const override {
    std::uint64_t outbox = 0;
    for (const auto& [id, op] : outbox_) outbox += 32 + op.observed.size() * 8;
    return base_.metadata_bytes() + outbox + ttl_.size() * 16;
  }

 private:
  /// The base changed through the server: collect, report newly visible remote writes, store.
  void changed(Context& ctx) {
    // A Lamport clock remembers every time it has seen, even of tags discarded since: a later write
    // must order after them should one of them come back (as the buggy baselines let happen).
    lamport_ = std::max(lamport_, base_.max_lamport());
    collect_now(ctx, options_, base_, ttl_);
    refresh();
    report_seen(ctx);
    persist(ctx);
    if (auto server = ctx.connected_server()) report_tombstones(ctx, *server);
  }

  void report_seen(Context& ctx) {
    // Tags and reported ids are both sorted by id: one merged walk finds the unreported tags.
    const NodeId self = ctx.self();
    std::vector<OpId> fresh;
    auto reported = reported_.begin();
    for (const auto& [id, tag] : view().tags) {
      while (reported != reported_.end() && *reported < id) ++reported;
      if (tag.origin != self && (reported == reported_.end() || *reported != id)) fresh.push_back(id);
    }
    for (OpId id : fresh) {
      reported_.insert(id);
      ctx.report(id, Lifecycle::seen);
    }
    // A tombstone exactly as the last call saw it was handled then (reported_ only grows), so only
    // new or changed ones are looked up: one merged walk against the last call's copy finds them.
    const auto& removed = view().removed;
    auto before = removals_checked_.begin();
    for (const auto& [id, removal] : removed) {
      while (before != removals_checked_.end() && before->first < id) ++before;
      const bool unchanged = before != removals_checked_.end() && before->first == id && before->second == removal;
      if (!unchanged && removal.origin != self && reported_.insert(removal.by).second) ctx.report(removal.by, Lifecycle::seen);
    }
    removals_checked_ = removed;
  }

  /// Tells the server which tombstones this client holds, those not told yet; the store was
  /// flushed by persist(), so a crash cannot take back what the report says.
  void report_tombstones(Context& ctx, NodeId server) {
    if (options_.collection != Collection::when_all_seen) return;
    // What was told and is still held stays told; what is held and was not told is told now. So
    // after each report the told ids are exactly base_'s tombstones: keep them as a sorted list and
    // send the difference, both found in one merged walk.
    std::vector<OpId> ids;
    std::vector<OpId> held;
    held.reserve(base_.removed.size());
    auto told = told_.begin();
    for (const auto& [id, removal] : base_.removed) {
      while (told != told_.end() && *told < id) ++told;
      if (told == told_.end() || *told != id) ids.push_back(id);
      held.push_back(id);
    }
    told_ = std::move(held);
    if (ids.empty()) return;
    ctx.send(server, ids_message(kSeen, ids));
  }

  /// What the user sees as of the last refresh: base_ with the outbox applied. With an empty
  /// outbox that is base_ itself, and no copy is made (base_ changes only just before a refresh).
  const OrSet& view() const { return view_is_base_ ? base_ : view_; }

  void refresh() {
    view_is_base_ = outbox_.empty();
    if (!view_is_base_) {
      view_ = base_;
      for (const auto& [id, op] : outbox_) view_.apply(op);
    }
    shown_.reset();
  }

  // Every change of base_ is stored at once, so this is also where its cached digest goes stale.
  void persist(Context& ctx) {
    base_digest_.reset();
    Writer w;
    w.u64(lamport_);
    base_.encode(w);
    w.u32(static_cast<std::uint32_t>(outbox_.size()));
    for (const auto& [id, op] : outbox_) encode_op(w, op);
    ctx.store().put("orset/client", w.take());
    ctx.store().flush();
  }

  void restore(Context& ctx) {
    auto saved = ctx.store().get("orset/client");
    if (!saved) return;
    Reader r(*saved);
    lamport_ = r.u64();
    OrSet base;
    if (!base.decode(r)) return;
    std::map<OpId, Op> outbox;
    const std::uint32_t n = r.u32();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      if (auto op = decode_op(r)) outbox[op->id] = *op;
    }
    if (!r.ok()) return;
    base_ = std::move(base);
    outbox_ = std::move(outbox);
    for (const auto& [id, tag] : base_.tags) reported_.insert(id);
    for (const auto& [id, removal] : base_.removed) reported_.insert(removal.by);
  }

  Options options_;
  OrSet base_;                        ///< the state as the servers last told us
  std::map<OpId, Op> outbox_;         ///< applied here, not yet acknowledged
  OrSet view_;                        ///< base_ with the outbox applied (see view())
  bool view_is_base_ = true;
  mutable std::optional<State> shown_;  ///< view().state(), computed when first read
  std::uint64_t lamport_ = 0;
  TtlClock ttl_;
  boost::container::flat_set<OpId> reported_;  ///< remote writes already reported as seen
  boost::container::flat_map<OpId, Removal> removals_checked_;  ///< view().removed at the last report_seen
  std::vector<OpId> told_;            ///< tombstones reported to the server on this connection, sorted
  std::uint64_t ticks_ = 0;
  std::optional<std::uint64_t> base_digest_;  ///< digest(base_), while base_ is unchanged
};

class Server final : public Node {
 public:
  explicit Server(Options options) : options_(options) {}

  void on_start(Context& ctx) override {
    restore(ctx);
    ctx.set_timer(options_.resend_interval, kTick);
  }
  void on_user_operation(Context&, const Operation&) override {}

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kOp || tag == kForward) {
      auto op = decode_op(r);
      if (op) accept(ctx, from, *op, tag == kOp);
    } else if (tag == kHello) {
      OrSet incoming;
      if (incoming.decode(r)) absorb(ctx, incoming);
    } else if (tag == kSeen) {
      const auto ids = decode_ids(r);
      if (r.ok()) record_seen(ctx, from, ids);
    } else if (tag == kSync) {
      on_sync(ctx, r);
    } else if (tag == kDigest) {
      const std::uint64_t theirs = r.u64();
      if (!state_digest_) state_digest_ = digest(state_);
      if (r.ok() && theirs != *state_digest_) ctx.send(from, full_message(kFull, state_));
    }
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTick) return;
    ctx.set_timer(options_.resend_interval, kTick);
    if (options_.collection == Collection::after_ttl && ttl_.collect(ctx, state_, options_.ttl)) persist(ctx);
    ticks_ += 1;
    const std::int64_t every = std::max<std::int64_t>(1, options_.server_sync_interval.us / options_.resend_interval.us);
    if (ticks_ % static_cast<std::uint64_t>(every) == 0) sync_servers(ctx);
  }

  void on_connected(Context& ctx, NodeId peer) override {
    if (is_server(ctx, peer)) ctx.send(peer, sync_message(ctx));
    else ctx.send(peer, full_message(kFull, state_));
  }

  std::optional<State> state() const override { return state_.state(); }

  std::uint64_t metadata_bytes() const override {
    std::uint64_t reports = 0;
    for (const auto& [id, nodes] : seen_by_) reports += 8 + nodes.size() * 4;
    return state_.metadata_bytes() + accepted_.size() * 8 + purged_.size() * 8 + reports + ttl_.size() * 16;
  }

 private:
  static bool is_server(Context& ctx, NodeId node) {
    for (NodeId s : ctx.servers()) {
      if (s == node) return true;
    }
    return false;
  }

  void accept(Context& ctx, NodeId from, Op op, bool from_client) {
    if (accepted_.insert(op.id).second && !purged_.contains(op.id)) {
      std::erase_if(op.observed, [&](OpId t) { return purged_.contains(t); });
      state_.apply(op);
      settle(ctx);
      persist(ctx);  // flushed before anyone hears of it: an acknowledged write survives a crash
      broadcast(ctx, op_message(kApply, op));
      if (from_client) {
        for (NodeId s : ctx.servers()) {
          if (s != ctx.self()) ctx.send(s, op_message(kForward, op));
        }
      }
      collect(ctx);
    }
    if (from_client) ctx.send(from, Writer().u8(kAck).u64(op.id.value).take());
  }

  /// Merges a state from a client or another server, ignoring anything already discarded.
  void absorb(Context& ctx, OrSet incoming) {
    erase_where(incoming.tags, [&](const auto& e) { return purged_.contains(e.first); });
    erase_where(incoming.removed, [&](const auto& e) { return purged_.contains(e.first); });
    OrSet before = state_;
    state_.merge(incoming);
    settle(ctx);
    if (state_ == before) return;
    persist(ctx);
    broadcast(ctx, full_message(kFull, state_));
    collect(ctx);
  }

  /// After a change: the collection rule, and this server's own tombstone report.
  void settle(Context& ctx) {
    collect_now(ctx, options_, state_, ttl_);
    if (options_.collection != Collection::when_all_seen) return;
    for (const auto& [id, removal] : state_.removed) seen_by_[id].insert(ctx.self());
  }

  void record_seen(Context& ctx, NodeId node, const std::vector<OpId>& ids) {
    if (options_.collection != Collection::when_all_seen) return;
    bool any = false;
    for (OpId id : ids) {
      if (state_.removed.contains(id)) any |= seen_by_[id].insert(node).second;
    }
    if (any) collect(ctx);
  }

  /// Discards the tombstones every client and every server has reported.
  void collect(Context& ctx) {
    if (options_.collection != Collection::when_all_seen) return;
    std::vector<OpId> done;
    for (const auto& [id, nodes] : seen_by_) {
      if (seen_by_everyone(ctx, nodes) && state_.removed.contains(id)) done.push_back(id);
    }
    if (done.empty()) return;
    for (OpId id : done) {
      state_.discard(id);
      seen_by_.erase(id);
      purged_.insert(id);
    }
    persist(ctx);
    broadcast(ctx, ids_message(kPurge, done));
  }

  static bool seen_by_everyone(Context& ctx, const boost::container::flat_set<NodeId>& nodes) {
    // Reports come only from clients and servers, so fewer reporters than nodes settles it without
    // a walk over every node (collect runs after every accepted op).
    if (nodes.size() < ctx.clients().size() + ctx.servers().size()) return false;
    for (NodeId n : ctx.clients()) {
      if (!nodes.contains(n)) return false;
    }
    for (NodeId n : ctx.servers()) {
      if (!nodes.contains(n)) return false;
    }
    return true;
  }

  void broadcast(Context& ctx, const std::string& message) {
    for (NodeId c : ctx.clients()) {
      if (ctx.connected(c)) ctx.send(c, message);
    }
  }

  std::string sync_message(Context&) const {
    Writer w;
    w.u8(kSync);
    encode_server(w);
    return w.take();
  }

  void sync_servers(Context& ctx) {
    if (ctx.servers().size() < 2) return;
    const std::string message = sync_message(ctx);
    for (NodeId s : ctx.servers()) {
      if (s != ctx.self()) ctx.send(s, message);
    }
  }

  void on_sync(Context& ctx, Reader& r) {
    Server other(options_);
    if (!other.decode_server(r)) return;
    for (OpId id : other.purged_) {
      if (purged_.insert(id).second) {
        state_.discard(id);
        state_digest_.reset();  // absorb may find nothing new and not persist
      }
      seen_by_.erase(id);
    }
    for (const auto& [id, nodes] : other.seen_by_) {
      if (!purged_.contains(id)) seen_by_[id].insert(nodes.begin(), nodes.end());
    }
    accepted_.insert(other.accepted_.begin(), other.accepted_.end());
    absorb(ctx, other.state_);
    collect(ctx);
  }

  void encode_server(Writer& w) const {
    state_.encode(w);
    w.u32(static_cast<std::uint32_t>(accepted_.size()));
    for (OpId id : accepted_) w.u64(id.value);
    w.u32(static_cast<std::uint32_t>(purged_.size()));
    for (OpId id : purged_) w.u64(id.value);
    w.u32(static_cast<std::uint32_t>(seen_by_.size()));
    for (const auto& [id, nodes] : seen_by_) {
      w.u64(id.value).u32(static_cast<std::uint32_t>(nodes.size()));
      for (NodeId n : nodes) w.u32(n.value);
    }
  }

  bool decode_server(Reader& r) {
    if (!state_.decode(r)) return false;
    for (OpId id : decode_ids(r)) accepted_.insert(id);
    for (OpId id : decode_ids(r)) purged_.insert(id);
    const std::uint32_t n = r.u32();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      const OpId id{r.u64()};
      const std::uint32_t m = r.u32();
      for (std::uint32_t j = 0; j < m && r.ok(); ++j) seen_by_[id].insert(NodeId{r.u32()});
    }
    return r.ok();
  }

  // Every change of state_ is stored at once, so this is also where its cached digest goes stale.
  void persist(Context& ctx) {
    state_digest_.reset();
    Writer w;
    encode_server(w);
    ctx.store().put("orset/server", w.take());
    ctx.store().flush();
  }

  void restore(Context& ctx) {
    auto saved = ctx.store().get("orset/server");
    if (!saved) return;
    Reader r(*saved);
    Server loaded(options_);
    if (!loaded.decode_server(r)) return;
    state_ = std::move(loaded.state_);
    accepted_ = std::move(loaded.accepted_);
    purged_ = std::move(loaded.purged_);
    seen_by_ = std::move(loaded.seen_by_);
  }

  Options options_;
  OrSet state_;
  // Flat (sorted vector) sets and maps, as in OrSet: walked whole on every store write.
  boost::container::flat_set<OpId> accepted_;  ///< op ids already applied: resends apply once
  boost::container::flat_set<OpId> purged_;    ///< discarded tags: never to come back
  boost::container::flat_map<OpId, boost::container::flat_set<NodeId>> seen_by_;  ///< tombstone -> nodes that reported holding it
  TtlClock ttl_;
  std::uint64_t ticks_ = 0;
  std::optional<std::uint64_t> state_digest_;  ///< digest(state_), while state_ is unchanged
};

}  // namespace

std::unique_ptr<Node> make_client(const Options& options) { return std::make_unique<Client>(options); }
std::unique_ptr<Node> make_server(const Options& options) { return std::make_unique<Server>(options); }

}  // namespace syncstorm::orset

namespace syncstorm {

ModelInfo or_set_list_model() {
  const orset::Options options{};
  return ModelInfo{
      .name = "or-set-list",
      .description = "observed-remove set through relay servers; tombstones dropped once every replica has them",
      .data_type = DataType::list,
      .topology = Topology::client_server,
      .rule = SupersedeRule::add_wins,
      .correct = true,
      .breaks = std::nullopt,
      .make_client = [options](NodeId) { return orset::make_client(options); },
      .make_server = [options](NodeId) { return orset::make_server(options); },
  };
}

}  // namespace syncstorm
