// server-authoritative and server-authoritative-silent: optimistic updates with rollback, the
// pattern of most real-time apps. A client shows a write at once and sends it with the version of the
// field it last saw. The server keeps a version per field and rejects a write whose base version is
// stale, that is when another client wrote the field since (optimistic concurrency control, like an
// HTTP If-Match). Accepted writes are stored, acknowledged and broadcast. A client's view is always
// the server state it knows with its pending writes replayed on top, so rolling back a rejected
// write is simply dropping it from the pending list. The server numbers the writes it accepts and a
// client takes them in that order, so over datagram links too one user's writes show in the order
// made, and a write never before one its writer had read.
//
// The silent variant rolls a rejected write back without telling its user: the article's "silent
// data loss" pitfall, and the canary for the silent-rollback checker.
#include <algorithm>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include <boost/container/flat_map.hpp>
#include <boost/container/flat_set.hpp>

#include "models/model.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {
namespace {

// Every write the leader accepts gets the next number of one sequence (Field versions count the
// writes of one field; the sequence counts them all). Followers apply the leader's writes in that
// order, so the number means the same on every server. Messages that give a client a write say its
// number, and a client takes the writes in that order (AuthoritativeClient::arrive): over datagrams
// a broadcast lost or overtaken would otherwise let one user's later write show before an earlier
// one, or a write before one its writer had read.
enum Tag : std::uint8_t {
  kWrite = 1,     ///< client -> server: u64 op, u32 key, u64 base version, u64 oldest pending op,
                  ///< u64 the client's pending op made just before this one (0: none)
  kAccepted = 2,  ///< server -> client: u64 op, u32 key, u64 version it got, u64 its number
  kRejected = 3,  ///< server -> client: u64 op
  kUpdate = 4,    ///< server -> client: the server's whole state: u64 the number of the writes it
                  ///< holds (1 to it, all of them), u32 n, then n x (u32 key, u64 version, u64 value, u32 writer)
  kReplicate = 5, ///< leader -> follower: one accepted write: u32 key, u64 version, u64 value, u32 writer,
                  ///< u64 the writes the leader has accepted in all, this one included
  kSync = 6,      ///< client -> server every period: u64 digest of the server state the client knows,
                  ///< u64 oldest pending op (what a quiet client lets the server forget)
  // Between servers (see AuthoritativeServer):
  kForwarded = 7,     ///< follower -> leader: u32 client, bytes: the client's kWrite or kSync
  kRelay = 8,         ///< leader -> follower: u32 client, bytes: an answer for it
  kState = 9,         ///< leader -> follower: every field, as kUpdate's body
  kStateRequest = 10, ///< follower -> leader, when it starts or misses a replication: send kState
  kBroadcast = 11,    ///< server -> client: one accepted write: u64 its number, then as one field of kUpdate
};

constexpr std::uint64_t kTimer = 1;
/// Writes a server keeps per client while they wait for a predecessor's decision.
constexpr std::size_t kWaitingMax = 256;
/// Broadcast writes a client keeps while one before them is missing (beyond: dropped; the state
/// its next sync brings has them). Its own accepted writes are always kept: its user sees them.
constexpr std::size_t kAheadMax = 256;
/// How often a client resends writes still waiting for the server's answer.
constexpr Duration kResendPeriod = Duration::seconds(1);
/// A client sends its digest at least every this many periods, even while broadcasts keep arriving.
constexpr std::uint64_t kSyncEvery = 5;

/// One field as the server ordered it.
struct Field {
  std::uint64_t version = 0;  ///< number of accepted writes to this field; 0: never written
  OpId value;                 ///< the last accepted write
  std::uint32_t writer = 0;   ///< the client that made it
  /// The version just before the current writer's run of consecutive writes began: a write based on
  /// any version from here on has seen every other client's write to the field.
  std::uint64_t run_start = 0;

  /// Servers that accepted writes concurrently (several servers) settle on the larger pair.
  bool precedes(std::uint64_t other_version, OpId other_value) const {
    return std::pair(version, value) < std::pair(other_version, other_value);
  }
};

/// Sorted in one block: iterated (digests, persisting, state) far more often than a field is added.
/// A reference into it holds until the next field is added.
using Fields = boost::container::flat_map<KeyId, Field>;

/// A digest of what a client can know of a server's fields. A client sends it every period and a
/// server holding something else answers with its full state: this repairs broadcasts lost on
/// datagram links, which have no connection event to trigger a catch-up.
std::uint64_t digest(const Fields& fields) {
  Writer w;
  for (const auto& [key, f] : fields) w.u32(key.value).u64(f.version).u64(f.value.value);
  return fnv1a64(w.take());
}

void write_field(Writer& w, KeyId key, const Field& f) {
  w.u32(key.value).u64(f.version).u64(f.value.value).u32(f.writer);
}

/// The whole state of a server that holds writes 1 to `numbered`.
std::string encode_update(const Fields& fields, std::uint64_t numbered) {
  Writer w;
  w.u8(kUpdate).u64(numbered).u32(static_cast<std::uint32_t>(fields.size()));
  for (const auto& [key, field] : fields) write_field(w, key, field);
  return w.take();
}

/// Write number `number`, of field `key`.
std::string encode_broadcast(std::uint64_t number, KeyId key, const Field& field) {
  Writer w;
  w.u8(kBroadcast).u64(number);
  write_field(w, key, field);
  return w.take();
}

/// Reads one (key, version, value, writer) into `fields`.
void read_field(Reader& r, Fields& fields) {
  const KeyId key{r.u32()};
  Field f;
  f.version = r.u64();
  f.value = OpId{r.u64()};
  f.writer = r.u32();
  fields[key] = f;
}

/// Reads n x (key, version, value, writer); nullopt on malformed input.
std::optional<Fields> read_fields(Reader& r) {
  Fields fields;
  const std::uint32_t n = r.u32();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) read_field(r, fields);
  if (!r.ok()) return std::nullopt;
  return fields;
}

/// Reads one field as a Fields of one; nullopt on malformed input.
std::optional<Fields> read_one(Reader& r) {
  Fields one;
  read_field(r, one);
  if (!r.ok()) return std::nullopt;
  return one;
}

struct PendingWrite {
  OpId op;
  KeyId key;
  std::uint64_t base = 0;  ///< the field's version this client had seen when the user wrote
};

class AuthoritativeClient final : public Node {
 public:
  explicit AuthoritativeClient(bool silent) : silent_(silent) {}

  void on_start(Context& ctx) override {
    self_ = ctx.self().value;
    restore(ctx);
    ctx.set_timer(kResendPeriod, kTimer);
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::map_set) return;
    const auto known = confirmed_.find(op.key);
    pending_.push_back(PendingWrite{op.id, op.key, known == confirmed_.end() ? 0 : known->second.version});
    persist(ctx);
    ctx.report(op.id, Lifecycle::applied);
    if (auto server = ctx.connected_server()) ctx.send(*server, encode_write(pending_.back()));
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    heard_ = true;
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAccepted) {
      const OpId op{r.u64()};
      const KeyId key{r.u32()};
      const std::uint64_t version = r.u64();
      const std::uint64_t number = r.u64();
      if (!r.ok() || !drop_pending(op)) return;
      OpId& newest = own_accepted_[key];
      newest = std::max(newest, op);
      ctx.report(op, Lifecycle::acknowledged);
      Fields one;
      one[key] = Field{version, op, ctx.self().value, 0};
      arrive(ctx, number, std::move(one));
    } else if (tag == kRejected) {
      const OpId op{r.u64()};
      if (!r.ok() || !drop_pending(op)) return;
      // The rollback itself: the view is recomputed without the op. Telling the user is the fix.
      if (!silent_) ctx.report(op, Lifecycle::rejected);
    } else if (tag == kBroadcast) {
      const std::uint64_t number = r.u64();
      auto one = read_one(r);
      if (!one) return;
      arrive(ctx, number, std::move(*one));
    } else if (tag == kUpdate) {
      const std::uint64_t numbered = r.u64();
      auto fields = read_fields(r);
      if (!fields) return;
      // A whole state holds every write up to its number: the gap before any of them is closed.
      for (const auto& [key, field] : *fields) adopt(ctx, key, field);
      applied_ = std::max(applied_, numbered);
      take_ahead(ctx);
    } else {
      return;
    }
    persist(ctx);
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTimer) return;
    ++ticks_;
    if (auto server = ctx.connected_server()) {
      resend(ctx, *server);
      // While broadcasts keep arriving the digests differ anyway (some are in flight): sync when
      // the server has gone quiet, and every kSyncEvery periods regardless.
      // A write waiting for one before it that is lost asks at once: the answer is the whole state.
      if (!heard_ || !ahead_.empty() || ticks_ % kSyncEvery == 0) ctx.send_control(*server, Writer().u8(kSync).u64(digest(confirmed_)).u64(oldest_pending().value).take());
    }
    heard_ = false;
    ctx.set_timer(kResendPeriod, kTimer);
  }

  void on_connected(Context& ctx, NodeId peer) override { resend(ctx, peer); }

  std::optional<State> state() const override {
    State s;
    s.type = DataType::map;
    s.fields.reserve(confirmed_.size() + pending_.size());
    for (const auto& [key, field] : confirmed_) s.fields.emplace_back(key, field.value);
    // This user's accepted writes that wait for earlier ones show already: the user made them.
    for (const auto& [number, fields] : ahead_) {
      for (const auto& [key, field] : fields) {
        if (field.writer == self_) show(s, key, field.value);
      }
    }
    // Optimistic: pending writes show, each over the one before it to the same field, but never
    // over a newer write of this user's that the server has accepted already. On a datagram link
    // the newer one's answer can come first (the older one's message was lost and is resent): the
    // user wrote the newer value last and must keep seeing it while the older one waits.
    for (const PendingWrite& p : pending_) {
      if (!superseded_by_own(p)) show(s, p.key, p.op);
    }
    return s;
  }

  std::uint64_t metadata_bytes() const override {
    return (confirmed_.size() + own_accepted_.size()) * (sizeof(KeyId) + sizeof(std::uint64_t)) +
           pending_.size() * sizeof(PendingWrite);
  }

 private:
  std::string encode_write(const PendingWrite& p) const {
    OpId previous;
    for (const PendingWrite& q : pending_) {
      if (!(q.op < p.op)) break;
      previous = q.op;
    }
    return Writer()
        .u8(kWrite)
        .u64(p.op.value)
        .u32(p.key.value)
        .u64(p.base)
        .u64(oldest_pending().value)
        .u64(previous.value)
        .take();
  }

  /// Whether the server has accepted a newer write of this user's to the same field. The server
  /// decides one client's writes in the order they were made, so this one was decided before it:
  /// accepted and overwritten, or rejected. Either way the field will not show it again.
  bool superseded_by_own(const PendingWrite& p) const {
    const auto newest = own_accepted_.find(p.key);
    return newest != own_accepted_.end() && p.op < newest->second;
  }

  /// Every op of this client before this one has its answer here and is never sent again: the
  /// oldest pending op, or with none pending the one after the newest answered.
  OpId oldest_pending() const { return pending_.empty() ? OpId{newest_answered_.value + 1} : pending_.front().op; }

  void resend(Context& ctx, NodeId server) {
    for (const PendingWrite& p : pending_) ctx.send(server, encode_write(p));
  }

  bool drop_pending(OpId op) {
    if (std::erase_if(pending_, [op](const PendingWrite& p) { return p.op == op; }) == 0) return false;
    newest_answered_ = std::max(newest_answered_, op);
    return true;
  }

  /// Shows `op` as field `key`'s value in `s` (whose fields are sorted by key).
  static void show(State& s, KeyId key, OpId op) {
    auto at = std::lower_bound(s.fields.begin(), s.fields.end(), key,
                               [](const std::pair<KeyId, OpId>& field, KeyId k) { return field.first < k; });
    if (at != s.fields.end() && at->first == key) at->second = op;
    else s.fields.emplace(at, key, op);
  }

  /// Write `number` of the server's sequence: taken now if every write before it is, else kept until
  /// they are (or until a whole state brings them). A number already taken is a duplicate. Another
  /// user's write kept is not seen yet: its message is held from the checkers (Context::hold_message,
  /// under its number) until it is taken; one dropped beyond kAheadMax stays held, as what brings it
  /// later (a whole state) carries its past.
  void arrive(Context& ctx, std::uint64_t number, Fields fields) {
    if (number <= applied_) return;
    if (number > applied_ + 1) {
      const bool own = fields.begin()->second.writer == self_;
      if (!own) ctx.hold_message(number);
      if (own || ahead_.size() < kAheadMax) ahead_.emplace(number, std::move(fields));
      return;
    }
    for (const auto& [key, field] : fields) adopt(ctx, key, field);
    applied_ = number;
    take_ahead(ctx);
  }

  /// Takes the kept writes that now follow on, and forgets those a whole state covered (which this
  /// replica now holds either way).
  void take_ahead(Context& ctx) {
    while (!ahead_.empty() && ahead_.begin()->first <= applied_ + 1) {
      auto first = ahead_.begin();
      if (first->first == applied_ + 1) {
        for (const auto& [key, field] : first->second) adopt(ctx, key, field);
        applied_ = first->first;
      }
      if (first->second.begin()->second.writer != self_) ctx.release_held(first->first);
      ahead_.erase(first);
    }
  }

  /// Takes a field from the server if it is newer than what this client knows.
  void adopt(Context& ctx, KeyId key, const Field& field) {
    Field& known = confirmed_[key];
    if (!known.precedes(field.version, field.value)) return;
    known = field;
    // Confirmed versions only grow, so each remote write is taken (and reported) once.
    if (field.writer != ctx.self().value) ctx.report(field.value, Lifecycle::seen);
  }

  void persist(Context& ctx) {
    Writer w;
    w.u32(static_cast<std::uint32_t>(confirmed_.size()));
    for (const auto& [key, field] : confirmed_) write_field(w, key, field);
    w.u32(static_cast<std::uint32_t>(pending_.size()));
    for (const PendingWrite& p : pending_) w.u64(p.op.value).u32(p.key.value).u64(p.base);
    w.u32(static_cast<std::uint32_t>(own_accepted_.size()));
    for (const auto& [key, op] : own_accepted_) w.u32(key.value).u64(op.value);
    w.u64(applied_);
    // This user's accepted writes waiting for earlier ones: its screen shows them (see state()).
    std::uint32_t own = 0;
    for (const auto& [number, fields] : ahead_) own += fields.begin()->second.writer == self_ ? 1 : 0;
    w.u32(own);
    for (const auto& [number, fields] : ahead_) {
      if (fields.begin()->second.writer != self_) continue;
      w.u64(number);
      write_field(w, fields.begin()->first, fields.begin()->second);
    }
    ctx.store().put("sa/client", w.take());
    ctx.store().flush();
  }

  void restore(Context& ctx) {
    const auto saved = ctx.store().get("sa/client");
    if (!saved) return;
    Reader r(*saved);
    auto confirmed = read_fields(r);
    std::vector<PendingWrite> pending;
    const std::uint32_t n = r.u32();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      PendingWrite p;
      p.op = OpId{r.u64()};
      p.key = KeyId{r.u32()};
      p.base = r.u64();
      pending.push_back(p);
    }
    boost::container::flat_map<KeyId, OpId> own_accepted;
    const std::uint32_t m = r.u32();
    for (std::uint32_t i = 0; i < m && r.ok(); ++i) {
      const KeyId key{r.u32()};
      own_accepted[key] = OpId{r.u64()};
    }
    const std::uint64_t applied = r.u64();
    std::map<std::uint64_t, Fields> ahead;
    const std::uint32_t waiting = r.u32();
    for (std::uint32_t i = 0; i < waiting && r.ok(); ++i) {
      const std::uint64_t number = r.u64();
      read_field(r, ahead[number]);
    }
    if (!confirmed || !r.ok()) return;  // a corrupt store is treated as empty
    confirmed_ = std::move(*confirmed);
    pending_ = std::move(pending);
    own_accepted_ = std::move(own_accepted);
    applied_ = applied;
    ahead_ = std::move(ahead);
  }

  bool silent_;
  Fields confirmed_;                   ///< the server's state as this client last heard it
  std::vector<PendingWrite> pending_;  ///< applied here, not yet answered; in the order the user wrote
  boost::container::flat_map<KeyId, OpId> own_accepted_;  ///< per field, this user's newest accepted write
  OpId newest_answered_;  ///< the newest of this client's ops answered since it started (not kept across a reload)
  bool heard_ = false;                 ///< a server message arrived since the last timer tick
  std::uint64_t ticks_ = 0;            ///< timer ticks since this node started
  std::uint32_t self_ = 0;             ///< this client's node id, as a Field's writer names it
  /// The server's writes 1 to applied_ are all in confirmed_ (and none after it).
  std::uint64_t applied_ = 0;
  /// Writes numbered past applied_ + 1, by number, each one field: held until the ones before them
  /// arrive, at most kAheadMax of other users' (this user's own always: its screen shows them).
  std::map<std::uint64_t, Fields> ahead_;
};

/// The server's answer to one operation, kept so that a resend gets the same answer.
struct Decision {
  bool accepted = false;
  KeyId key;
  std::uint64_t version = 0;
  std::uint64_t number = 0;  ///< accepted: its number in the server's sequence
};

/// The answers one client may still ask for again. Every write names the client's oldest pending
/// op; everything older has been answered and is never resent, so it is forgotten.
struct Answers {
  OpId floor;  ///< the largest "oldest pending op" the client has named
  std::map<OpId, Decision> ops;

  void forget_before(OpId oldest) {
    if (!(floor < oldest)) return;
    floor = oldest;
    ops.erase(ops.begin(), ops.lower_bound(oldest));
  }
};

/// How often, in periods, the leader sends the followers every field: what repairs replications
/// lost while a follower was down or cut off from it.
constexpr std::uint64_t kStateEvery = 5;

/// With several servers one decides: the leader, servers()[0], the single authority a
/// server-authoritative design needs (two servers deciding on their own would each accept writes
/// based on versions the other has moved past, and the later of two acknowledged writes could be
/// overwritten by an earlier one). The others are followers: they forward their clients' writes
/// to the leader and relay its answers, and serve their clients a replica of its fields. While a
/// follower is cut off from the leader its clients' writes wait, resent, until it is back.
class AuthoritativeServer final : public Node {
 public:
  void on_start(Context& ctx) override {
    restore(ctx);
    if (ctx.servers().size() < 2) return;
    if (leader(ctx)) ctx.set_timer(kResendPeriod, kTimer);
    else ctx.send_control(leader_id(ctx), Writer().u8(kStateRequest).take());  // what it missed while down
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTimer) return;
    ctx.set_timer(kResendPeriod, kTimer);
    if (++ticks_ % kStateEvery == 0) send_followers(ctx, state_message());
  }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (is_server(ctx, from)) return on_server_message(ctx, from, tag, r);
    if (tag == kWrite || tag == kSync) {
      if (!leader(ctx)) {
        // The leader decides, and forgets answers a quiet client no longer needs. If it is out
        // of reach the message is lost: the client resends until answered.
        ctx.send(leader_id(ctx), Writer().u8(kForwarded).u32(from.value).bytes(payload).take());
      } else {
        routes_.erase(from.value);  // answered directly from now on
        from_client(ctx, from, tag, r);
      }
    }
    if (tag == kSync && !leader(ctx)) {
      r.u8();
      const std::uint64_t theirs = r.u64();
      if (r.ok() && theirs != digest(fields_)) ctx.send(from, encode_update(fields_, accepted_));
    }
  }

  void on_connected(Context& ctx, NodeId peer) override { ctx.send(peer, encode_update(fields_, accepted_)); }

  std::optional<State> state() const override {
    State s;
    s.type = DataType::map;
    for (const auto& [key, field] : fields_) s.fields.emplace_back(key, field.value);
    return s;
  }

  std::uint64_t metadata_bytes() const override {
    std::uint64_t decisions = 0;
    for (const auto& [client, answers] : decisions_) decisions += answers.ops.size();
    return fields_.size() * sizeof(Field) + decisions * (sizeof(OpId) + sizeof(Decision));
  }

 private:
  /// One write as a client sent it.
  struct WriteMessage {
    OpId op;
    KeyId key;
    std::uint64_t base = 0;
    OpId oldest;    ///< the client's oldest pending op when it sent this
    OpId previous;  ///< the client's pending op made just before this one (0: none)
  };

  static NodeId leader_id(Context& ctx) { return ctx.servers()[0]; }
  static bool leader(Context& ctx) { return ctx.self() == leader_id(ctx); }
  static bool is_server(Context& ctx, NodeId node) {
    return std::find(ctx.servers().begin(), ctx.servers().end(), node) != ctx.servers().end();
  }

  /// The leader: a write or a sync of `client`, reaching it directly or forwarded.
  void from_client(Context& ctx, NodeId client, std::uint8_t tag, Reader& r) {
    if (tag == kWrite) return on_write(ctx, client, r);
    const std::uint64_t theirs = r.u64();
    const OpId oldest{r.u64()};
    if (!r.ok()) return;
    decisions_[client.value].forget_before(oldest);  // a quiet client has had every answer before it
    if (!routes_.contains(client.value) && theirs != digest(fields_)) ctx.send(client, encode_update(fields_, accepted_));
  }

  void on_server_message(Context& ctx, NodeId from, std::uint8_t tag, Reader& r) {
    if (leader(ctx)) {
      if (tag == kForwarded) {
        const NodeId client{r.u32()};
        const std::string inner(r.bytes());
        Reader message(inner);
        const std::uint8_t inner_tag = message.u8();
        if (!r.ok() || (inner_tag != kWrite && inner_tag != kSync)) return;
        routes_[client.value] = from;
        from_client(ctx, client, inner_tag, message);
      } else if (tag == kStateRequest) {
        ctx.send(from, state_message());
      }
      return;
    }
    if (from != leader_id(ctx)) return;
    if (tag == kRelay) {
      // An answer of the leader's to one of this follower's clients.
      const NodeId client{r.u32()};
      const std::string answer(r.bytes());
      if (r.ok() && !is_server(ctx, client)) ctx.send_control(client, answer);
    } else if (tag == kReplicate || tag == kState) {
      const auto fields = tag == kReplicate ? read_one(r) : read_fields(r);
      const std::uint64_t accepted = tag == kReplicate ? r.u64() : 0;
      if (!fields || !r.ok()) return;
      if (tag == kReplicate && accepted != accepted_ + 1) {
        // One or more writes before this one never arrived (lost with a connection to the
        // leader): applying it would show the follower's clients a write before one its writer
        // may have read. The leader's whole state brings both, in one update.
        if (accepted > accepted_ + 1 && !awaiting_state_) {
          awaiting_state_ = true;
          ctx.send_control(leader_id(ctx), Writer().u8(kStateRequest).take());
        }
        return;
      }
      if (tag == kState) awaiting_state_ = false;
      // The leader's versions of a field only grow: each newer one replaces the replica's.
      bool changed = false;
      for (const auto& [key, incoming] : *fields) {
        auto it = fields_.find(key);
        if (it != fields_.end() && it->second.version >= incoming.version) continue;
        accepted_ += incoming.version - (it == fields_.end() ? 0 : it->second.version);
        fields_[key] = incoming;
        changed = true;
      }
      if (!changed) return;
      persist(ctx);
      // One replicated write is the next of the sequence; a whole state goes whole, since the
      // clients may lack any write before its number.
      const auto& [key, field] = *fields->begin();
      broadcast_clients(ctx, tag == kReplicate ? encode_broadcast(accepted_, key, field) : encode_update(fields_, accepted_),
                        ctx.self());
    }
  }

  std::string state_message() const {
    Writer w;
    w.u8(kState).u32(static_cast<std::uint32_t>(fields_.size()));
    for (const auto& [key, field] : fields_) write_field(w, key, field);
    return w.take();
  }

  void send_followers(Context& ctx, const std::string& message) {
    for (NodeId server : ctx.servers()) {
      if (server != ctx.self()) ctx.send(server, message);
    }
  }

  void on_write(Context& ctx, NodeId from, Reader& r) {
    WriteMessage w;
    w.op = OpId{r.u64()};
    w.key = KeyId{r.u32()};
    w.base = r.u64();
    w.oldest = OpId{r.u64()};
    w.previous = OpId{r.u64()};
    if (!r.ok() || !w.op.valid()) return;
    Answers& mine = decisions_[from.value];
    mine.forget_before(w.oldest);
    // One client's writes are decided in the order they were made: one whose predecessor was lost
    // or overtaken on a datagram link waits here for it (bounded; the client resends both anyway).
    // Otherwise a newer write accepted first leaves the older one to show over it, or to land after.
    if (!settled(mine, w.op) && w.previous.valid() && !settled(mine, w.previous)) {
      auto& waiting = waiting_[from.value];
      if (waiting.size() < kWaitingMax) waiting[w.previous] = w;
      return;
    }
    write(ctx, from, w);
    // Its successor may be waiting for it, and so on down the chain.
    auto& waiting = waiting_[from.value];
    for (auto next = waiting.find(w.op); next != waiting.end(); next = waiting.find(w.op)) {
      w = next->second;
      waiting.erase(next);
      write(ctx, from, w);
    }
  }

  /// Whether `op` of this client has its decision (or is older than every op it may still send).
  static bool settled(const Answers& mine, OpId op) { return op < mine.floor || mine.ops.contains(op); }

  /// Decides one write whose predecessor is decided, or answers it again.
  void write(Context& ctx, NodeId from, const WriteMessage& w) {
    Answers& mine = decisions_[from.value];
    // A late duplicate of an op its client already has an answer for (a datagram can arrive long
    // after): deciding it again could apply an old write twice.
    if (w.op < mine.floor) return;
    if (auto it = mine.ops.find(w.op); it != mine.ops.end()) return answer(ctx, from, w.op, it->second);
    const OpId op = w.op;
    const KeyId key = w.key;
    Field& f = fields_[key];
    const bool fresh = w.base == f.version || (f.writer == from.value && w.base >= f.run_start);
    Decision d{fresh, key, f.version, 0};
    if (fresh) {
      if (f.writer != from.value) f.run_start = f.version;
      f.version += 1;
      accepted_ += 1;
      f.value = op;
      f.writer = from.value;
      d.version = f.version;
      d.number = accepted_;
    }
    mine.ops[op] = d;
    persist(ctx);  // durable before the answer: an acknowledged write must survive a crash
    answer(ctx, from, op, d);
    if (!fresh) return;
    broadcast_clients(ctx, encode_broadcast(accepted_, key, f), from);
    Writer out;
    out.u8(kReplicate);
    write_field(out, key, f);
    out.u64(accepted_);
    send_followers(ctx, out.take());
  }

  /// Answers a client directly, or through the follower it is connected to.
  void answer(Context& ctx, NodeId to, OpId op, const Decision& d) {
    const std::string message = d.accepted
                                    ? Writer().u8(kAccepted).u64(op.value).u32(d.key.value).u64(d.version).u64(d.number).take()
                                    : Writer().u8(kRejected).u64(op.value).take();
    const auto route = routes_.find(to.value);
    if (route == routes_.end()) ctx.send_control(to, message);
    else ctx.send_control(route->second, Writer().u8(kRelay).u32(to.value).bytes(message).take());
  }

  void broadcast_clients(Context& ctx, const std::string& update, NodeId except) {
    for (NodeId client : ctx.clients()) {
      if (client != except && ctx.connected(client)) ctx.send(client, update);
    }
  }

  void persist(Context& ctx) {
    Writer w;
    w.u32(static_cast<std::uint32_t>(fields_.size()));
    for (const auto& [key, f] : fields_) {
      write_field(w, key, f);
      w.u64(f.run_start);
    }
    w.u32(static_cast<std::uint32_t>(decisions_.size()));
    for (const auto& [client, answers] : decisions_) {
      w.u32(client).u64(answers.floor.value).u32(static_cast<std::uint32_t>(answers.ops.size()));
      for (const auto& [op, d] : answers.ops) {
        w.u64(op.value).u8(d.accepted ? 1 : 0).u32(d.key.value).u64(d.version).u64(d.number);
      }
    }
    ctx.store().put("sa/server", w.take());
    ctx.store().flush();
  }

  void restore(Context& ctx) {
    const auto saved = ctx.store().get("sa/server");
    if (!saved) return;
    Reader r(*saved);
    Fields fields;
    const std::uint32_t n = r.u32();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      auto one = read_one(r);
      const std::uint64_t run_start = r.u64();
      if (!one) break;
      for (auto& [key, field] : *one) {
        field.run_start = run_start;
        fields[key] = field;
      }
    }
    std::map<std::uint32_t, Answers> decisions;
    const std::uint32_t clients = r.u32();
    for (std::uint32_t c = 0; c < clients && r.ok(); ++c) {
      Answers& answers = decisions[r.u32()];
      answers.floor = OpId{r.u64()};
      auto& ops = answers.ops;
      const std::uint32_t count = r.u32();
      for (std::uint32_t i = 0; i < count && r.ok(); ++i) {
        const OpId op{r.u64()};
        const bool accepted = r.u8() != 0;
        const KeyId key{r.u32()};
        const std::uint64_t version = r.u64();
        ops[op] = Decision{accepted, key, version, r.u64()};
      }
    }
    if (!r.ok()) return;  // a corrupt store is treated as empty
    fields_ = std::move(fields);
    decisions_ = std::move(decisions);
    accepted_ = 0;
    for (const auto& [key, field] : fields_) accepted_ += field.version;
  }

  Fields fields_;
  /// Per client (by NodeId value), the answers it may still ask for again.
  std::map<std::uint32_t, Answers> decisions_;
  /// Per client: writes waiting for their predecessor's decision, by that predecessor (not stored:
  /// a restart forgets them and the client's resends bring them again).
  std::map<std::uint32_t, std::map<OpId, WriteMessage>> waiting_;
  /// Leader: the follower each client's last message came through (none: the client's own link).
  std::map<std::uint32_t, NodeId> routes_;
  std::uint64_t ticks_ = 0;
  /// The writes accepted so far that this server's fields hold: the sum of their versions, since
  /// each accepted write raises its field's version by one. The leader numbers its replications by
  /// it, and a follower applies one only when it holds every write before it.
  std::uint64_t accepted_ = 0;
  /// Follower: it asked the leader for its whole state after a gap and has not had it yet.
  bool awaiting_state_ = false;
};

ModelInfo make_info(bool silent) {
  ModelInfo info;
  info.name = silent ? "server-authoritative-silent" : "server-authoritative";
  info.description = silent ? "optimistic updates whose rejected writes are rolled back without telling the user"
                            : "optimistic updates, server rejects writes based on a stale field version, client rolls back";
  info.data_type = DataType::map;
  info.topology = Topology::client_server;
  info.rule = SupersedeRule::server_order;
  if (silent) info.breaks = Invariant::silent_rollback;
  info.make_client = [silent](NodeId) { return std::make_unique<AuthoritativeClient>(silent); };
  info.make_server = [](NodeId) { return std::make_unique<AuthoritativeServer>(); };
  // Resends until answered, answers kept for late duplicates, one client's writes decided in the
  // order made, digests repair lost broadcasts (the datagram-relay scenario holds it to it).
  info.datagram_links = true;
  info.multi_server = true;
  info.holds_messages = true;  // a broadcast that overtook a lost one waits (AuthoritativeClient::arrive)  // one leader decides; followers forward, relay and catch up
  // A client takes the leader's writes in the order of their numbers, over any link.
  info.writes_follow_reads = OrderPromise::promised;
  info.writes_in_order = OrderPromise::promised;
  return info;
}

}  // namespace

ModelInfo server_authoritative_model() { return make_info(false); }
ModelInfo server_authoritative_silent_model() { return make_info(true); }

}  // namespace syncstorm
