// outbox-map: a server-ordered map whose clients keep their unsent edits in an outbox, the pattern a
// local-first web app follows with IndexedDB. The user's edit shows at once, goes into the outbox,
// and leaves it only when the server acknowledges it; a tab that closes (a client crash) and reopens
// finds the outbox in its store and sends it again. The server applies each operation once (it
// remembers applied ids), persists and flushes before acknowledging, and pushes each write to every
// connected client; a client that connects receives the whole state.
//
// outbox-map-memory is the same strategy with the outbox held in memory only, as an app that never
// wrote its pending edits to IndexedDB: a reload forgets edits the user saw applied, and nobody tells
// the user. The checkers call that a silent rollback.
#include <map>
#include <set>
#include <string>

#include <fmt/format.h>

#include "models/applied_fields.hpp"
#include "models/fields.hpp"
#include "models/model.hpp"
#include "models/outbox.hpp"
#include "sim/codec.hpp"

namespace syncstorm {
namespace {

enum Tag : std::uint8_t { kOp = 1, kAck = 2, kSnapshot = 3, kUpdate = 4 };

// Store keys sort in id order because the numbers are zero-padded.

std::string encode_snapshot(const Fields& fields) {
  Writer w;
  w.u8(kSnapshot);
  write_fields(w, fields);
  return w.take();
}

class OutboxClient final : public Node {
 public:
  explicit OutboxClient(bool persist_outbox) : outbox_(persist_outbox) {}

  void on_start(Context& ctx) override {
    // A reopened tab: what the user had applied but the server had not confirmed is still pending.
    outbox_.restore(ctx);
    refresh();
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::map_set) return;
    outbox_.add(ctx, op);  // durable before the user sees it applied (unless in memory only)
    shown_[op.key] = op.id;
    ctx.report(op.id, Lifecycle::applied);
    if (auto server = ctx.connected_server()) ctx.send(*server, Writer().u8(kOp).bytes(op.encode()).take());
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      const OpId id{r.u64()};
      if (!r.ok() || !outbox_.answer(ctx, id)) return;
      ctx.report(id, Lifecycle::acknowledged);
      refresh();
    } else if (tag == kUpdate) {
      const KeyId key{r.u32()};
      const OpId value{r.u64()};
      if (!r.ok()) return;
      server_[key] = value;
      ctx.report(value, Lifecycle::seen);
      refresh();
    } else if (tag == kSnapshot) {
      Fields fresh;
      if (!read_fields(r, fresh)) return;
      for (const auto& [key, value] : fresh) {
        auto it = server_.find(key);
        if (it == server_.end() || it->second != value) ctx.report(value, Lifecycle::seen);
      }
      server_ = std::move(fresh);
      refresh();
    }
  }

  void on_connected(Context& ctx, NodeId peer) override {
    for (const auto& [id, entry] : outbox_.entries()) ctx.send(peer, Writer().u8(kOp).bytes(entry.op.encode()).take());
  }

  std::optional<State> state() const override { return to_state(shown_); }
  std::uint64_t metadata_bytes() const override { return outbox_.size() * sizeof(Operation); }

 private:
  /// The user sees the server's state with pending edits on top, in the order they were made.
  void refresh() {
    shown_ = server_;
    outbox_.overlay(shown_);
  }

  Outbox outbox_;
  Fields server_;
  Fields shown_;
};

class OutboxServer final : public Node {
 public:
  void on_start(Context& ctx) override { state_.restore(ctx); }
  void on_user_operation(Context&, const Operation&) override {}

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    if (r.u8() != kOp) return;
    auto op = Operation::decode(r.bytes());
    if (!r.ok() || !op || op->kind != OpKind::map_set) return;
    if (state_.apply(ctx, op->key, op->id)) {
      ctx.store().flush();  // durable before anyone hears of it
      const std::string update = Writer().u8(kUpdate).u32(op->key.value).u64(op->id.value).take();
      for (NodeId client : ctx.clients()) {
        if (ctx.connected(client)) ctx.send(client, update);
      }
    }
    ctx.send(from, Writer().u8(kAck).u64(op->id.value).take());  // a resend is acknowledged again
  }

  void on_connected(Context& ctx, NodeId peer) override { ctx.send(peer, encode_snapshot(state_.fields())); }

  std::optional<State> state() const override { return to_state(state_.fields()); }
  std::uint64_t metadata_bytes() const override { return state_.applied_count() * sizeof(OpId); }

 private:
  AppliedFields state_;  ///< every operation applied, so that a resend is applied once
};

}  // namespace

ModelInfo outbox_map_model() {
  return ModelInfo{
      .name = "outbox-map",
      .description = "server-ordered map; clients persist unsent edits (IndexedDB) and resend them after a reload",
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::server_order,
      .correct = true,
      .breaks = std::nullopt,
      .make_client = [](NodeId) { return std::make_unique<OutboxClient>(true); },
      .make_server = [](NodeId) { return std::make_unique<OutboxServer>(); },
      // Its metadata may grow with the writes on the server only: the server keeps every applied
      // id, so that a resend is applied once.
      .metadata_growth = MetadataGrowth::server_keeps_writes,
  };
}

ModelInfo outbox_map_memory_model() {
  return ModelInfo{
      .name = "outbox-map-memory",
      .description = "outbox-map with the outbox in memory only: a tab reload silently drops unsent edits",
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::server_order,
      .correct = false,
      .breaks = Invariant::silent_rollback,
      .make_client = [](NodeId) { return std::make_unique<OutboxClient>(false); },
      .make_server = [](NodeId) { return std::make_unique<OutboxServer>(); },
      // Its metadata may grow with the writes on the server only: the server keeps every applied
      // id, so that a resend is applied once.
      .metadata_growth = MetadataGrowth::server_keeps_writes,
  };
}

}  // namespace syncstorm
