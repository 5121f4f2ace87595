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
// Clients show the server's state with their own unacknowledged operations applied on top; one whose
// tag the server's state has already removed is applied as a remove only, so that collecting the
// tombstone cannot bring its value back while its acknowledgement is still due. On every
// (re)connect a client resends its outbox and sends its state (hello); its server sends it nothing
// until it has merged that hello, so a client that lands on a server behind the one it left (a load
// balancer) never takes an older state over what it showed. Servers de-duplicate by op id,
// store and flush before acknowledging, broadcast each accepted op, and forward it to other servers.
// With three servers or more, forwards from two servers can arrive in any order: a server applies an
// op only once it holds what the op's writer had seen, of its item (the tags it replaced, tombstones
// for those it saw dead) and of every other (each server numbers the ops it accepts from its own
// clients, every state carries how far into each server's log it holds, and an op carries that of
// its writer's base), and an op that comes ahead of that waits: no value comes back on screens that
// a later op had replaced, and no user's write shows ahead of one its writer had seen.
// Both keep their durable state as a journal (models/journal.hpp): a snapshot and one small record
// per change, replayed on restart. Clients compare an order-free digest with their server's every
// second (anti-entropy); a mismatch gets the whole state back.
//
// The same code runs over datagram links, where messages are lost, duplicated and reordered and
// there are no connection events. Each server numbers the versions of its state it sends (applied
// ops, purges, merged states), and a client takes them in that order only: an early one waits (its
// causal past withheld from the checkers until then), a late one is ignored, and a gap that does
// not fill within a tick asks the server for its whole state. So a purge is never overtaken by the
// tag it discards, a stale full state never replaces a newer one, and an acknowledgement that
// outruns the op's own broadcast does not take the op out of the view before the base holds it.
// And an op names its writer's previous unacknowledged op, which a server applies first: one
// user's ops overtaking each other on the way are still applied, and shown, in their order.
#include <algorithm>
#include <cassert>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/container/flat_set.hpp>


#include "models/kit/digest_term.hpp"
#include "models/kit/journal.hpp"
#include "models/crdt/or_set.hpp"
#include "sim/base/rng.hpp"

namespace syncstorm::orset {

// ---- the pure state --------------------------------------------------------------------------

std::uint64_t OrSet::term(OpId id, const Tag& tag) {
  return digest_term(1, id.value, tag.key.value, tag.lamport, tag.origin.value);
}

std::uint64_t OrSet::term(OpId id, const Removal& removal) {
  return digest_term(2, id.value, removal.by.value, removal.origin.value, 0);
}

bool OrSet::add(OpId id, const Tag& tag) {
  if (!tags_.try_emplace(id, tag).second) return false;
  digest_ += term(id, tag);
  return true;
}

bool OrSet::remove(OpId tag, const Removal& removal) {
  auto [it, inserted] = removed_.try_emplace(tag, removal);
  if (inserted) {
    digest_ += term(tag, removal);
    return true;
  }
  // Two removes of one tag: keep the lower remover so that merge order never matters.
  if (!(removal.by < it->second.by)) return false;
  digest_ -= term(tag, it->second);
  it->second = removal;
  digest_ += term(tag, removal);
  return true;
}

void OrSet::discard(OpId tag) {
  if (auto it = tags_.find(tag); it != tags_.end()) {
    digest_ -= term(tag, it->second);
    tags_.erase(it);
  }
  if (auto it = removed_.find(tag); it != removed_.end()) {
    digest_ -= term(tag, it->second);
    removed_.erase(it);
  }
}

void OrSet::apply(const Op& op) {
  const Removal removal{op.id, op.origin};
  for (OpId tag : op.observed) remove(tag, removal);
  if (op.kind != OpKind::list_remove) add(op.id, Tag{op.key, op.lamport, op.origin});
}

void OrSet::merge(const OrSet& other) {
  for (const auto& [id, tag] : other.tags_) add(id, tag);
  for (const auto& [id, removal] : other.removed_) remove(id, removal);
}

std::vector<OpId> OrSet::live_tags(KeyId key) const {
  std::vector<OpId> out;
  for (const auto& [id, tag] : tags_) {
    if (tag.key == key && !removed_.contains(id)) out.push_back(id);
  }
  return out;
}

std::uint64_t OrSet::max_lamport() const {
  std::uint64_t m = 0;
  for (const auto& [id, tag] : tags_) m = std::max(m, tag.lamport);
  return m;
}

State OrSet::state() const {
  // The live tags as (key, lamport, id), sorted: each key's last entry is its greatest. Both maps
  // are in id order, so one walk over the tombstones finds which tags are dead.
  std::vector<std::tuple<KeyId, std::uint64_t, OpId>> live;
  live.reserve(tags_.size());
  auto tombstone = removed_.begin();
  for (const auto& [id, tag] : tags_) {
    while (tombstone != removed_.end() && tombstone->first < id) ++tombstone;
    if (tombstone != removed_.end() && tombstone->first == id) continue;
    live.emplace_back(tag.key, tag.lamport, id);
  }
  std::sort(live.begin(), live.end());
  State s;
  s.type = DataType::list;
  for (std::size_t i = 0; i < live.size(); ++i) {
    const auto& [key, lamport, id] = live[i];
    if (i + 1 == live.size() || std::get<0>(live[i + 1]) != key) s.items.push_back(Item{key, id});
  }
  return s;
}

std::uint64_t OrSet::metadata_bytes() const {
  // A dead tag still held and its tombstone are pure metadata; a live tag's lamport and origin are
  // the causal metadata of the value.
  std::uint64_t dead = 0;
  for (const auto& [id, tag] : tags_) dead += removed_.contains(id) ? 1 : 0;
  return dead * 24 + removed_.size() * 20 + (tags_.size() - dead) * 12;
}

void OrSet::encode(Writer& w) const {
  // Fixed-size records written into one extension each: replicas encode their whole state often.
  constexpr std::size_t kTagBytes = 8 + 4 + 8 + 4;
  constexpr std::size_t kRemovalBytes = 8 + 8 + 4;
  w.u32(static_cast<std::uint32_t>(tags_.size()));
  char* at = w.extend(tags_.size() * kTagBytes);
  for (const auto& [id, tag] : tags_) {
    at = Writer::put_u64(at, id.value);
    at = Writer::put_u32(at, tag.key.value);
    at = Writer::put_u64(at, tag.lamport);
    at = Writer::put_u32(at, tag.origin.value);
  }
  w.u32(static_cast<std::uint32_t>(removed_.size()));
  at = w.extend(removed_.size() * kRemovalBytes);
  for (const auto& [id, removal] : removed_) {
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

std::uint64_t Frontier::count(NodeId server, std::uint64_t incarnation) const {
  for (const LogPosition& p : entries_) {
    if (p.server == server && p.incarnation == incarnation) return p.count;
  }
  return 0;
}

bool Frontier::covers(const Frontier& other) const {
  for (const LogPosition& p : other.entries_) {
    if (count(p.server, p.incarnation) < p.count) return false;
  }
  return true;
}

bool Frontier::advance(const LogPosition& p) {
  if (p.count == 0) return false;
  const auto at = std::lower_bound(entries_.begin(), entries_.end(), p, [](const LogPosition& a, const LogPosition& b) {
    return std::tie(a.server, a.incarnation) < std::tie(b.server, b.incarnation);
  });
  if (at != entries_.end() && at->server == p.server && at->incarnation == p.incarnation) {
    if (at->count >= p.count) return false;
    at->count = p.count;
    return true;
  }
  entries_.insert(at, p);
  return true;
}

bool Frontier::merge(const Frontier& other) {
  bool grew = false;
  for (const LogPosition& p : other.entries_) grew |= advance(p);
  return grew;
}

void Frontier::encode(Writer& w) const {
  w.u32(static_cast<std::uint32_t>(entries_.size()));
  for (const LogPosition& p : entries_) w.u32(p.server.value).u64(p.incarnation).u64(p.count);
}

bool Frontier::decode(Reader& r) {
  const std::uint32_t n = r.u32();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    LogPosition p;
    p.server = NodeId{r.u32()};
    p.incarnation = r.u64();
    p.count = r.u64();
    if (r.ok()) advance(p);
  }
  return r.ok();
}

void encode_position(Writer& w, const LogPosition& p) { w.u32(p.server.value).u64(p.incarnation).u64(p.count); }

LogPosition decode_position(Reader& r) {
  LogPosition p;
  p.server = NodeId{r.u32()};
  p.incarnation = r.u64();
  p.count = r.u64();
  return p;
}

void encode_op(Writer& w, const Op& op) {
  w.u64(op.id.value).u32(op.origin.value).u8(static_cast<std::uint8_t>(op.kind)).u32(op.key.value).u64(op.lamport);
  w.u32(static_cast<std::uint32_t>(op.observed.size()));
  for (OpId tag : op.observed) w.u64(tag.value);
  w.u32(static_cast<std::uint32_t>(op.present.size()));
  for (OpId tag : op.present) w.u64(tag.value);
  w.u32(static_cast<std::uint32_t>(op.dead.size()));
  for (OpId tag : op.dead) w.u64(tag.value);
  op.deps.encode(w);
  w.u64(op.after.value);
  encode_position(w, op.position);
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
  const std::uint32_t p = r.u32();
  for (std::uint32_t i = 0; i < p && r.ok(); ++i) op.present.push_back(OpId{r.u64()});
  const std::uint32_t d = r.u32();
  for (std::uint32_t i = 0; i < d && r.ok(); ++i) op.dead.push_back(OpId{r.u64()});
  op.deps.decode(r);
  op.after = OpId{r.u64()};
  op.position = decode_position(r);
  const bool list_kind = kind == static_cast<std::uint8_t>(OpKind::list_add) ||
                         kind == static_cast<std::uint8_t>(OpKind::list_update) ||
                         kind == static_cast<std::uint8_t>(OpKind::list_remove);
  if (!r.ok() || !list_kind || !op.id.valid()) return std::nullopt;
  op.kind = static_cast<OpKind>(kind);
  return op;
}

// ---- the relay protocol ----------------------------------------------------------------------

namespace {

/// The value of item `key` this replica shows now (0 when absent): what a remove takes away.
OpId shown_value(const Node& node, KeyId key) {
  if (auto s = node.state()) {
    for (const Item& item : s->items) {
      if (item.id == key) return item.value;
    }
  }
  return OpId{};
}

// Every message from a server to a client starts with the server's incarnation and a version of its
// state (see Source): the version it makes for kApply, kFull and kPurge, the one that holds the op
// for kAck.
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
  kDigest = 10,  ///< client -> server: a hash of the client's base and whether a gap in the server's
                 ///< versions has stalled it; either gets a full state back
  kSyncRequest = 11,  ///< server -> server, from one that (re)started: send kSync now
};

/// Where a client's base comes from: a server, in one incarnation. A server draws its incarnation
/// when its store holds none (its first start, or a crash that lost the store) and numbers the
/// versions of its state from there, so versions compare only within one source.
struct Source {
  NodeId server;
  std::uint64_t incarnation = 0;
  friend bool operator==(const Source&, const Source&) = default;
};

/// The start of a message from a server to a client.
Writer versioned(MsgTag tag, std::uint64_t incarnation, std::uint64_t version) {
  Writer w;
  w.u8(tag).u64(incarnation).u64(version);
  return w;
}

Writer plain(MsgTag tag) {
  Writer w;
  w.u8(tag);
  return w;
}


enum TimerTag : std::uint64_t { kTick = 1 };

/// Clients repeat their whole tombstone report this often (in resend intervals), in case a datagram
/// carrying part of it was lost.
constexpr std::uint64_t kFullReportEveryTicks = 5;

/// A whole state and the part of the servers' logs it holds (a server's kFull, a client's kHello).
std::string full_message(Writer w, const OrSet& set, const Frontier& frontier) {
  set.encode(w);
  frontier.encode(w);
  return w.take();
}

std::string op_message(Writer w, const Op& op) {
  encode_op(w, op);
  return w.take();
}

std::string ids_message(Writer w, const std::vector<OpId>& ids) {
  w.u32(static_cast<std::uint32_t>(ids.size()));
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
    for (const auto& [id, removal] : set.removed()) since_.emplace(id, ctx.local_clock());
    std::erase_if(since_, [&](const auto& entry) { return !set.removed().contains(entry.first); });
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
    while (!set.removed().empty()) set.discard(set.removed().begin()->first);
  } else if (options.collection == Collection::after_ttl) {
    ttl.note(ctx, set);
    ttl.collect(ctx, set, options.ttl);
  }
}

/// What one journal record (see models/journal.hpp) says changed: a sequence of these entries,
/// replayed in order on restore.
enum JournalEntry : std::uint8_t {
  kEntryApplied = 1,       ///< client: base_.apply(op)              server: accepted, state_.apply(op)
  kEntryDiscarded = 2,     ///< client: base_.discard(id)            server: discarded and purged
  kEntryQueued = 3,        ///< client: the op joined the outbox
  kEntryAcknowledged = 4,  ///< client: the op left the outbox
  kEntryAccepted = 5,      ///< server: an op id accepted without being applied (already purged)
  kEntrySeen = 6,          ///< server: a node reported holding a tombstone
  kEntryClock = 7,         ///< client: the Lamport clock (the last entry of each record)
  kEntrySource = 8,        ///< client: the base's source and version   server: its incarnation and version
  kEntryLog = 9,           ///< server: a server's log is held through this position
};

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
    // The clock is at least every Lamport time the view holds: changed() takes in every tag's time
    // as it arrives, and the outbox's ops were stamped from this clock.
    assert(lamport_ >= view().max_lamport());
    op.lamport = ++lamport_;
    op.observed = view().live_tags(user.key);
    // What this client's unacknowledged writes of the item killed, it had observed too: carried
    // again, so that the op kills it by itself. Over datagrams an older write may be lost while
    // this one arrives, and the value it replaced would show again until the resend.
    for (const auto& [id, waiting] : outbox_) {
      if (waiting.key == user.key) op.observed.insert(op.observed.end(), waiting.observed.begin(), waiting.observed.end());
    }
    std::sort(op.observed.begin(), op.observed.end());
    op.observed.erase(std::unique(op.observed.begin(), op.observed.end()), op.observed.end());
    // What a server waits for before applying it (Server::causally_ready); only where servers
    // keep every tombstone until all replicas hold it, since a tombstone dropped early (the
    // baselines) could never be waited for. Both lists come out sorted (tags are in id order).
    if (options_.collection == Collection::when_all_seen) {
      op.deps = frontier_;
      if (auto previous = outbox_.lower_bound(op.id); previous != outbox_.begin()) op.after = std::prev(previous)->first;
      for (OpId t : op.observed) {
        if (base_.tags().contains(t)) op.present.push_back(t);
      }
      for (const auto& [id, tag] : view().tags()) {
        if (tag.key == user.key && view().removed().contains(id) &&
            !std::binary_search(op.observed.begin(), op.observed.end(), id)) {
          op.dead.push_back(id);
        }
      }
    }
    const OpId removed = user.kind == OpKind::list_remove ? shown_value(*this, user.key) : OpId{};
    outbox_[op.id] = op;
    encode_op(pending_.u8(kEntryQueued), op);
    refresh();
    persist(ctx);
    ctx.report(op.id, Lifecycle::applied, removed);
    if (auto server = ctx.connected_server()) send_op(ctx, *server, op);
  }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    const Source source{from, r.u64()};
    const std::uint64_t version = r.u64();
    if (!r.ok()) return;
    if (tag == kAck) {
      const OpId id{r.u64()};
      if (r.ok()) acknowledged(ctx, source, version, id);
    } else if (tag == kFull) {
      OrSet server;
      Frontier frontier;
      if (server.decode(r) && frontier.decode(r)) take_full(ctx, source, version, std::move(server), frontier);
    } else if (tag == kApply || tag == kPurge) {
      if (source_ == source && version <= version_) return;  // late or repeated: the base holds it
      if (source_ == source && version == version_ + 1) {
        take_change(ctx, payload);
        drain(ctx);
        return;
      }
      // Early, or from a source the base is not from: it waits for the versions before it (or a
      // full state), and so does its past.
      const std::uint64_t hold = ++holds_;
      ctx.hold_message(hold);
      held_.push_back(Held{source, version, hold, ticks_});
      if (source_ == source && early_.size() < kEarlyMax) early_.try_emplace(version, payload);
    }
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTick) return;
    ctx.set_timer(options_.resend_interval, kTick);
    if (options_.collection == Collection::after_ttl && ttl_.collect(ctx, base_, options_.ttl)) {
      snapshot_due_ = true;
      base_replaced();
      refresh();
      persist(ctx);
    }
    // Datagram links lose and reorder messages: resend what is unacknowledged and the tombstone
    // report, and compare digests with the server (anti-entropy) so a lost or stale update heals.
    // A version held since before the last tick is a gap that did not fill: a lost message.
    if (auto server = ctx.connected_server()) {
      const bool stalled = std::any_of(held_.begin(), held_.end(), [&](const Held& h) { return h.tick != ticks_; });
      for (const auto& [id, op] : outbox_) {
        if (!acked_.contains(id)) send_op(ctx, *server, op);
      }
      if (++ticks_ % kFullReportEveryTicks == 0) forget_told();
      report_tombstones(ctx, *server);
      ctx.send_control(*server, Writer().u8(kDigest).u64(base_.digest()).u8(stalled ? 1 : 0).take());
    }
  }

  void on_connected(Context& ctx, NodeId peer) override {
    // The outbox first, then the hello: a message carries its sender's whole past (send_op declares
    // less for each op), so a hello sent ahead of the ops would claim them while a slow stream still
    // carries them, and the server's next pushes would seem to follow writes it did not have.
    for (const auto& [id, op] : outbox_) {
      if (!acked_.contains(id)) send_op(ctx, peer, op);
    }
    ctx.send(peer, full_message(plain(kHello), base_, frontier_));
    forget_told();  // a new connection, maybe a new server: report every tombstone again
    report_tombstones(ctx, peer);
  }

  std::optional<State> state() const override {
    if (!shown_) shown_ = view().state();  // computed when read: a burst of messages costs one
    return shown_;
  }

  std::uint64_t metadata_bytes() const override {
    std::uint64_t outbox = 0;
    for (const auto& [id, op] : outbox_) outbox += 32 + op.observed.size() * 8 + op.deps.entries().size() * 20;
    return base_.metadata_bytes() + frontier_.entries().size() * 20 + outbox + ttl_.size() * 16;
  }

 private:
  /// What apply_to_base changed in base_, so that the reports after it can look at that alone.
  struct Applied {
    OpId op;
    NodeId origin;
    bool new_tag = false;          ///< the op's tag was not held before
    std::vector<OpId> removals;    ///< tombstones the op created or lowered
  };

  /// The base changed through the server, bringing tags as late as `lamport` (the clock already
  /// holds every earlier tag's time, so this is what base_.max_lamport() would add), by one
  /// apply_to_base when `applied` is given: collect, report newly visible remote writes, store.
  void changed(Context& ctx, std::uint64_t lamport, const Applied* applied) {
    // A Lamport clock remembers every time it has seen, even of tags discarded since: a later write
    // must order after them should one of them come back (as the buggy baselines let happen).
    lamport_ = std::max(lamport_, lamport);
    settle_removed_own();
    collect_now(ctx, options_, base_, ttl_);
    if (options_.collection != Collection::when_all_seen) {
      snapshot_due_ = true;  // what it discarded is not journaled
      base_replaced();
    }
    refresh();
    if (applied && seen_exact_ && view_is_base_) report_seen_applied(ctx, *applied);
    else report_seen(ctx);
    seen_exact_ = view_is_base_;
    persist(ctx);
    if (auto server = ctx.connected_server()) report_tombstones(ctx, *server);
  }

  /// Sends one of this client's ops, declaring that it lacks the others still unacknowledged: a
  /// resent op travels ahead of newer ones, and over datagrams an older one may be lost while this
  /// one arrives. Counted whole, its past would order the server's next pushes after writes still
  /// on their way, and a remove made on them would seem to cover those writes.
  void send_op(Context& ctx, NodeId to, const Op& op) {
    std::vector<OpId> missing;
    missing.reserve(outbox_.size());
    for (const auto& [id, waiting] : outbox_) {
      if (id != op.id && !acked_.contains(id)) missing.push_back(id);
    }
    ctx.send_without_own_writes(to, op_message(plain(kOp), op), missing);
  }

  /// The server stored op `id` in `version` of its state. The op stays in the outbox (applied on
  /// top of the base, no longer resent) until the base is that version: over datagrams the
  /// acknowledgement may come before the versions that bring the op.
  void acknowledged(Context& ctx, const Source& source, std::uint64_t version, OpId id) {
    if (!outbox_.contains(id)) return;
    ctx.report(id, Lifecycle::acknowledged);
    acked_.insert_or_assign(id, Acknowledged{source, version});
    settle_acknowledged(ctx);
  }

  /// Lets go of the acknowledged ops the base now holds.
  void settle_acknowledged(Context& ctx) {
    bool any = false;
    for (auto it = acked_.begin(); it != acked_.end();) {
      if (source_ != it->second.source || it->second.version > version_) {
        ++it;
        continue;
      }
      outbox_.erase(it->first);
      pending_.u8(kEntryAcknowledged).u64(it->first.value);
      it = acked_.erase(it);
      any = true;
    }
    if (!any) return;
    refresh();
    persist(ctx);
  }

  /// A full state of `version` from `source`. From the source of the base it replaces it unless it
  /// is older; from another server it replaces it (a reconnect elsewhere); from a new incarnation
  /// of the same server (one that lost its store) it is merged with the base, which goes back to
  /// the server in a hello, so that what the clients hold is not lost with the store.
  void take_full(Context& ctx, const Source& source, std::uint64_t version, OrSet server, Frontier frontier) {
    if (source_ == source) {
      if (version < version_) return;  // stale: a reply that crossed newer versions
    } else if (source_ && source_->server == source.server) {
      if (source.incarnation == retired_incarnation_) return;  // from an incarnation left behind
      retired_incarnation_ = source_->incarnation;
      server.merge(base_);
      frontier.merge(frontier_);
      ctx.send(source.server, full_message(plain(kHello), base_, frontier_));
    }
    if (source_ != source) {
      // Versions of another source say nothing about this one: what waited for them, and the
      // acknowledgements naming them, start over (the ops are resent).
      early_.clear();
      std::erase_if(acked_, [&](const auto& entry) { return entry.second.source != source; });
    }
    source_ = source;
    version_ = version;
    source_dirty_ = true;
    early_.erase(early_.begin(), early_.upper_bound(version));
    base_ = std::move(server);
    frontier_ = std::move(frontier);
    snapshot_due_ = true;
    base_replaced();
    changed(ctx, base_.max_lamport(), nullptr);
    drain(ctx);
  }

  /// Takes in the next version of the base: an op applied or tombstones purged (`payload` is the
  /// whole message, header included).
  void take_change(Context& ctx, std::string_view payload) {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    r.u64();
    const std::uint64_t version = r.u64();
    if (tag == kApply) {
      auto op = decode_op(r);
      if (!op) return;
      version_ = version;
      source_dirty_ = true;
      frontier_.extend(op->position);  // as the server's did
      const Applied applied = apply_to_base(*op);
      encode_op(pending_.u8(kEntryApplied), *op);
      // The clock takes in the times of the tags the base holds, and a remove brings no tag.
      changed(ctx, op->kind == OpKind::list_remove ? 0 : op->lamport, &applied);
    } else if (tag == kPurge) {
      const auto ids = decode_ids(r);
      if (!r.ok()) return;
      version_ = version;
      source_dirty_ = true;
      for (OpId id : ids) {
        base_.discard(id);
        pending_.u8(kEntryDiscarded).u64(id.value);
      }
      base_replaced();
      refresh();
      persist(ctx);
    }
  }

  /// Takes in the versions that waited for the base to reach them, releases the pasts of those
  /// the base now holds (or that came from a source it is no longer from), and lets go of the
  /// acknowledged ops it holds.
  void drain(Context& ctx) {
    while (!early_.empty() && early_.begin()->first <= version_ + 1) {
      auto next = early_.extract(early_.begin());
      if (next.key() == version_ + 1) take_change(ctx, next.mapped());
    }
    std::erase_if(held_, [&](const Held& h) {
      if (source_ == h.source && h.version > version_) return false;
      ctx.release_held(h.tag);
      return true;
    });
    settle_acknowledged(ctx);
  }

  /// An op of ours whose tag the server's state has removed (a later write or remove observed it) is
  /// superseded: what is left of it is its own removals. It stays in the outbox until acknowledged
  /// (it may never have reached a server: a datagram lost, while the op that removed its tag got
  /// through), but as a remove, journaled so: kept whole, the view would add its tag back once the
  /// servers collect the tombstone, and show the value again that a later write or remove replaced.
  void settle_removed_own() {
    for (auto& [id, op] : outbox_) {
      if (op.kind == OpKind::list_remove || !base_.removed().contains(id)) continue;
      op.kind = OpKind::list_remove;
      encode_op(pending_.u8(kEntryQueued), op);
    }
  }

  /// Applies an op the server relayed, as OrSet::apply does, and says what it changed; the
  /// tombstones it created also join fresh_tombstones_ for the next tombstone report.
  Applied apply_to_base(const Op& op) {
    Applied applied{op.id, op.origin, false, {}};
    const Removal removal{op.id, op.origin};
    for (OpId t : op.observed) {
      const bool created = !base_.removed().contains(t);
      if (!base_.remove(t, removal)) continue;
      applied.removals.push_back(t);
      if (created) fresh_tombstones_.push_back(t);
    }
    applied.new_tag = op.kind != OpKind::list_remove && base_.add(op.id, Tag{op.key, op.lamport, op.origin});
    if (fresh_tombstones_.size() > kFreshTombstonesMax) base_replaced();
    return applied;
  }

  /// base_ changed in a way apply_to_base did not note (a full state, a discard): the next reports
  /// walk everything.
  void base_replaced() {
    seen_exact_ = false;
    told_exact_ = false;
    fresh_tombstones_.clear();
  }

  /// report_seen when the only change since its last call, made while the view was base_ as it is
  /// now, is `applied`: only that op's tag and tombstones can be unreported, and their reporter is
  /// that op. The reports and their order are report_seen's.
  void report_seen_applied(Context& ctx, const Applied& applied) {
    const bool remote = applied.origin != ctx.self();
    if (remote && (applied.new_tag || !applied.removals.empty()) && reported_.insert(applied.op).second) {
      ctx.report(applied.op, Lifecycle::seen);
    }
    for (OpId t : applied.removals) removals_checked_.insert_or_assign(t, base_.removed().find(t)->second);
  }

  void report_seen(Context& ctx) {
    // Tags and reported ids are both sorted by id: one merged walk finds the unreported tags.
    const NodeId self = ctx.self();
    std::vector<OpId> fresh;
    auto reported = reported_.begin();
    for (const auto& [id, tag] : view().tags()) {
      while (reported != reported_.end() && *reported < id) ++reported;
      if (tag.origin != self && (reported == reported_.end() || *reported != id)) fresh.push_back(id);
    }
    for (OpId id : fresh) {
      reported_.insert(id);
      ctx.report(id, Lifecycle::seen);
    }
    // A tombstone exactly as the last call saw it was handled then (reported_ only grows), so only
    // new or changed ones are looked up: one merged walk against the last call's copy finds them.
    const auto& removed = view().removed();
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
    if (told_exact_) {
      // Since the last report base_ only gained the fresh tombstones, none of them told: they are
      // the difference, and told_ becomes base_'s tombstones by taking them in.
      std::sort(fresh_tombstones_.begin(), fresh_tombstones_.end());
      fresh_tombstones_.erase(std::unique(fresh_tombstones_.begin(), fresh_tombstones_.end()), fresh_tombstones_.end());
      if (fresh_tombstones_.empty()) return;
      const auto middle = told_.insert(told_.end(), fresh_tombstones_.begin(), fresh_tombstones_.end());
      std::inplace_merge(told_.begin(), middle, told_.end());
      ctx.send_control(server, ids_message(plain(kSeen), fresh_tombstones_));
      fresh_tombstones_.clear();
      return;
    }
    // What was told and is still held stays told; what is held and was not told is told now. So
    // after each report the told ids are exactly base_'s tombstones: keep them as a sorted list and
    // send the difference, both found in one merged walk.
    std::vector<OpId> ids;
    std::vector<OpId> held;
    held.reserve(base_.removed().size());
    auto told = told_.begin();
    for (const auto& [id, removal] : base_.removed()) {
      while (told != told_.end() && *told < id) ++told;
      if (told == told_.end() || *told != id) ids.push_back(id);
      held.push_back(id);
    }
    told_ = std::move(held);
    told_exact_ = true;
    fresh_tombstones_.clear();
    if (ids.empty()) return;
    ctx.send_control(server, ids_message(plain(kSeen), ids));
  }

  /// Forgets what was told (a new connection, or the periodic full report): the next report tells
  /// every tombstone held.
  void forget_told() {
    told_.clear();
    told_exact_ = false;
    fresh_tombstones_.clear();
  }

  /// What the user sees as of the last refresh: base_ with the outbox applied. With an empty
  /// outbox that is base_ itself, and no copy is made (base_ changes only just before a refresh).
  const OrSet& view() const { return view_is_base_ ? base_ : view_; }

  void refresh() {
    view_is_base_ = outbox_.empty();
    if (!view_is_base_) {
      seen_exact_ = false;
      view_ = base_;
      for (const auto& [id, op] : outbox_) view_.apply(op);
    }
    shown_.reset();
  }

  /// Makes the changes since the last call durable: as one journal record of the entries noted in
  /// pending_, or as a snapshot of the whole state when a change was too large to note (a full
  /// state from the server, a collection) or the records have outgrown the last snapshot.
  void persist(Context& ctx) {
    if (snapshot_due_ || journal_.wants_snapshot()) {
      Writer w;
      w.u64(lamport_);
      encode_source(w);
      base_.encode(w);
      frontier_.encode(w);
      w.u32(static_cast<std::uint32_t>(outbox_.size()));
      for (const auto& [id, op] : outbox_) encode_op(w, op);
      journal_.snapshot(ctx.store(), w.take());
      snapshot_due_ = false;
    } else {
      if (source_dirty_) encode_source(pending_.u8(kEntrySource));
      journal_.append(ctx.store(), pending_.u8(kEntryClock).u64(lamport_).take());
    }
    source_dirty_ = false;
    pending_ = Writer();
  }

  void encode_source(Writer& w) const {
    w.u32(source_ ? source_->server.value : 0).u64(source_ ? source_->incarnation : 0).u64(version_);
  }

  /// The source and version encode_source wrote (no source when its incarnation is 0).
  static std::pair<std::optional<Source>, std::uint64_t> decode_source(Reader& r) {
    const NodeId server{r.u32()};
    const std::uint64_t incarnation = r.u64();
    const std::uint64_t version = r.u64();
    if (incarnation == 0) return {std::nullopt, 0};
    return {Source{server, incarnation}, version};
  }

  void restore(Context& ctx) {
    auto saved = journal_.load(ctx.store());
    std::uint64_t lamport = 0;
    std::pair<std::optional<Source>, std::uint64_t> source;
    OrSet base;
    Frontier frontier;
    std::map<OpId, Op> outbox;
    if (saved.snapshot) {
      Reader r(*saved.snapshot);
      lamport = r.u64();
      source = decode_source(r);
      if (!base.decode(r) || !frontier.decode(r)) return;
      const std::uint32_t n = r.u32();
      for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        if (auto op = decode_op(r)) outbox[op->id] = *op;
      }
      if (!r.ok()) return;
    }
    for (const std::string& record : saved.records) {
      Reader r(record);
      while (r.ok() && !r.at_end()) {
        const std::uint8_t entry = r.u8();
        if (entry == kEntryClock) {
          lamport = r.u64();
        } else if (entry == kEntrySource) {
          source = decode_source(r);
        } else if (entry == kEntryApplied || entry == kEntryQueued) {
          auto op = decode_op(r);
          if (!op) return;
          if (entry == kEntryApplied) {
            base.apply(*op);
            frontier.extend(op->position);
          } else {
            outbox[op->id] = *op;
          }
        } else if (entry == kEntryDiscarded) {
          base.discard(OpId{r.u64()});
        } else if (entry == kEntryAcknowledged) {
          outbox.erase(OpId{r.u64()});
        } else {
          return;  // not a record this client wrote
        }
      }
      if (!r.ok()) return;
    }
    lamport_ = lamport;
    source_ = source.first;
    version_ = source.second;
    base_ = std::move(base);
    frontier_ = std::move(frontier);
    outbox_ = std::move(outbox);
    for (const auto& [id, tag] : base_.tags()) reported_.insert(id);
    for (const auto& [id, removal] : base_.removed()) reported_.insert(removal.by);
  }

  Options options_;
  OrSet base_;                        ///< the state as the servers last told us
  Frontier frontier_;                 ///< the servers' logs base_ holds (what this client's ops depend on)
  std::map<OpId, Op> outbox_;         ///< applied here, not yet acknowledged
  OrSet view_;                        ///< base_ with the outbox applied (see view())
  bool view_is_base_ = true;
  mutable std::optional<State> shown_;  ///< view().state(), computed when first read
  std::uint64_t lamport_ = 0;
  TtlClock ttl_;
  boost::container::flat_set<OpId> reported_;  ///< remote writes already reported as seen
  boost::container::flat_map<OpId, Removal> removals_checked_;  ///< view().removed() at the last report_seen
  std::vector<OpId> told_;            ///< tombstones reported to the server on this connection, sorted
  // What the reports may skip (see changed() and report_tombstones()).
  static constexpr std::size_t kFreshTombstonesMax = 1024;  ///< beyond this, the next report walks everything
  bool seen_exact_ = false;   ///< removals_checked_ is base_'s tombstones and the view was base_ then
  bool told_exact_ = false;   ///< told_ plus fresh_tombstones_ is base_'s tombstones
  std::vector<OpId> fresh_tombstones_;  ///< tombstones apply_to_base created since the last report
  std::uint64_t ticks_ = 0;

  // The versions of the base (see Source): durable with it.
  std::optional<Source> source_;          ///< none before the first full state
  std::uint64_t version_ = 0;             ///< of source_'s state that base_ is
  bool source_dirty_ = false;             ///< changed since the last persist
  std::uint64_t retired_incarnation_ = 0; ///< of source_'s server before it lost its store
  /// A message from a server that waits, with its past, for the base to reach its version.
  struct Held {
    Source source;
    std::uint64_t version = 0;
    std::uint64_t tag = 0;   ///< for Context::hold_message
    std::uint64_t tick = 0;  ///< ticks_ when it arrived
  };
  std::vector<Held> held_;
  std::uint64_t holds_ = 0;  ///< the last hold tag drawn
  static constexpr std::size_t kEarlyMax = 256;  ///< early versions kept; beyond, a full state heals
  std::map<std::uint64_t, std::string> early_;   ///< early versions of source_, by version
  struct Acknowledged {
    Source source;
    std::uint64_t version = 0;  ///< of the server's state that holds the op
  };
  std::map<OpId, Acknowledged> acked_;  ///< acknowledged ops still in the outbox

  Journal journal_{"orset/c/"};  ///< base_, outbox_, lamport_ and the base's source, durable
  Writer pending_;                    ///< journal entries of the changes not yet persisted
  bool snapshot_due_ = false;         ///< a change since the last persist has no journal entry
};

class Server final : public Node {
 public:
  explicit Server(Options options) : options_(options) {}

  void on_start(Context& ctx) override {
    restore(ctx);
    if (incarnation_ == 0) {
      // Nothing in the store: a new incarnation, made durable before any client hears of it, so
      // that a restart that keeps the store keeps it too.
      incarnation_ = ctx.rng().next() | 1;
      snapshot_due_ = true;
      persist(ctx);
    }
    ctx.set_timer(options_.resend_interval, kTick);
    if (ctx.servers().size() < 2) return;
    // It may have missed forwards while it was down (those in flight when it crashed, too): an op
    // applied without the ones it follows could show an older value they had replaced. Until every
    // other server has sent it its state, forwards wait.
    synced_ = false;
    request_syncs(ctx);
  }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (!is_server(ctx, from)) own_clients_.insert(from);  // over datagrams, how a server learns its clients
    if (tag == kForward && !synced_) {
      auto op = decode_op(r);
      if (!op) return;
      ctx.hold_message(op->id.value);  // its past waits with it
      if (held_forwards_.size() < kHeldForwardsMax) held_forwards_.emplace_back(from, *op);
    } else if (tag == kOp || tag == kForward) {
      auto op = decode_op(r);
      if (op) accept(ctx, from, *op, tag == kOp);
    } else if (tag == kSyncRequest) {
      if (is_server(ctx, from)) ctx.send(from, sync_message(ctx));
    } else if (tag == kHello) {
      OrSet incoming;
      Frontier frontier;
      if (!incoming.decode(r) || !frontier.decode(r)) return;
      // The client is owed its first full state: the broadcast of a change includes it now, and
      // with no change it gets the state alone.
      const bool owed = awaiting_hello_.erase(from) > 0;
      if (!absorb(ctx, incoming, frontier) && owed) ctx.send(from, full_message(header(kFull), state_, frontier_));
    } else if (tag == kSeen) {
      const auto ids = decode_ids(r);
      if (r.ok()) record_seen(ctx, from, ids);
    } else if (tag == kSync) {
      if (!is_server(ctx, from)) return;
      on_sync(ctx, r);
      note_synced(ctx, from);
    } else if (tag == kDigest) {
      const std::uint64_t theirs = r.u64();
      const bool stalled = r.u8() != 0;
      if (r.ok() && (stalled || theirs != state_.digest())) ctx.send(from, full_message(header(kFull), state_, frontier_));
    }
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTick) return;
    ctx.set_timer(options_.resend_interval, kTick);
    if (options_.collection == Collection::after_ttl && ttl_.collect(ctx, state_, options_.ttl)) {
      snapshot_due_ = true;
      persist(ctx);
    }
    ticks_ += 1;
    if (!synced_) request_syncs(ctx);
    apply_ready(ctx);  // a purge since may have readied one
    for (auto it = behind_.begin(); it != behind_.end();) {
      it = ctx.send(*it, sync_message(ctx)) ? behind_.erase(it) : std::next(it);
    }
    const std::int64_t every = std::max<std::int64_t>(1, options_.server_sync_interval.us / options_.resend_interval.us);
    if (ticks_ % static_cast<std::uint64_t>(every) == 0) sync_servers(ctx);
  }

  void on_connected(Context& ctx, NodeId peer) override {
    if (is_server(ctx, peer)) {
      ctx.send(peer, sync_message(ctx));
      return;
    }
    // The client's state comes in its hello, right behind its unacknowledged ops. This server's
    // state goes out once that is merged: sent now, it could lack values the client already shows
    // (with a load balancer the client may come from a server this one lags behind), and taking it
    // would put the user's view back in time.
    own_clients_.insert(peer);
    awaiting_hello_.insert(peer);
  }

  void on_disconnected(Context&, NodeId peer) override { awaiting_hello_.erase(peer); }

  std::optional<State> state() const override { return state_.state(); }

  std::uint64_t metadata_bytes() const override {
    std::uint64_t reports = 0;
    for (const auto& [id, nodes] : seen_by_) reports += 8 + nodes.size() * 4;
    return state_.metadata_bytes() + frontier_.entries().size() * 20 + accepted_.size() * 8 + purged_.size() * 8 + reports +
           ttl_.size() * 16;
  }

 private:
  static bool is_server(Context& ctx, NodeId node) {
    for (NodeId s : ctx.servers()) {
      if (s == node) return true;
    }
    return false;
  }

  /// Forwards a client's op to another server. One that missed a forward (it was down or cut off:
  /// the send failed) gets this server's whole state first, so that no op reaches it ahead of the
  /// ones it follows.
  void forward(Context& ctx, NodeId server, const Op& op) {
    if (behind_.contains(server)) {
      if (!ctx.send(server, sync_message(ctx))) return;
      behind_.erase(server);
    }
    // The receiver takes in this op alone: the forward carries what its writer had seen, not all
    // this server has taken in since (which the receiver's clients would then seem to have seen).
    if (!ctx.send_carrying_op(server, op_message(plain(kForward), op), op.id)) behind_.insert(server);
  }

  void request_syncs(Context& ctx) {
    for (NodeId s : ctx.servers()) {
      // A request carries no write: sent as data, it would credit the receiver with this server's
      // whole past, which the receiver has not taken in (it may hold forwards parked for it).
      if (s != ctx.self() && !synced_from_.contains(s)) ctx.send_control(s, plain(kSyncRequest).take());
    }
  }

  /// A sync from `server` arrived: once every other server's has since the start, the forwards
  /// that waited are taken in (most of them came in the syncs already).
  void note_synced(Context& ctx, NodeId server) {
    if (synced_) return;
    synced_from_.insert(server);
    if (synced_from_.size() + 1 < ctx.servers().size()) return;
    synced_ = true;
    for (const auto& [from, op] : std::exchange(held_forwards_, {})) {
      ctx.release_held(op.id.value);
      accept(ctx, from, op, false);
    }
  }

  /// The start of a message to a client carrying the current version.
  Writer header(MsgTag tag) const { return versioned(tag, incarnation_, version_); }

  /// Whether this server holds what `op`'s writer had seen of its item: the tags it observed live
  /// and had from its server, and a tombstone for every other tag it saw dead (Op::present,
  /// Op::dead). Applied earlier, an op could make the value it replaced show again: with three
  /// servers, a forward from a near one can overtake, by another path, the forward from a far one
  /// of the update it followed; once a later op takes it away, the value that update had replaced
  /// is back in view. Every op applied here waited so, so a tag held here has its own past here too.
  bool causally_ready(const Op& op) const {
    if (options_.collection != Collection::when_all_seen) return true;
    // Every write its writer had seen, of any item, and, for a forward, its own log up to it.
    if (!frontier_.covers(op.deps)) return false;
    if (op.position.count > frontier_.count(op.position.server, op.position.incarnation) + 1) return false;
    // Its writer's previous operation, for one user's operations in their order.
    if (op.after.valid() && !accepted_.contains(op.after) && !purged_.contains(op.after)) return false;
    for (OpId t : op.present) {
      if (!state_.tags().contains(t) && !purged_.contains(t)) return false;
    }
    for (OpId t : op.dead) {
      if (!state_.removed().contains(t) && !purged_.contains(t)) return false;
    }
    return true;
  }

  /// Holds an op that is not causally ready, with its message's past, until it is. A resend of a
  /// waiting op waits with it.
  void wait_for_past(Context& ctx, NodeId from, const Op& op, bool from_client) {
    const std::uint64_t hold = kWaitingHoldBase + ++waiting_holds_;
    ctx.hold_message(hold);
    for (Waiting& w : waiting_) {
      if (w.op.id != op.id) continue;
      w.holds.push_back(hold);
      if (from_client && !w.from_client) {
        w.from = from;
        w.from_client = true;
      }
      return;
    }
    waiting_.push_back(Waiting{from, op, from_client, {hold}});
    // Bounded: the oldest is applied as it is rather than held without end.
    if (waiting_.size() > kWaitingMax) release_waiting(ctx, 0);
  }

  /// Applies the waiting op at `index` (its held messages' pasts join this server's first).
  void release_waiting(Context& ctx, std::size_t index) {
    Waiting w = std::move(waiting_[index]);
    waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(index));
    for (std::uint64_t hold : w.holds) ctx.release_held(hold);
    apply_accepted(ctx, w.from, std::move(w.op), w.from_client);
  }

  /// Applies the waiting ops whose past has arrived, in arrival order, until none is left ready.
  void apply_ready(Context& ctx) {
    if (applying_ready_) return;
    applying_ready_ = true;
    for (std::size_t i = 0; i < waiting_.size();) {
      if (!causally_ready(waiting_[i].op)) {
        ++i;
        continue;
      }
      release_waiting(ctx, i);
      i = 0;  // what it applied may have readied an earlier one
    }
    applying_ready_ = false;
  }

  void accept(Context& ctx, NodeId from, Op op, bool from_client) {
    const bool waiting = std::any_of(waiting_.begin(), waiting_.end(), [&](const Waiting& w) { return w.op.id == op.id; });
    // A forward waits even when its op is here already: taking in its log position claims the
    // ops before it in that log too.
    const bool known = (accepted_.contains(op.id) || purged_.contains(op.id)) && op.position.count == 0;
    if (waiting || (!known && !causally_ready(op))) {
      wait_for_past(ctx, from, op, from_client);
      return;
    }
    apply_accepted(ctx, from, std::move(op), from_client);
    apply_ready(ctx);
  }

  void apply_accepted(Context& ctx, NodeId from, Op op, bool from_client) {
    if (!from_client) hold_log_through(op.position);
    if (accepted_.insert(op.id).second) {
      if (purged_.contains(op.id)) {
        pending_.u8(kEntryAccepted).u64(op.id.value);  // made durable with the next change
      } else {
        if (from_client) {
          // The next place in this server's log: what other servers hold the ops before it by.
          op.position = LogPosition{ctx.self(), incarnation_, frontier_.count(ctx.self(), incarnation_) + 1};
          hold_log_through(op.position);
        }
        std::erase_if(op.observed, [&](OpId t) { return purged_.contains(t); });
        state_.apply(op);
        encode_op(pending_.u8(kEntryApplied), op);
        settle(ctx, op.observed);
        ++version_;
        persist(ctx);  // flushed before anyone hears of it: an acknowledged write survives a crash
        broadcast(ctx, op_message(header(kApply), op));
        if (from_client) {
          for (NodeId s : ctx.servers()) {
            if (s != ctx.self()) forward(ctx, s, op);
          }
        }
        const std::uint64_t holding = version_;
        collect(ctx);
        // The acknowledgement names the version that holds the op (a later one does too). It
        // names only the receiver's own write: no happens-before along it, since it may overtake
        // the versions before it that the client has not taken in yet.
        if (from_client) ctx.send_control(from, versioned(kAck, incarnation_, holding).u64(op.id.value).take());
        return;
      }
    }
    if (from_client) ctx.send_control(from, header(kAck).u64(op.id.value).take());
  }

  /// Takes in that a server's log is held here through `p` (Frontier::extend), journaled.
  void hold_log_through(const LogPosition& p) {
    if (frontier_.extend(p)) encode_position(pending_.u8(kEntryLog), p);
  }

  /// Merges a state from a client or another server, ignoring anything already discarded; true
  /// when that changed the state (and every client was sent the new one).
  bool absorb(Context& ctx, OrSet incoming, const Frontier& frontier) {
    incoming.discard_where([&](OpId id) { return purged_.contains(id); });
    OrSet before = state_;
    state_.merge(incoming);
    // The logs the incoming state holds are held here now (not journaled entry by entry).
    const bool logs_grew = frontier_.merge(frontier);
    snapshot_due_ |= logs_grew;
    std::vector<OpId> tombstones;
    tombstones.reserve(state_.removed().size());
    for (const auto& [id, removal] : state_.removed()) tombstones.push_back(id);
    settle(ctx, tombstones);
    if (state_ == before) {
      if (logs_grew) {
        persist(ctx);
        apply_ready(ctx);  // ops that waited for those logs may go
      }
      return false;
    }
    snapshot_due_ = true;
    ++version_;
    persist(ctx);
    broadcast(ctx, full_message(header(kFull), state_, frontier_));
    collect(ctx);
    apply_ready(ctx);
    return true;
  }

  /// After a change that may have added the tombstones `ids`: the collection rule, and this
  /// server's own tombstone report.
  void settle(Context& ctx, const std::vector<OpId>& ids) {
    collect_now(ctx, options_, state_, ttl_);
    if (options_.collection != Collection::when_all_seen) {
      snapshot_due_ = true;  // what collection discarded is not journaled
      return;
    }
    for (OpId id : ids) {
      if (state_.removed().contains(id)) note_seen(ctx, id, ctx.self());
    }
  }

  /// Records that `node` holds tombstone `id`; true when it had not said so before.
  bool note_seen(Context& ctx, OpId id, NodeId node) {
    auto& nodes = seen_by_[id];
    if (!nodes.insert(node).second) return false;
    if (nodes.size() >= reporters(ctx)) complete_.insert(id);
    pending_.u8(kEntrySeen).u64(id.value).u32(node.value);
    return true;
  }

  /// How many nodes report tombstones: every client and every server.
  static std::size_t reporters(Context& ctx) { return ctx.clients().size() + ctx.servers().size(); }

  /// complete_ from seen_by_ after a change to many entries.
  void find_complete(Context& ctx) {
    complete_.clear();
    for (const auto& [id, nodes] : seen_by_) {
      if (nodes.size() >= reporters(ctx)) complete_.insert(id);
    }
  }

  void record_seen(Context& ctx, NodeId node, const std::vector<OpId>& ids) {
    if (options_.collection != Collection::when_all_seen) return;
    bool any = false;
    for (OpId id : ids) {
      if (state_.removed().contains(id)) any |= note_seen(ctx, id, node);
    }
    if (any) collect(ctx);
  }

  /// Discards the tombstones every client and every server has reported.
  void collect(Context& ctx) {
    if (options_.collection != Collection::when_all_seen) return;
    // Only entries with as many reporters as there are nodes can be complete (complete_ holds just
    // those, in id order, so `done` comes out in the order a walk over seen_by_ would give).
    std::vector<OpId> done;
    for (OpId id : complete_) {
      if (seen_by_everyone(ctx, seen_by_.find(id)->second) && state_.removed().contains(id)) done.push_back(id);
    }
    if (done.empty()) return;
    for (OpId id : done) {
      state_.discard(id);
      seen_by_.erase(id);
      complete_.erase(id);
      purged_.insert(id);
      pending_.u8(kEntryDiscarded).u64(id.value);
    }
    ++version_;
    persist(ctx);
    broadcast(ctx, ids_message(header(kPurge), done));
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

  /// Sends to this server's own clients: connected, and connected here. A datagram link reaches
  /// every client, but a client takes its base from one server, its own, whose versions it counts:
  /// another server's would look like a new source and replace the base with a state that may not
  /// hold the client's acknowledged writes yet.
  /// Sends `message` to every client connected here, except those whose hello is still due: their
  /// first full state, sent once it is merged, holds what the message brings.
  void broadcast(Context& ctx, const std::string& message) {
    for (NodeId c : ctx.clients()) {
      if (ctx.connected(c) && own_clients_.contains(c) && !awaiting_hello_.contains(c)) ctx.send(c, message);
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
    snapshot_due_ = true;  // the merge below changes too much to journal entry by entry
    for (OpId id : other.purged_) {
      if (purged_.insert(id).second) state_.discard(id);
      seen_by_.erase(id);
    }
    for (const auto& [id, nodes] : other.seen_by_) {
      if (!purged_.contains(id)) seen_by_[id].insert(nodes.begin(), nodes.end());
    }
    find_complete(ctx);
    accepted_.insert(other.accepted_.begin(), other.accepted_.end());
    absorb(ctx, other.state_, other.frontier_);
    collect(ctx);
  }

  void encode_server(Writer& w) const {
    state_.encode(w);
    frontier_.encode(w);
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
    if (!state_.decode(r) || !frontier_.decode(r)) return false;
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

  /// Makes the changes since the last call durable: one journal record of the entries noted in
  /// pending_, or a snapshot of the whole server state when a change was too large to note (a
  /// merge, a collection by the clock) or the records have outgrown the last snapshot.
  void persist(Context& ctx) {
    if (snapshot_due_ || journal_.wants_snapshot()) {
      Writer w;
      w.u64(incarnation_).u64(version_);
      encode_server(w);
      journal_.snapshot(ctx.store(), w.take());
      snapshot_due_ = false;
    } else {
      journal_.append(ctx.store(), pending_.u8(kEntrySource).u64(incarnation_).u64(version_).take());
    }
    pending_ = Writer();
  }

  void restore(Context& ctx) {
    auto saved = journal_.load(ctx.store());
    Server loaded(options_);
    if (saved.snapshot) {
      Reader r(*saved.snapshot);
      loaded.incarnation_ = r.u64();
      loaded.version_ = r.u64();
      if (!loaded.decode_server(r)) return;
    }
    for (const std::string& record : saved.records) {
      Reader r(record);
      while (r.ok() && !r.at_end()) {
        const std::uint8_t entry = r.u8();
        if (entry == kEntryApplied) {
          auto op = decode_op(r);
          if (!op) return;
          loaded.accepted_.insert(op->id);
          loaded.state_.apply(*op);
        } else if (entry == kEntryAccepted) {
          loaded.accepted_.insert(OpId{r.u64()});
        } else if (entry == kEntryLog) {
          loaded.frontier_.advance(decode_position(r));
        } else if (entry == kEntrySource) {
          loaded.incarnation_ = r.u64();
          loaded.version_ = r.u64();
        } else if (entry == kEntrySeen) {
          const OpId id{r.u64()};
          loaded.seen_by_[id].insert(NodeId{r.u32()});
        } else if (entry == kEntryDiscarded) {
          const OpId id{r.u64()};
          loaded.state_.discard(id);
          loaded.seen_by_.erase(id);
          loaded.purged_.insert(id);
        } else {
          return;  // not a record this server wrote
        }
      }
      if (!r.ok()) return;
    }
    state_ = std::move(loaded.state_);
    frontier_ = std::move(loaded.frontier_);
    accepted_ = std::move(loaded.accepted_);
    purged_ = std::move(loaded.purged_);
    seen_by_ = std::move(loaded.seen_by_);
    incarnation_ = loaded.incarnation_;
    version_ = loaded.version_;
    find_complete(ctx);
  }

  Options options_;
  OrSet state_;
  Frontier frontier_;  ///< the servers' logs state_ holds: this server's own, and what came from others
  // Flat (sorted vector) sets and maps, as in OrSet: walked whole to encode a snapshot or a sync.
  boost::container::flat_set<OpId> accepted_;  ///< op ids already applied: resends apply once
  boost::container::flat_set<OpId> purged_;    ///< discarded tags: never to come back
  boost::container::flat_map<OpId, boost::container::flat_set<NodeId>> seen_by_;  ///< tombstone -> nodes that reported holding it
  boost::container::flat_set<OpId> complete_;  ///< seen_by_'s entries with a report from as many nodes as there are
  TtlClock ttl_;
  std::uint64_t ticks_ = 0;
  // Catching up with the other servers (see on_start and forward).
  bool synced_ = true;                                ///< every other server's state arrived since the start
  boost::container::flat_set<NodeId> synced_from_;    ///< the servers whose state has
  static constexpr std::size_t kHeldForwardsMax = 1'024;  ///< beyond, a forward is dropped (the syncs carry it)
  std::vector<std::pair<NodeId, Op>> held_forwards_;  ///< forwards that came before, in order
  // Ops waiting for their past (see causally_ready), in arrival order, each with the holds of the
  // messages that brought it.
  struct Waiting {
    NodeId from;
    Op op;
    bool from_client = false;
    std::vector<std::uint64_t> holds;
  };
  static constexpr std::size_t kWaitingMax = 1'024;
  static constexpr std::uint64_t kWaitingHoldBase = std::uint64_t{1} << 62;  ///< apart from held_forwards_' op ids
  std::vector<Waiting> waiting_;
  std::uint64_t waiting_holds_ = 0;
  bool applying_ready_ = false;
  boost::container::flat_set<NodeId> behind_;         ///< servers a forward failed to reach
  boost::container::flat_set<NodeId> own_clients_;    ///< clients that connected or wrote here (see broadcast)
  boost::container::flat_set<NodeId> awaiting_hello_; ///< connected clients whose first hello has not come
  std::uint64_t incarnation_ = 0;  ///< drawn when the store held none (see Source)
  std::uint64_t version_ = 0;      ///< of state_ as last sent to clients: one more per change they hear of
  Journal journal_{"orset/s/"};  ///< state_, accepted_, purged_ and seen_by_, durable
  Writer pending_;                    ///< journal entries of the changes not yet persisted
  bool snapshot_due_ = false;         ///< a change since the last persist has no journal entry
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
      .breaks = std::nullopt,
      .make_client = [options](NodeId) { return orset::make_client(options); },
      .make_server = [options](NodeId) { return orset::make_server(options); },
      // Its metadata may grow with the writes on the server only: the relay keeps the id of every
      // accepted and every purged tag, so that a resend is merged once.
      .datagram_links = true,
      .multi_server = true,
      .holds_messages = true,
      // Writes follow reads: an operation is applied only after everything it had seen (causal delivery).
      .writes_follow_reads = OrderPromise::promised,
      // Writes in order: a server applies a client's operation only after the client's previous
      // one (Op::after), over datagrams too, where they overtake each other on the way.
      .writes_in_order = OrderPromise::promised,
      .metadata_growth = MetadataGrowth::server_keeps_writes,
  };
}

}  // namespace syncstorm
