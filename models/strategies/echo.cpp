// echo: the smallest strategy that syncs a map through a server, used to run the engine end to end
// and as the template for a new model. Clients apply locally and send; the server applies in arrival
// order, acknowledges, and echoes its whole state to everyone; a client shows the server's state with
// its own unacknowledged operations replayed on top.
#include <map>
#include <string>

#include "models/kit/client_marks.hpp"
#include "models/kit/fields.hpp"
#include "models/model.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {
namespace {

enum Tag : std::uint8_t { kOp = 1, kAck = 2, kState = 3 };

std::string encode_state(const Fields& fields) {
  Writer w;
  w.u8(kState);
  write_fields(w, fields);
  return w.take();
}

/// Store keys: one per unacknowledged operation, so a reload (crash with persistence) keeps them.
std::string outbox_key(OpId id) { return "outbox/" + std::to_string(id.value); }

class EchoClient final : public Node {
 public:
  void on_start(Context& ctx) override {
    // A reloaded tab finds its unsent writes in IndexedDB and shows them again.
    for (const auto& [key, bytes] : ctx.store().scan("outbox/")) {
      if (auto op = Operation::decode(bytes)) {
        outbox_[op->id] = *op;
        shown_[op->key] = op->id;
      }
    }
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    shown_[op.key] = op.id;
    outbox_[op.id] = op;
    ctx.store().put(outbox_key(op.id), op.encode());
    ctx.store().flush();
    ctx.report(op.id, Lifecycle::applied);
    if (auto server = ctx.connected_server()) ctx.send(*server, Writer().u8(kOp).bytes(op.encode()).take());
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      const OpId id{r.u64()};
      if (r.ok() && outbox_.erase(id) > 0) {
        ctx.store().erase(outbox_key(id));
        ctx.report(id, Lifecycle::acknowledged);
      }
    } else if (tag == kState) {
      Fields server;
      const std::uint32_t n = r.u32();
      for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        const KeyId key{r.u32()};
        server[key] = OpId{r.u64()};
      }
      if (!r.ok()) return;
      for (const auto& [key, value] : server) {
        auto it = shown_.find(key);
        if (it == shown_.end() || it->second != value) ctx.report(value, Lifecycle::seen);
      }
      shown_ = std::move(server);
      for (const auto& [id, op] : outbox_) shown_[op.key] = id;  // pending writes stay visible
    }
  }

  void on_connected(Context& ctx, NodeId peer) override {
    for (const auto& [id, op] : outbox_) ctx.send(peer, Writer().u8(kOp).bytes(op.encode()).take());
  }

  std::optional<State> state() const override { return to_state(shown_); }
  std::uint64_t metadata_bytes() const override { return outbox_.size() * sizeof(Operation); }

 private:
  Fields shown_;
  std::map<OpId, Operation> outbox_;  ///< applied here, not yet acknowledged by the server
};

class EchoServer final : public Node {
 public:
  void on_start(Context& ctx) override {
    // A restarted server reloads its durable state: every applied operation, replayed in order.
    for (const auto& [key, bytes] : ctx.store().scan("log/")) {
      if (auto op = Operation::decode(bytes)) {
        marks_.note(op->client, op->id);
        fields_[op->key] = op->id;
        ++log_length_;
      }
    }
  }
  void on_user_operation(Context&, const Operation&) override {}

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    if (r.u8() != kOp) return;
    auto op = Operation::decode(r.bytes());
    if (!r.ok() || !op || op->kind != OpKind::map_set) return;
    if (marks_.first_time(ctx, op->client, op->id)) {  // resends are applied once
      fields_[op->key] = op->id;
      // Durable before acknowledged: an ack for a write a crash can lose would be a lie.
      ctx.store().put(log_key(++log_length_), op->encode());
      ctx.store().flush();
    }
    ctx.send(from, Writer().u8(kAck).u64(op->id.value).take());
    const std::string state = encode_state(fields_);
    for (NodeId client : ctx.clients()) {
      if (ctx.connected(client)) ctx.send(client, state);
    }
  }

  void on_connected(Context& ctx, NodeId peer) override { ctx.send(peer, encode_state(fields_)); }

  std::optional<State> state() const override { return to_state(fields_); }
  std::uint64_t metadata_bytes() const override { return marks_.metadata_bytes(); }

 private:
  /// Zero-padded so that the store's key order is the log's order.
  static std::string log_key(std::uint64_t position) {
    std::string digits = std::to_string(position);
    return "log/" + std::string(20 - digits.size(), '0') + digits;
  }

  Fields fields_;
  ClientMarks marks_;  ///< rebuilt from the log on restart; its own records are never read
  std::uint64_t log_length_ = 0;
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
  };
}

}  // namespace syncstorm
