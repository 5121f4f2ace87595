// hybrid-dashboard: the article's live dashboard, "where aggregate metrics are server-authoritative,
// but individual user preferences are stored locally and synced lazily". One map, two kinds of field:
// - Even keys are aggregates, owned by the server ("server-owned state should never be mutated
//   optimistically"): a user's write is sent at once and shows only when the server has applied it,
//   so the user sees it applied and acknowledged together, one round trip later.
// - Odd keys are preferences: they show at once and are sent lazily, in one batch every 2 s, until
//   the server confirms them.
// The server applies each write once, persists before confirming, and pushes every write to every
// connected client. Both kinds are resent after a reconnect until confirmed.
#include <map>
#include <set>
#include <string>

#include <fmt/format.h>

#include "models/kit/applied_fields.hpp"
#include "models/kit/fields.hpp"
#include "models/model.hpp"
#include "models/kit/outbox.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {
namespace {

enum Tag : std::uint8_t { kBatch = 1, kAck = 2, kSnapshot = 3, kUpdate = 4 };

/// How often a client sends its unconfirmed preference writes.
constexpr Duration kPreferenceSyncEvery = Duration::seconds(2);
constexpr std::uint64_t kSyncTimer = 1;

bool is_aggregate(KeyId key) { return key.value % 2 == 0; }

std::string batch_of(const std::map<OpId, Outbox::Entry>& entries) {
  Writer w;
  w.u8(kBatch).u32(static_cast<std::uint32_t>(entries.size()));
  for (const auto& [id, entry] : entries) w.bytes(entry.op.encode());
  return w.take();
}

class DashboardClient final : public Node {
 public:
  void on_start(Context& ctx) override {
    ctx.set_timer(kPreferenceSyncEvery, kSyncTimer);
    // Preferences live in local storage until the server confirms them; an aggregate submission
    // the user never saw applied is not kept across a reload.
    preferences_.restore(ctx);
    preferences_.overlay(shown_);
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::map_set) return;
    if (is_aggregate(op.key)) {
      aggregates_.add(ctx, op);
      if (auto server = ctx.connected_server()) ctx.send(*server, batch_of({{op.id, Outbox::Entry{op}}}));
      return;  // not shown until the server has applied it
    }
    preferences_.add(ctx, op);
    shown_[op.key] = op.id;
    ctx.report(op.id, Lifecycle::applied);
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      const OpId id{r.u64()};
      if (!r.ok()) return;
      if (aggregates_.answer(ctx, id)) ctx.report(id, Lifecycle::applied);
      else if (!preferences_.answer(ctx, id)) return;
      ctx.report(id, Lifecycle::acknowledged);
    } else if (tag == kUpdate) {
      const KeyId key{r.u32()};
      const OpId value{r.u64()};
      if (!r.ok()) return;
      server_[key] = value;
      ctx.report(value, Lifecycle::seen);
    } else if (tag == kSnapshot) {
      Fields fresh;
      if (!read_fields(r, fresh)) return;
      server_ = std::move(fresh);
    }
    shown_ = server_;
    preferences_.overlay(shown_);  // local preferences stay visible
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kSyncTimer) return;
    ctx.set_timer(kPreferenceSyncEvery, kSyncTimer);
    auto server = ctx.connected_server();
    if (server && !preferences_.empty()) ctx.send(*server, batch_of(preferences_.entries()));
  }

  void on_connected(Context& ctx, NodeId peer) override {
    if (!aggregates_.empty()) ctx.send(peer, batch_of(aggregates_.entries()));
  }

  std::optional<State> state() const override { return to_state(shown_); }
  std::uint64_t metadata_bytes() const override {
    return (aggregates_.size() + preferences_.size()) * sizeof(Operation);
  }

 private:
  Fields server_;
  Fields shown_;
  Outbox aggregates_{false};  ///< sent, not yet applied by the server (not kept across a reload)
  Outbox preferences_{true, "preferences/"};  ///< shown, not yet confirmed by the server
};

class DashboardServer final : public Node {
 public:
  void on_start(Context& ctx) override { state_.restore(ctx); }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    if (r.u8() != kBatch) return;
    const std::uint32_t n = r.u32();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      auto op = Operation::decode(r.bytes());
      if (!r.ok() || !op || op->kind != OpKind::map_set || op->client != from) return;
      // Aggregates go out at once and preferences in batches: each kind in its own order.
      if (state_.apply(ctx, *op, is_aggregate(op->key) ? 1 : 0)) publish(ctx, *op);
      ctx.send_control(from, Writer().u8(kAck).u64(op->id.value).take());
    }
  }

  void on_connected(Context& ctx, NodeId peer) override { ctx.send(peer, fields_message(kSnapshot, state_.fields())); }

  std::optional<State> state() const override { return to_state(state_.fields()); }
  std::uint64_t metadata_bytes() const override { return state_.metadata_bytes(); }

 private:
  /// Tells every connected client of a newly applied write.
  void publish(Context& ctx, const Operation& op) {
    ctx.store().flush();  // durable before anyone hears of it
    const std::string update = Writer().u8(kUpdate).u32(op.key.value).u64(op.id.value).take();
    for (NodeId client : ctx.clients()) {
      if (ctx.connected(client)) ctx.send(client, update);
    }
  }

  AppliedFields state_;
};

}  // namespace

ModelInfo hybrid_dashboard_model() {
  return ModelInfo{
      .name = "hybrid-dashboard",
      .description = "dashboard map: server-authoritative aggregates (even keys), lazily synced local preferences (odd keys)",
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::server_order,
      .breaks = std::nullopt,
      .make_client = [](NodeId) { return std::make_unique<DashboardClient>(); },
      .make_server = [](NodeId) { return std::make_unique<DashboardServer>(); },
      // Writes follow reads: one server applies and pushes every write in one order.
      .writes_follow_reads = OrderPromise::promised,
      // Not writes in order: a preference waits for the next batch (up to 2 s) while an aggregate
      // written after it is sent at once, so others may see a user's aggregate before the preference
      // that user had set first. The article's lazy preferences promise no more.
      .writes_in_order = OrderPromise::not_promised,
  };
}

}  // namespace syncstorm
