// p2p-lww-map: a last-writer-wins map CRDT whose replicas talk peer to peer over WebRTC unreliable
// data channels ("consider WebRTC for peer-to-peer data channels when latency is critical and the
// server is not the source of truth"). Servers, if a scenario has any, only signal: this model sends
// them nothing. Datagrams may be lost, duplicated and reordered.
//
// Each field holds (Lamport timestamp, writer, value); a merge keeps the larger (timestamp, writer),
// so merging is commutative, associative and idempotent, and duplicates or reordering do no harm.
// Every datagram carries the sender's Lamport clock, which the receiver adopts if larger: a write
// made after seeing another one gets a larger timestamp and wins over it, as last-writer-wins
// promises. A write is sent at once to every peer as a one-field delta; loss is repaired by
// anti-entropy: every 500 ms a replica sends its whole state to one random peer, which merges it and
// answers with its own state when it knows something the sender did not.
//
// p2p-lww-map-no-gossip sends the deltas only. Under loss some replicas never hear some writes, and
// the checkers report divergence.
#include <string>

#include <boost/container/flat_map.hpp>

#include "models/kit/store_keys.hpp"
#include "models/model.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {
namespace {

enum Tag : std::uint8_t { kDelta = 1, kPush = 2, kReply = 3 };

constexpr Duration kGossipEvery = Duration::millis(500);
constexpr std::uint64_t kGossipTimer = 1;

struct Stamp {
  std::uint64_t lamport = 0;
  std::uint32_t writer = 0;
  OpId value;
  auto operator<=>(const Stamp&) const = default;
};

// Sorted in one block: a push carries the whole register, which the receiver reads in key order.
using Register = boost::container::flat_map<KeyId, Stamp>;

class Peer final : public Node {
 public:
  explicit Peer(bool gossip) : gossip_(gossip) {}

  void on_start(Context& ctx) override {
    if (gossip_) ctx.set_timer(kGossipEvery, kGossipTimer);
    // A reloaded tab finds its replica in IndexedDB, its own unsent writes included.
    if (auto clock = ctx.store().get("p2p/clock")) clock_ = Reader(*clock).u64();
    for (const auto& [name, record] : ctx.store().scan("p2p/field/")) {
      Reader r(record);
      const KeyId key{r.u32()};
      Stamp s{r.u64(), r.u32(), OpId{r.u64()}};
      if (r.ok()) fields_[key] = s;
    }
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::map_set) return;
    const Stamp stamp{++clock_, ctx.self().value, op.id};
    fields_[op.key] = stamp;
    store_field(ctx, op.key, stamp);
    persist_clock(ctx);  // durable before the user sees it applied
    ctx.report(op.id, Lifecycle::applied);
    Writer w;
    w.u8(kDelta).u64(clock_).u32(1);
    write_entry(w, op.key, stamp);
    const std::string delta = w.take();
    for (NodeId peer : ctx.clients()) {
      if (peer != ctx.self()) ctx.send(peer, delta);
    }
  }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag != kDelta && tag != kPush && tag != kReply) return;
    const std::uint64_t their_clock = r.u64();
    const std::uint32_t n = r.u32();
    Register incoming;
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      const KeyId key{r.u32()};
      Stamp s{r.u64(), r.u32(), OpId{r.u64()}};
      incoming[key] = s;
    }
    if (!r.ok()) return;
    const std::uint64_t clock_before = clock_;
    clock_ = std::max(clock_, their_clock);
    const bool they_lack = merge(ctx, incoming);
    if (stored_ || clock_ != clock_before) persist_clock(ctx);
    // Push-pull: answer a push when the pusher is behind us on some field.
    if (tag == kPush && they_lack) ctx.send(from, encode(kReply));
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kGossipTimer) return;
    ctx.set_timer(kGossipEvery, kGossipTimer);
    const auto peers = ctx.clients();
    if (peers.size() < 2) return;
    NodeId peer = peers[static_cast<std::size_t>(ctx.rng().below(peers.size() - 1))];
    if (peer >= ctx.self()) peer = NodeId{peer.value + 1};  // any peer but ourselves, uniformly
    ctx.send(peer, encode(kPush));
  }

  std::optional<State> state() const override {
    State s;
    s.type = DataType::map;
    for (const auto& [key, stamp] : fields_) s.fields.emplace_back(key, stamp.value);
    return s;
  }
  std::uint64_t metadata_bytes() const override { return 8 + fields_.size() * (8 + 4); }

 private:
  static void write_entry(Writer& w, KeyId key, const Stamp& s) {
    w.u32(key.value).u64(s.lamport).u32(s.writer).u64(s.value.value);
  }

  std::string encode(Tag tag) const {
    Writer w;
    w.u8(tag).u64(clock_).u32(static_cast<std::uint32_t>(fields_.size()));
    for (const auto& [key, stamp] : fields_) write_entry(w, key, stamp);
    return w.take();
  }

  /// Merges `incoming`; returns whether we hold a field the sender lacks or has older.
  bool merge(Context& ctx, const Register& incoming) {
    for (const auto& [key, theirs] : incoming) {
      Stamp& mine = fields_[key];
      if (mine < theirs) {
        if (mine.value != theirs.value) ctx.report(theirs.value, Lifecycle::seen);
        mine = theirs;
        store_field(ctx, key, mine);
      }
    }
    for (const auto& [key, mine] : fields_) {
      auto it = incoming.find(key);
      if (it == incoming.end() || it->second < mine) return true;
    }
    return false;
  }

  /// One store record per field, written when the field changes; flushed with the clock.
  void store_field(Context& ctx, KeyId key, const Stamp& s) {
    Writer w;
    write_entry(w, key, s);
    ctx.store().put(numbered_key("p2p/field/", key.value), w.take());
    stored_ = true;
  }
  void persist_clock(Context& ctx) {
    ctx.store().put("p2p/clock", Writer().u64(clock_).take());
    ctx.store().flush();
    stored_ = false;
  }

  bool gossip_;
  bool stored_ = false;      ///< field records written since the last flush
  std::uint64_t clock_ = 0;  ///< Lamport clock: larger than every timestamp seen
  Register fields_;
};

/// A signalling server: it introduces peers in a real deployment and holds no state here; peers
/// never send it anything.
class SignalServer final : public Node {
 public:
  void on_start(Context&) override {}
  void on_message(Context&, NodeId, std::string_view) override {}
  std::optional<State> state() const override { return std::nullopt; }
};

ModelInfo make(std::string name, std::string description, bool gossip) {
  return ModelInfo{
      .name = std::move(name),
      .description = std::move(description),
      .data_type = DataType::map,
      .topology = Topology::peer_to_peer,
      .rule = SupersedeRule::last_writer_wins,
      .breaks = gossip ? std::nullopt : std::optional<Invariant>(Invariant::convergence),
      .make_client = [gossip](NodeId) { return std::make_unique<Peer>(gossip); },
      .make_server = [](NodeId) { return std::make_unique<SignalServer>(); },
      .datagram_links = true,
  };
}

}  // namespace

ModelInfo p2p_lww_map_model() {
  return make("p2p-lww-map",
              "peer-to-peer LWW map CRDT over lossy WebRTC datagrams, with push-pull anti-entropy", true);
}

ModelInfo p2p_lww_map_no_gossip_model() {
  return make("p2p-lww-map-no-gossip",
              "p2p-lww-map sending one-shot deltas only: loss leaves replicas diverged", false);
}

}  // namespace syncstorm
