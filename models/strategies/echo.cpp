// echo: the smallest strategy that syncs a map through a server, and the template for a new model:
// copy this file, give the model a name in models/registry.cpp, and change what your strategy does
// differently. It is built from the kit (models/kit/): the client is a ServerMirror (the server's
// state, its unanswered writes in a durable Outbox, and the view of both), the server keeps its
// fields and a mark per client in AppliedFields, and both speak the map's wire form (write_fields /
// read_fields).
//
// Clients apply locally and send; the server applies in arrival order, acknowledges, and echoes its
// whole state to everyone; a client shows the server's state with its own unacknowledged writes
// replayed on top.
#include <string>

#include "models/kit/applied_fields.hpp"
#include "models/kit/fields.hpp"
#include "models/kit/server_mirror.hpp"
#include "models/model.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {
namespace {

enum Tag : std::uint8_t { kOp = 1, kAck = 2, kState = 3 };

std::string encode_op(const Operation& op) { return Writer().u8(kOp).bytes(op.encode()).take(); }

std::string encode_state(const Fields& fields) { return fields_message(kState, fields); }

class EchoClient final : public Node {
 public:
  // A reloaded tab finds its unsent writes in IndexedDB and shows them again.
  void on_start(Context& ctx) override { mirror_.restore(ctx); }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::map_set) return;
    mirror_.write(ctx, op);  // durable before the user sees it applied
    if (auto server = ctx.connected_server()) ctx.send(*server, encode_op(op));
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      mirror_.read_ack(ctx, r);
    } else if (tag == kState && mirror_.read_snapshot(ctx, r, true)) {
      mirror_.refresh();  // pending writes stay visible
    }
    // An acknowledgement changes nothing the user sees: the write stays shown until the state
    // that the server sends right after it arrives.
  }

  void on_connected(Context& ctx, NodeId peer) override {
    // Oldest first, as the user made them: the server's marks rely on that order.
    for (const auto& [id, entry] : mirror_.outbox().entries()) ctx.send(peer, encode_op(entry.op));
  }

  std::optional<State> state() const override { return mirror_.state(); }
  std::uint64_t metadata_bytes() const override { return mirror_.outbox().size() * sizeof(Operation); }

 private:
  ServerMirror mirror_;
};

class EchoServer final : public Node {
 public:
  // A restarted server reloads its durable state: the fields and the marks.
  void on_start(Context& ctx) override { state_.restore(ctx); }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    if (r.u8() != kOp) return;
    auto op = Operation::decode(r.bytes());
    if (!r.ok() || !op || op->kind != OpKind::map_set) return;
    // Durable before acknowledged: an ack for a write a crash can lose would be a lie. A resend
    // is acknowledged again without being applied again.
    if (state_.apply(ctx, *op)) ctx.store().flush();
    ctx.send_control(from, Writer().u8(kAck).u64(op->id.value).take());
    const std::string state = encode_state(state_.fields());
    for (NodeId client : ctx.clients()) {
      if (ctx.connected(client)) ctx.send(client, state);
    }
  }

  void on_connected(Context& ctx, NodeId peer) override { ctx.send(peer, encode_state(state_.fields())); }

  std::optional<State> state() const override { return to_state(state_.fields()); }
  std::uint64_t metadata_bytes() const override { return state_.metadata_bytes(); }

 private:
  AppliedFields state_;
};

}  // namespace

ModelInfo echo_model() {
  return ModelInfo{
      .name = "echo",
      .description = "trivial server-ordered map: the server echoes its whole state after every write",
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::server_order,
      .breaks = std::nullopt,
      .make_client = [](NodeId) { return std::make_unique<EchoClient>(); },
      .make_server = [](NodeId) { return std::make_unique<EchoServer>(); },
      // Writes follow reads: one server applies every write in arrival order and echoes its whole state.
      .writes_follow_reads = OrderPromise::promised,
      .writes_in_order = OrderPromise::promised,
  };
}

}  // namespace syncstorm
