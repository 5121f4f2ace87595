// broker-map: a server-ordered map scaled out over several server instances that fan updates out
// through a message broker, as the article's "use a message broker like Redis Pub/Sub or NATS to
// broadcast state changes across multiple server instances" does. Server 0 runs the broker beside
// its own app instance; every server is an app instance that holds a replica and serves clients,
// and a client may land on another instance after a reconnect (network.assignment = "random").
//
// A client's write goes to its instance, which publishes it to the broker and retries until the
// broker confirms it; the broker orders it, makes it durable, confirms (the instance then
// acknowledges to the client) and fans it out to every instance, which pushes it to its clients.
//
// Two brokers, one knob:
// - broker-map (Redis Streams, NATS JetStream): the broker keeps a numbered log; an instance applies
//   entries in order, asks for a replay from its position when it sees a gap, after a restart, and
//   on a periodic pull, so it never misses an entry. The log keeps its newest kRetainedEntries (a
//   stream's retention limit); an instance whose position is older gets the broker's whole replica.
//
// A client that lands on another instance must not see its view go back in time: that instance may
// have been cut off from the broker and still be catching up. Every update and snapshot carries the
// log position it is at; a client remembers the highest it has seen, names it in a hello on every
// connect, and the instance sends its snapshot only once its own replica has reached that position
// (asking the broker to replay the rest). Until then the client ignores the instance's updates of
// positions older than its own. (The at-most-once broker has no positions to wait for: its
// instances answer at once.)
//
// The same holds for a client's own write: the instance acknowledges it once its replica has
// reached the write's log position (the broker's confirm names it), so the update that carries it
// reached the client first. That holds only on a connection whose snapshot went out: the updates of
// an earlier connection may have died with it, and an acknowledgement that overtook the new
// connection's snapshot would take the write out of the client's view, showing the older value the
// client still held. So an instance sends a client nothing, neither updates nor acknowledgements,
// until it has sent that client's snapshot; the acknowledgements it confirms meanwhile wait for it.
//
// Deduplication needs no per-write memory: each client numbers its writes per session (a session is
// one life of the client replica), and the broker accepts a session's writes only in order, confirming
// repeats. A write that overtakes an earlier one still in flight is dropped unconfirmed and comes
// back with the next retry, behind it.
// - broker-map-at-most-once (Redis Pub/Sub, core NATS): a message published while an instance is
//   not connected to the broker (partitioned from it, or restarting) is gone. The instance never
//   learns of it, and neither do the clients it serves: the checkers see divergence.
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "models/kit/fields.hpp"
#include "models/kit/store_keys.hpp"
#include "models/model.hpp"
#include "models/kit/outbox.hpp"
#include "models/kit/server_mirror.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {
namespace {

enum Tag : std::uint8_t {
  kOp = 1,        ///< client -> instance: a user's write
  kAck = 2,       ///< instance -> client: the write is durable in the broker
  kSnapshot = 3,  ///< instance -> client: the instance's whole replica, on connect
  kUpdate = 4,    ///< instance -> client: one write
  kPublish = 5,   ///< instance -> broker: a write to order and fan out
  kConfirm = 6,   ///< broker -> instance: the write is durable
  kDeliver = 7,   ///< broker -> instance: log entries, in order
  kResume = 8,    ///< instance -> broker: replay the log from a position
  kReplica = 9,   ///< broker -> instance: its whole replica, for a position older than the log
  kHello = 10,    ///< client -> instance: the highest log position it has seen; answered by a snapshot
};

/// Log entries the durable broker keeps; older ones are only in its replica.
constexpr std::size_t kRetainedEntries = 256;
/// Entries dropped at once, so that trimming runs once per this many writes.
constexpr std::size_t kTrimChunk = 64;

/// Acknowledgements one instance holds for one client whose snapshot has not gone out yet. A client
/// has at most its outbox in flight; past the bound it is acknowledged after its next reconnect.
constexpr std::size_t kHeldAcksMax = 4'096;

/// How often an instance retries unconfirmed publishes and (durable broker) pulls for missed entries.
constexpr Duration kRetryEvery = Duration::seconds(1);
constexpr std::uint64_t kRetryTimer = 1;

struct Entry {
  std::uint64_t seq = 0;
  KeyId key;
  OpId value;
};

/// A user's write with its place among its session's writes.
struct Tagged {
  Operation op;
  std::uint64_t session = 0;  ///< drawn when the client replica starts
  std::uint64_t seq = 0;      ///< 1, 2, 3, ... within the session
};

std::string tagged_message(std::uint8_t tag, const Tagged& t) {
  return Writer().u8(tag).bytes(t.op.encode()).u64(t.session).u64(t.seq).take();
}

std::optional<Tagged> read_tagged(Reader& r) {
  Tagged t;
  auto op = Operation::decode(r.bytes());
  t.session = r.u64();
  t.seq = r.u64();
  if (!r.ok() || !op || op->kind != OpKind::map_set || t.seq == 0) return std::nullopt;
  t.op = *op;
  return t;
}

class BrokerClient final : public Node {
 public:
  void on_start(Context& ctx) override {
    // The session and its numbering live in local storage with the outbox: a reloaded tab resends
    // its pending writes under the numbers the instances may already have seen.
    if (auto saved = ctx.store().get("session")) {
      Reader r(*saved);
      session_ = r.u64();
      sent_ = r.u64();
    } else {
      session_ = ctx.rng().next();
    }
    mirror_.restore(ctx);
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::map_set) return;
    ++sent_;
    ctx.store().put("session", Writer().u64(session_).u64(sent_).take());
    mirror_.write(ctx, op, sent_);  // the outbox's flush takes the session record too
    if (auto server = ctx.connected_server()) ctx.send(*server, tagged_message(kOp, tagged(op.id)));
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      const OpId id{r.u64()};
      const auto& entries = mirror_.outbox().entries();
      const auto acked = entries.find(id);
      if (!r.ok() || acked == entries.end()) return;
      // The broker takes one session's writes only in order: this one confirmed, every earlier
      // one is in its log before it, whether or not its own answer came (a crash may have lost
      // it, and the resend's is still on its way). Left pending, an earlier write would show over
      // this newer one.
      const std::uint64_t seq = acked->second.base;
      std::vector<OpId> confirmed;
      for (const auto& [other, entry] : entries) {
        if (entry.base <= seq) confirmed.push_back(other);
      }
      for (OpId other : confirmed) mirror_.acknowledge(ctx, other);
    } else if (tag == kUpdate || tag == kSnapshot) {
      // An instance still behind what this client has seen would take its view back in time.
      const std::uint64_t position = r.u64();
      // Entries of one position may come as several updates (a replica's catch-up): only an older
      // position is stale.
      if (!r.ok() || position < seen_) return;
      if (!(tag == kUpdate ? mirror_.read_update(ctx, r) : mirror_.read_snapshot(ctx, r, false))) return;
      seen_ = position;
    }
    mirror_.refresh();  // pending writes stay visible
  }

  void on_connected(Context& ctx, NodeId peer) override {
    ctx.send_control(peer, Writer().u8(kHello).u64(seen_).take());
    for (const auto& [id, entry] : mirror_.outbox().entries()) ctx.send(peer, tagged_message(kOp, tagged(id)));
  }

  std::optional<State> state() const override { return mirror_.state(); }
  std::uint64_t metadata_bytes() const override { return 16 + mirror_.outbox().size() * sizeof(Tagged); }

 private:
  /// A pending write with its number in the session (kept as the outbox entry's base).
  Tagged tagged(OpId id) const {
    const Outbox::Entry& e = mirror_.outbox().entries().at(id);
    return Tagged{e.op, session_, e.base};
  }

  std::uint64_t session_ = 0;
  std::uint64_t sent_ = 0;  ///< writes numbered so far under session_
  /// The highest log position an update or snapshot has brought (a crash starts a new session: the
  /// view then comes from storage and the first snapshot, and may be older than before it).
  std::uint64_t seen_ = 0;
  ServerMirror mirror_;
};

/// One server instance: always an app instance; server 0 is the broker too.
class BrokerServer final : public Node {
 public:
  explicit BrokerServer(bool durable) : durable_(durable) {}

  void on_start(Context& ctx) override {
    load(ctx);
    ctx.set_timer(kRetryEvery, kRetryTimer);
    if (durable_ && !is_broker(ctx)) ctx.send_control(broker(ctx), Writer().u8(kResume).u64(position_ + 1).take());
  }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    switch (r.u8()) {
      case kOp: return on_client_write(ctx, from, r);
      case kPublish: return on_publish(ctx, from, r);
      case kResume: return on_resume(ctx, from, r);
      case kConfirm: return on_confirm(ctx, r);
      case kDeliver: return on_deliver(ctx, r);
      case kReplica: return on_replica(ctx, r);
      case kHello: return on_hello(ctx, from, r);
      default: return;
    }
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kRetryTimer) return;
    ctx.set_timer(kRetryEvery, kRetryTimer);
    if (is_broker(ctx)) return;
    for (const auto& [id, t] : unconfirmed_) ctx.send(broker(ctx), tagged_message(kPublish, t));
    if (durable_) ctx.send_control(broker(ctx), Writer().u8(kResume).u64(position_ + 1).take());
  }

  void on_connected(Context&, NodeId peer) override {
    // It says hello first; until its snapshot goes out it hears nothing (see the top).
    waiting_.erase(peer);
    ready_.erase(peer);
    held_acks_.erase(peer);
  }

  std::optional<State> state() const override { return to_state(fields_); }
  std::uint64_t metadata_bytes() const override {
    return log_.size() * sizeof(Entry) + marks_.size() * (4 + 8 + 8) + unconfirmed_.size() * sizeof(Tagged);
  }

 private:
  static bool is_broker(Context& ctx) { return ctx.self() == ctx.servers().front(); }
  static NodeId broker(Context& ctx) { return ctx.servers().front(); }

  // --- App instance ------------------------------------------------------------------------

  /// A client's hello: its snapshot now if this replica has reached the position the client has
  /// seen, else once it has (and the broker is asked for the rest at once).
  void on_hello(Context& ctx, NodeId from, Reader& r) {
    const std::uint64_t seen = r.u64();
    if (!r.ok() || is_server(ctx, from)) return;
    if (!durable_ || seen <= position_) {
      send_snapshot(ctx, from);
      return;
    }
    waiting_[from] = seen;
    if (!is_broker(ctx)) ctx.send_control(broker(ctx), Writer().u8(kResume).u64(position_ + 1).take());
  }

  void send_snapshot(Context& ctx, NodeId client) {
    Writer w;
    w.u8(kSnapshot).u64(position_);
    write_fields(w, fields_);
    ctx.send(client, w.take());
    ready_.insert(client);
    // Held acknowledgements are of writes at or before the position they were held at: this
    // snapshot, at a position no older, carries them.
    auto held = held_acks_.find(client);
    if (held == held_acks_.end()) return;
    for (OpId id : held->second) send_ack(ctx, client, id);
    held_acks_.erase(held);
  }

  /// Acknowledges a write to its client once that client's snapshot went out on this connection
  /// (see the top); before that, the acknowledgement waits for it. Called only once this replica
  /// has reached the write's log position.
  void send_ack(Context& ctx, NodeId client, OpId id) {
    if (!ctx.connected(client)) return;  // it resends the write after reconnecting
    if (!ready_.contains(client)) {
      std::vector<OpId>& held = held_acks_[client];
      if (held.size() < kHeldAcksMax) held.push_back(id);  // past the bound, the resend on the next connect
      return;
    }
    ctx.send_control(client, Writer().u8(kAck).u64(id.value).take());
  }

  /// Sends their snapshots to the clients waiting for this replica to reach what they have seen.
  void answer_waiting(Context& ctx) {
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->second > position_) {
        ++it;
        continue;
      }
      if (ctx.connected(it->first)) send_snapshot(ctx, it->first);
      it = waiting_.erase(it);
    }
  }

  static bool is_server(Context& ctx, NodeId node) {
    for (NodeId s : ctx.servers()) {
      if (s == node) return true;
    }
    return false;
  }

  void on_client_write(Context& ctx, NodeId from, Reader& r) {
    auto t = read_tagged(r);
    if (!t || t->op.client != from) return;
    if (is_broker(ctx)) return publish(ctx, ctx.self(), *t);
    unconfirmed_[t->op.id] = *t;
    ctx.send(broker(ctx), tagged_message(kPublish, *t));
  }

  /// The broker has the write, at or before log position `at`. The client hears it once this
  /// replica has reached `at` (durable broker): its update then went out first on the same
  /// connection, and the acknowledged write never leaves the client's view while the update is
  /// still on its way (a confirm can overtake the entry, which a replica catching up dropped).
  void on_confirm(Context& ctx, Reader& r) {
    const OpId id{r.u64()};
    const NodeId client{r.u32()};
    const std::uint64_t at = r.u64();
    if (!r.ok()) return;
    unconfirmed_.erase(id);
    if (durable_ && at > position_) {
      unanswered_.emplace(at, std::pair{client, id});
      return;
    }
    send_ack(ctx, client, id);
  }

  /// Acknowledges the confirmed writes this replica has now reached. A client that went away in
  /// the meantime resends its write and is acknowledged then.
  void answer_unanswered(Context& ctx) {
    while (!unanswered_.empty() && unanswered_.begin()->first <= position_) {
      const auto [client, id] = unanswered_.begin()->second;
      unanswered_.erase(unanswered_.begin());
      send_ack(ctx, client, id);
    }
  }

  void on_deliver(Context& ctx, Reader& r) {
    const std::uint32_t n = r.u32();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      const Entry e{r.u64(), KeyId{r.u32()}, OpId{r.u64()}};
      if (!r.ok()) return;
      if (durable_ && e.seq != position_ + 1) {
        // A gap: something was lost on the way (a restart). Ask for the rest from our position.
        if (e.seq > position_ + 1) ctx.send_control(broker(ctx), Writer().u8(kResume).u64(position_ + 1).take());
        if (e.seq > position_) return;
        continue;
      }
      apply(ctx, e);
    }
  }

  /// The broker's whole replica: our position was older than its log. Clients hear what changed.
  void on_replica(Context& ctx, Reader& r) {
    const std::uint64_t seq = r.u64();
    Fields fresh;
    if (!read_fields(r, fresh) || seq <= position_) return;
    // Every field first, then the waiting clients: a snapshot taken after the first changed field
    // would show the others as they were before, while claiming the replica's whole position.
    for (const auto& [key, value] : fresh) {
      auto it = fields_.find(key);
      if (it == fields_.end() || it->second != value) {
        keep(ctx, Entry{seq, key, value});
        announce(ctx, Entry{seq, key, value});
      }
    }
    position_ = seq;
    ctx.store().put("position", Writer().u64(position_).take());
    answer_waiting(ctx);
    answer_unanswered(ctx);
  }

  void apply(Context& ctx, const Entry& e) {
    keep(ctx, e);
    announce(ctx, e);
    answer_waiting(ctx);
    answer_unanswered(ctx);
  }

  /// Puts the entry in this instance's replica and its store (unflushed: see publish).
  void keep(Context& ctx, const Entry& e) {
    position_ = std::max(position_, e.seq);
    fields_[e.key] = e.value;
    ctx.store().put(numbered_key("replica/", e.key.value), Writer().u32(e.key.value).u64(e.value.value).take());
    ctx.store().put("position", Writer().u64(position_).take());
  }

  /// Pushes the entry to this instance's connected clients.
  void announce(Context& ctx, const Entry& e) {
    const std::string update = Writer().u8(kUpdate).u64(e.seq).u32(e.key.value).u64(e.value.value).take();
    for (NodeId client : ctx.clients()) {
      if (ctx.connected(client) && ready_.contains(client)) ctx.send(client, update);  // else its snapshot will
    }
  }

  // --- Broker (server 0 only) --------------------------------------------------------------

  void on_publish(Context& ctx, NodeId from, Reader& r) {
    auto t = read_tagged(r);
    if (!t || !is_broker(ctx)) return;
    publish(ctx, from, *t);
  }

  void publish(Context& ctx, NodeId instance, const Tagged& t) {
    const std::pair<std::uint32_t, std::uint64_t> session{t.op.client.value, t.session};
    std::uint64_t& mark = marks_[session];
    if (t.seq > mark + 1) return;  // an earlier write of the session is still on its way
    // A repeat's entry is somewhere in the log: at or before the newest.
    std::uint64_t at = seq_;
    if (t.seq == mark + 1) {
      mark = t.seq;
      const Entry e{++seq_, t.op.key, t.op.id};
      ctx.store().put(numbered_key("mark/", session.first, session.second),
                      Writer().u32(session.first).u64(session.second).u64(mark).take());
      if (durable_) append(ctx, e);
      ctx.store().put("seq", Writer().u64(seq_).take());
      // The broker's own app instance shares this store, and after a restart only the other
      // instances resume from the log: its replica record must be in this flush, or a crash that
      // loses unflushed writes takes a confirmed write out of its replica (and its clients' view).
      keep(ctx, e);
      ctx.store().flush();  // durable before it is confirmed or delivered
      fan_out(ctx, e);
      at = e.seq;
    }
    confirm(ctx, instance, t.op, at);
  }

  void append(Context& ctx, const Entry& e) {
    if (log_.empty()) log_start_ = e.seq;
    log_.push_back(e);
    ctx.store().put(numbered_key("log/", e.seq), Writer().u64(e.seq).u32(e.key.value).u64(e.value.value).take());
    if (log_.size() < kRetainedEntries + kTrimChunk) return;
    while (log_.size() > kRetainedEntries) {
      ctx.store().erase(numbered_key("log/", log_.front().seq));
      log_.pop_front();
    }
    log_start_ = log_.front().seq;
  }

  /// `at`: the write's log position (a repeat's: the newest, which is at or after it).
  void confirm(Context& ctx, NodeId instance, const Operation& op, std::uint64_t at) {
    if (instance == ctx.self()) {
      // The broker's own replica is the log: it has reached `at` already.
      send_ack(ctx, op.client, op.id);
      return;
    }
    ctx.send(instance, Writer().u8(kConfirm).u64(op.id.value).u32(op.client.value).u64(at).take());
  }

  void fan_out(Context& ctx, const Entry& e) {
    announce(ctx, e);  // the broker's own app instance, whose replica publish() already updated
    const std::string message = Writer().u8(kDeliver).u32(1).u64(e.seq).u32(e.key.value).u64(e.value.value).take();
    for (NodeId instance : ctx.servers()) {
      if (instance == ctx.self()) continue;
      // Pub/Sub delivers to the subscribers connected right now and forgets the message.
      if (!durable_ && !ctx.connected(instance)) continue;
      ctx.send(instance, message);
    }
  }

  void on_resume(Context& ctx, NodeId from, Reader& r) {
    const std::uint64_t from_seq = r.u64();
    if (!r.ok() || !durable_ || !is_broker(ctx) || from_seq == 0 || from_seq > seq_) return;
    Writer w;
    if (log_.empty() || from_seq < log_start_) {
      w.u8(kReplica).u64(seq_);
      write_fields(w, fields_);
      ctx.send(from, w.take());
      return;
    }
    w.u8(kDeliver).u32(static_cast<std::uint32_t>(seq_ - from_seq + 1));
    for (std::uint64_t s = from_seq; s <= seq_; ++s) {
      const Entry& e = log_[static_cast<std::size_t>(s - log_start_)];
      w.u64(e.seq).u32(e.key.value).u64(e.value.value);
    }
    ctx.send(from, w.take());
  }

  void load(Context& ctx) {
    for (const auto& [key, bytes] : ctx.store().scan("replica/")) {
      Reader r(bytes);
      const KeyId field{r.u32()};
      const OpId value{r.u64()};
      if (r.ok()) fields_[field] = value;
    }
    if (auto p = ctx.store().get("position")) position_ = Reader(*p).u64();
    if (auto s = ctx.store().get("seq")) seq_ = Reader(*s).u64();
    for (const auto& [key, bytes] : ctx.store().scan("mark/")) {
      Reader r(bytes);
      const std::uint32_t client = r.u32();
      const std::uint64_t session = r.u64();
      const std::uint64_t mark = r.u64();
      if (r.ok()) marks_[{client, session}] = mark;
    }
    for (const auto& [key, bytes] : ctx.store().scan("log/")) {
      Reader r(bytes);
      const Entry e{r.u64(), KeyId{r.u32()}, OpId{r.u64()}};
      if (!r.ok() || (!log_.empty() && e.seq != log_.back().seq + 1)) continue;
      if (log_.empty()) log_start_ = e.seq;
      log_.push_back(e);
    }
  }

  bool durable_;
  // App instance.
  Fields fields_;
  std::uint64_t position_ = 0;              ///< the last log entry applied (durable broker)
  std::map<OpId, Tagged> unconfirmed_;      ///< published, not yet confirmed by the broker
  std::map<NodeId, std::uint64_t> waiting_;  ///< clients whose hello named a position not yet reached
  std::set<NodeId> ready_;                   ///< clients sent their snapshot on their current connection
  std::map<NodeId, std::vector<OpId>> held_acks_;  ///< acknowledgements waiting for their client's snapshot
  /// Confirmed writes whose log position this replica has not reached: position -> (client, write).
  std::multimap<std::uint64_t, std::pair<NodeId, OpId>> unanswered_;
  // Broker.
  std::uint64_t seq_ = 0;
  std::map<std::pair<std::uint32_t, std::uint64_t>, std::uint64_t> marks_;  ///< (client, session) -> last seq
  std::deque<Entry> log_;                   ///< durable broker: the retained entries, oldest first
  std::uint64_t log_start_ = 1;             ///< the seq of log_.front()
};

ModelInfo make(std::string name, std::string description, bool durable) {
  return ModelInfo{
      .name = std::move(name),
      .description = std::move(description),
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::server_order,
      .breaks = durable ? std::nullopt : std::optional<Invariant>(Invariant::convergence),
      .make_client = [](NodeId) { return std::make_unique<BrokerClient>(); },
      .make_server = [durable](NodeId) { return std::make_unique<BrokerServer>(durable); },
      .multi_server = true,  // server instances fan out through the broker
      // Its metadata may grow with the writes on the server only: the broker retains its newest log
      // entries, one per write up to its retention limit.
      // Writes follow reads: every change reaches clients through one ordered broker stream.
      .writes_follow_reads = OrderPromise::promised,
      .writes_in_order = OrderPromise::promised,
      .metadata_growth = MetadataGrowth::server_keeps_writes,
  };
}

}  // namespace

ModelInfo broker_map_model() {
  return make("broker-map",
              "server instances fan out through a durable broker log with replay (Redis Streams, JetStream)", true);
}

ModelInfo broker_map_at_most_once_model() {
  return make("broker-map-at-most-once",
              "server instances fan out through at-most-once pub/sub (Redis Pub/Sub, core NATS): messages to a "
              "disconnected instance are lost",
              false);
}

}  // namespace syncstorm
