// guarded-map: a server-ordered map whose server validates every mutation that arrives over a
// client's WebSocket, as the article asks ("ensure that the server validates every state mutation,
// even if it came from a WebSocket ... malicious clients could send malformed operations that
// corrupt state for other users").
//
// The attacker is built in: the first client (in node order) is a real user whose own edits are
// honest, but every 300 ms it also sends one hostile message, drawn from its own random stream:
// - malformed bytes (random garbage, or a truncated operation);
// - an operation of the wrong data type (a list add sent to a map);
// - a forged identity: an operation claiming another client as its author, with an id no user issued;
// - an oversized message (a valid operation followed by 256 KB of padding);
// - a write to a server-owned field (keys from kServerOwnedKeys up: settings no user may change).
// The attacks only use what the wire allows, so any model can copy craft_attack() to test its own
// server. Honest clients apply only what their server sends them.
//
// guarded-map's server rejects all of it (size limit, strict decoding, kind, author = the connection's
// authenticated client, ownership) and every honest replica stays correct. guarded-map-trusting's
// server trusts its clients: it applies whatever decodes and relays the message as it came, so forged
// values reach every replica and the checkers report phantom values.
#include <map>
#include <set>
#include <string>

#include <fmt/format.h>

#include "models/kit/applied_fields.hpp"
#include "models/kit/fields.hpp"
#include "models/model.hpp"
#include "models/kit/outbox.hpp"
#include "models/kit/server_mirror.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {
namespace {

enum Tag : std::uint8_t { kOp = 1, kAck = 2, kSnapshot = 3, kUpdate = 4 };

constexpr Duration kAttackEvery = Duration::millis(300);
constexpr std::uint64_t kAttackTimer = 1;
/// Fields from this key up belong to the server (permissions, global settings).
constexpr std::uint32_t kServerOwnedKeys = 1'000'000;
/// The largest message a validating server accepts, in bytes.
constexpr std::size_t kMaxMessageBytes = 4'096;
constexpr std::size_t kOversizedBytes = 256 * 1'024;
/// Forged operation ids start here, far above any id a run issues.
constexpr std::uint64_t kForgedIdBase = 1ULL << 40;

std::string op_message(const Operation& op) { return Writer().u8(kOp).bytes(op.encode()).take(); }

/// One hostile message from `self`, built from its last honest operation `model` (whose id is real).
std::string craft_attack(Rng& rng, NodeId self, std::span<const NodeId> clients, const Operation& model,
                         std::uint64_t forged_serial) {
  Operation forged = model;
  forged.id = OpId{kForgedIdBase + forged_serial};
  switch (rng.below(6)) {
    case 0: {  // garbage
      std::string junk(static_cast<std::size_t>(rng.between(1, 64)), '\0');
      for (char& c : junk) c = static_cast<char>(rng.below(256));
      return junk;
    }
    case 1: {  // a truncated operation
      std::string whole = op_message(forged);
      return whole.substr(0, static_cast<std::size_t>(rng.below(whole.size())));
    }
    case 2:  // the wrong data type
      forged.kind = OpKind::list_add;
      return op_message(forged);
    case 3:  // a forged author
      forged.client = clients[static_cast<std::size_t>(rng.below(clients.size()))];
      if (forged.client == self) forged.client = NodeId{self.value + 1};
      return op_message(forged);
    case 4:  // oversized
      return Writer().u8(kOp).bytes(forged.encode()).bytes(std::string(kOversizedBytes, 'x')).take();
    default:  // a server-owned field, written with one of the attacker's own real ids
      Operation owned = model;
      owned.key = KeyId{kServerOwnedKeys + static_cast<std::uint32_t>(rng.below(4))};
      return op_message(owned);
  }
}

class GuardedClient final : public Node {
 public:
  void on_start(Context& ctx) override {
    attacker_ = !ctx.clients().empty() && ctx.clients().front() == ctx.self();
    if (attacker_) ctx.set_timer(kAttackEvery, kAttackTimer);
    mirror_.restore(ctx);
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::map_set) return;
    mirror_.write(ctx, op);
    last_ = op;
    if (auto server = ctx.connected_server()) ctx.send(*server, op_message(op));
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kAttackTimer) return;
    ctx.set_timer(kAttackEvery, kAttackTimer);
    auto server = ctx.connected_server();
    if (!server || !last_) return;
    ctx.send(*server, craft_attack(ctx.rng(), ctx.self(), ctx.clients(), *last_, ++forged_));
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      mirror_.read_ack(ctx, r);
    } else if (tag == kUpdate) {
      if (!mirror_.read_update(ctx, r)) return;
    } else if (tag == kOp) {
      // A trusting server relays client messages as they came.
      auto op = Operation::decode(r.bytes());
      if (!r.ok() || !op) return;
      mirror_.update(ctx, op->key, op->id);
    } else if (tag == kSnapshot) {
      if (!mirror_.read_snapshot(ctx, r, false)) return;
    }
    mirror_.refresh();
  }

  void on_connected(Context& ctx, NodeId peer) override {
    for (const auto& [id, entry] : mirror_.outbox().entries()) ctx.send(peer, op_message(entry.op));
  }

  std::optional<State> state() const override { return mirror_.state(); }
  std::uint64_t metadata_bytes() const override { return mirror_.outbox().size() * sizeof(Operation); }

 private:
  bool attacker_ = false;
  std::optional<Operation> last_;
  std::uint64_t forged_ = 0;
  ServerMirror mirror_;
};

class GuardedServer final : public Node {
 public:
  explicit GuardedServer(bool validate) : validate_(validate) {}

  void on_start(Context& ctx) override { state_.restore(ctx); }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    if (validate_ && payload.size() > kMaxMessageBytes) return;
    Reader r(payload);
    if (r.u8() != kOp) return;
    auto op = Operation::decode(r.bytes());
    if (!r.ok() || !op) return;
    if (validate_ && !acceptable(*op, from, r)) return;
    if (state_.apply(ctx, *op)) {
      ctx.store().flush();  // durable before anyone hears of it
      // The trusting server relays what it got; the validating one sends only what it checked.
      const std::string update = validate_ ? Writer().u8(kUpdate).u32(op->key.value).u64(op->id.value).take()
                                           : std::string(payload);
      for (NodeId client : ctx.clients()) {
        if (ctx.connected(client)) ctx.send(client, update);
      }
    }
    ctx.send_control(from, Writer().u8(kAck).u64(op->id.value).take());
  }

  void on_connected(Context& ctx, NodeId peer) override { ctx.send(peer, fields_message(kSnapshot, state_.fields())); }

  std::optional<State> state() const override { return to_state(state_.fields()); }
  std::uint64_t metadata_bytes() const override { return state_.metadata_bytes(); }

 private:
  /// The checks a server owes every mutation: nothing after the operation, the right data type, the
  /// author is the authenticated sender, a real id, and a field users may write.
  static bool acceptable(const Operation& op, NodeId from, const Reader& rest) {
    return rest.at_end() && op.kind == OpKind::map_set && op.client == from && op.id.valid() &&
           op.key.value < kServerOwnedKeys;
  }

  bool validate_;
  AppliedFields state_;
};

ModelInfo make(std::string name, std::string description, bool validate) {
  return ModelInfo{
      .name = std::move(name),
      .description = std::move(description),
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::server_order,
      .breaks = validate ? std::nullopt : std::optional<Invariant>(Invariant::phantom_or_double_applied),
      .make_client = [](NodeId) { return std::make_unique<GuardedClient>(); },
      .make_server = [validate](NodeId) { return std::make_unique<GuardedServer>(validate); },
      // Writes follow reads: one server applies and pushes every write in one order.
      .writes_follow_reads = OrderPromise::promised,
      .writes_in_order = OrderPromise::promised,
  };
}

}  // namespace

ModelInfo guarded_map_model() {
  return make("guarded-map",
              "server-ordered map whose server validates every mutation; client 0 is a built-in attacker", true);
}

ModelInfo guarded_map_trusting_model() {
  return make("guarded-map-trusting",
              "guarded-map whose server trusts its clients: client 0's forged writes reach every replica", false);
}

}  // namespace syncstorm
