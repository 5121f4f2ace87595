// pn-counter: a state-based PN-counter CRDT synced through a relay server. A client applies an
// increment to its own totals at once and sends those totals (not the delta) to its server; the
// server merges by pointwise maximum, stores, answers with the merged totals and relays what grew.
// Resends after a lost answer are harmless because merge is idempotent. An increment is
// acknowledged once totals the server returned include it.
#include "models/crdt/pn_counter.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include "models/model.hpp"

namespace syncstorm {
namespace pn {

void Counter::add(std::uint64_t replica, std::int64_t amount) {
  Totals& t = replicas[replica];
  if (amount >= 0) t.added += static_cast<std::uint64_t>(amount);
  else t.subtracted += std::uint64_t{0} - static_cast<std::uint64_t>(amount);  // no negation: -INT64_MIN overflows
}

bool Counter::raise(std::uint64_t replica, const Totals& totals) {
  Totals& t = replicas[replica];
  const Totals before = t;
  t.added = std::max(t.added, totals.added);
  t.subtracted = std::max(t.subtracted, totals.subtracted);
  return !(t == before);
}

bool Counter::merge(const Counter& other) {
  bool grew = false;
  for (const auto& [replica, totals] : other.replicas) grew = raise(replica, totals) || grew;
  return grew;
}

bool Counter::includes(std::uint64_t replica, const Totals& totals) const {
  auto it = replicas.find(replica);
  if (it == replicas.end()) return totals.added == 0 && totals.subtracted == 0;
  return it->second.added >= totals.added && it->second.subtracted >= totals.subtracted;
}

std::int64_t Counter::value() const {
  // Unsigned sums wrap identically everywhere; the difference is the counter's value.
  std::uint64_t added = 0;
  std::uint64_t subtracted = 0;
  for (const auto& [replica, totals] : replicas) {
    added += totals.added;
    subtracted += totals.subtracted;
  }
  return static_cast<std::int64_t>(added - subtracted);
}

std::uint64_t Counter::metadata_bytes() const { return replicas.size() * (sizeof(std::uint64_t) + sizeof(Totals)); }

void Counter::encode(Writer& w) const {
  w.u32(static_cast<std::uint32_t>(replicas.size()));
  for (const auto& [replica, totals] : replicas) w.u64(replica).u64(totals.added).u64(totals.subtracted);
}

std::optional<Counter> Counter::decode(Reader& r) {
  Counter c;
  const std::uint32_t n = r.u32();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    const std::uint64_t replica = r.u64();
    const Totals totals{r.u64(), r.u64()};
    c.raise(replica, totals);
  }
  if (!r.ok()) return std::nullopt;
  return c;
}

}  // namespace pn

namespace {

using pn::Counter;
using pn::Totals;

/// Nearly every message is a set of replica totals: a client's own, a server's answer, a relay or a
/// full state. One format keeps the decoding surface small.
constexpr std::uint8_t kTotals = 1;
/// Client -> server every period: u64 digest of the client's state. A server holding something else
/// answers with its full state; this repairs relays lost on datagram links, which have no
/// connection event to trigger a catch-up.
constexpr std::uint8_t kSync = 2;
constexpr std::uint64_t kTimer = 1;
/// How often a client resends unacknowledged totals, and servers exchange their state.
constexpr Duration kPeriod = Duration::seconds(1);
/// A client sends its digest at least every this many periods, even while relays keep arriving.
constexpr std::uint64_t kSyncEvery = 5;

/// The newest increment a set of totals carries and who made it. Totals say nothing about which
/// operations they include; this optional trailer lets a replica report a remote operation `seen`
/// for the latency figures (the newest one only: increments merged together are not named).
struct Newest {
  OpId op;
  std::uint32_t writer = 0;
};

std::string encode_totals(const Counter& counter, std::optional<Newest> newest = std::nullopt) {
  Writer w;
  w.u8(kTotals);
  counter.encode(w);
  if (newest && newest->op.valid()) w.u64(newest->op.value).u32(newest->writer);
  return w.take();
}

/// Reads the optional trailer after the totals; nullopt when absent or malformed.
std::optional<Newest> read_newest(Reader& r) {
  if (r.at_end()) return std::nullopt;
  Newest n;
  n.op = OpId{r.u64()};
  n.writer = r.u32();
  if (!r.ok() || !n.op.valid()) return std::nullopt;
  return n;
}

std::uint64_t digest(const Counter& counter) {
  Writer w;
  counter.encode(w);
  return fnv1a64(w.take());
}

std::optional<Counter> decode_totals(Reader& r) {
  if (r.u8() != kTotals || !r.ok()) return std::nullopt;
  return Counter::decode(r);
}

struct Pending {
  OpId op;
  Totals needed;  ///< this replica's totals just after the increment was applied
};

class PnClient final : public Node {
 public:
  void on_start(Context& ctx) override {
    restore(ctx);
    if (replica_ == 0) {
      replica_ = (std::uint64_t{ctx.self().value} << 32) | (ctx.rng().next() & 0xffffffffULL);
      persist(ctx);
    }
    ctx.set_timer(kPeriod, kTimer);
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::counter_add) return;
    counter_.add(replica_, op.amount);
    newest_ = op.id;
    pending_.push_back(Pending{op.id, counter_.replicas[replica_]});
    persist(ctx);
    ctx.report(op.id, Lifecycle::applied);
    if (auto server = ctx.connected_server()) send_own(ctx, *server);
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    auto incoming = decode_totals(r);
    if (!incoming) return;
    heard_ = true;
    if (const auto newest = read_newest(r); newest && newest->writer != ctx.self().value) {
      ctx.report(newest->op, Lifecycle::seen);
    }
    counter_.merge(*incoming);
    // Only totals the server sent count as saved: the server stored them before sending.
    bool acknowledged = false;
    while (!pending_.empty() && incoming->includes(replica_, pending_.front().needed)) {
      ctx.report(pending_.front().op, Lifecycle::acknowledged);
      pending_.erase(pending_.begin());
      acknowledged = true;
    }
    if (acknowledged) persist(ctx);
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTimer) return;
    ++ticks_;
    if (auto server = ctx.connected_server()) {
      if (!pending_.empty()) send_own(ctx, *server);
      // While relays keep arriving the digests differ anyway (some are in flight), and a full state
      // per client per period would dominate the traffic: sync when the server has gone quiet, and
      // every kSyncEvery periods regardless.
      if (!heard_ || ticks_ % kSyncEvery == 0) ctx.send_control(*server, Writer().u8(kSync).u64(digest(counter_)).take());
    }
    heard_ = false;
    ctx.set_timer(kPeriod, kTimer);
  }

  /// Always sent on connect: a server that lost its state relearns this replica's totals from it.
  void on_connected(Context& ctx, NodeId peer) override { send_own(ctx, peer); }

  std::optional<State> state() const override {
    State s;
    s.type = DataType::counter;
    s.counter = counter_.value();
    return s;
  }
  std::uint64_t metadata_bytes() const override {
    return counter_.metadata_bytes() + pending_.size() * sizeof(Pending);
  }

 private:
  void send_own(Context& ctx, NodeId server) {
    Counter own;
    own.raise(replica_, counter_.replicas[replica_]);
    ctx.send(server, encode_totals(own, Newest{newest_, ctx.self().value}));
  }

  /// Stores what only this replica knows: its id, its own totals and its pending increments. The
  /// other replicas' totals come back from the server's catch-up after a restart.
  void persist(Context& ctx) {
    Writer w;
    const Totals& own = counter_.replicas[replica_];
    w.u64(replica_).u64(own.added).u64(own.subtracted);
    w.u32(static_cast<std::uint32_t>(pending_.size()));
    for (const Pending& p : pending_) w.u64(p.op.value).u64(p.needed.added).u64(p.needed.subtracted);
    ctx.store().put("pn/client", w.take());
    ctx.store().flush();
  }

  void restore(Context& ctx) {
    const auto saved = ctx.store().get("pn/client");
    if (!saved) return;
    Reader r(*saved);
    const std::uint64_t replica = r.u64();
    const Totals own{r.u64(), r.u64()};
    std::vector<Pending> pending;
    const std::uint32_t n = r.u32();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) pending.push_back(Pending{OpId{r.u64()}, Totals{r.u64(), r.u64()}});
    if (!r.ok()) return;  // a corrupt store is treated as empty: a fresh replica
    replica_ = replica;
    counter_.raise(replica_, own);
    pending_ = std::move(pending);
  }

  std::uint64_t replica_ = 0;
  Counter counter_;
  std::vector<Pending> pending_;  ///< applied, not yet in totals the server returned; oldest first
  OpId newest_;                   ///< the newest increment made here since this node started
  bool heard_ = false;            ///< a server message arrived since the last timer tick
  std::uint64_t ticks_ = 0;       ///< timer ticks since this node started
};

class PnServer final : public Node {
 public:
  void on_start(Context& ctx) override {
    if (const auto saved = ctx.store().get("pn/server")) {
      Reader r(*saved);
      if (auto counter = Counter::decode(r)) counter_ = std::move(*counter);
    }
    ctx.set_timer(kPeriod, kTimer);  // anti-entropy; it sends nothing while this is the only server
  }


  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader sync(payload);
    if (sync.u8() == kSync) {
      const std::uint64_t theirs = sync.u64();
      if (sync.ok() && theirs != digest(counter_)) ctx.send(from, encode_totals(counter_));
      return;
    }
    Reader r(payload);
    auto incoming = decode_totals(r);
    if (!incoming) return;
    const bool from_server = is_server(ctx, from);
    std::optional<Newest> newest = read_newest(r);
    // A client names only its own increments; anything else in the trailer is ignored.
    if (newest && !from_server && newest->writer != from.value) newest.reset();
    Counter grown;
    for (const auto& [replica, totals] : incoming->replicas) {
      if (counter_.raise(replica, totals)) grown.raise(replica, counter_.replicas[replica]);
    }
    if (!grown.replicas.empty()) persist(ctx);  // durable before the answer acknowledges it
    if (!from_server) ctx.send(from, encode_totals(answer_for(*incoming)));
    if (grown.replicas.empty()) return;
    const std::string relay = encode_totals(grown, newest);
    for (NodeId client : ctx.clients()) {
      if (client != from && ctx.connected(client)) ctx.send(client, relay);
    }
    if (from_server) return;
    for (NodeId server : ctx.servers()) {
      if (server != ctx.self()) ctx.send(server, relay);
    }
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTimer) return;
    const std::string state = encode_totals(counter_);
    for (NodeId server : ctx.servers()) {
      if (server != ctx.self()) ctx.send(server, state);
    }
    ctx.set_timer(kPeriod, kTimer);
  }

  void on_connected(Context& ctx, NodeId peer) override { ctx.send(peer, encode_totals(counter_)); }

  std::optional<State> state() const override {
    State s;
    s.type = DataType::counter;
    s.counter = counter_.value();
    return s;
  }
  std::uint64_t metadata_bytes() const override { return counter_.metadata_bytes(); }

 private:
  static bool is_server(const Context& ctx, NodeId node) {
    for (NodeId s : ctx.servers()) {
      if (s == node) return true;
    }
    return false;
  }

  /// The server's totals for the replicas a client sent: its acknowledgement.
  Counter answer_for(const Counter& incoming) const {
    Counter answer;
    for (const auto& [replica, totals] : incoming.replicas) answer.raise(replica, counter_.replicas.at(replica));
    return answer;
  }

  void persist(Context& ctx) {
    Writer w;
    counter_.encode(w);
    ctx.store().put("pn/server", w.take());
    ctx.store().flush();
  }

  Counter counter_;
};

}  // namespace

ModelInfo pn_counter_model() {
  ModelInfo info;
  info.name = "pn-counter";
  info.description = "state-based PN-counter CRDT (per-replica totals, merge by maximum) relayed by a server";
  info.data_type = DataType::counter;
  info.topology = Topology::client_server;
  info.rule = SupersedeRule::last_writer_wins;  // unused: increments never supersede one another
  info.make_client = [](NodeId) { return std::make_unique<PnClient>(); };
  info.make_server = [](NodeId) { return std::make_unique<PnServer>(); };
  // State-based: totals merge by maximum, so a lost, repeated or late message changes nothing, and
  // digests repair what was lost (the datagram-relay scenario holds it to it).
  info.datagram_links = true;
  info.multi_server = true;  // servers merge each other's totals
  return info;
}

}  // namespace syncstorm
