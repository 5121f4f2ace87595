#include "models/bugs/parts.hpp"

#include "models/kit/counter_sum.hpp"
#include "models/kit/store_keys.hpp"

namespace syncstorm::bugs {

// ---- the map ----

std::string map_op_message(std::uint64_t mutation, const Operation& op) {
  return Writer().u8(kMapOp).u64(mutation).bytes(op.encode()).take();
}

std::uint64_t MapClient::next_mutation(Context&, const Operation& op) { return op.id.value; }

bool MapClient::send_pending(Context& ctx, NodeId server, const Outbox::Entry& entry) {
  return ctx.send(server, map_op_message(entry.base, entry.op));
}

void MapClient::on_user_operation(Context& ctx, const Operation& op) {
  if (op.kind != OpKind::map_set) return;
  const std::uint64_t mutation = next_mutation(ctx, op);
  mirror_.write(ctx, op, mutation);
  if (auto server = ctx.connected_server()) ctx.send(*server, map_op_message(mutation, op));
}

void MapClient::on_message(Context& ctx, NodeId, std::string_view payload) {
  Reader r(payload);
  const std::uint8_t tag = r.u8();
  if (tag == kMapAck) {
    if (!mirror_.read_ack(ctx, r)) return;
  } else if (tag == kMapUpdate) {
    if (!mirror_.read_update(ctx, r)) return;
  } else if (tag == kMapSnapshot) {
    if (!mirror_.read_snapshot(ctx, r, true)) return;
  } else {
    return;
  }
  mirror_.refresh();
}

void MapClient::on_connected(Context& ctx, NodeId peer) {
  for (const auto& [id, entry] : mirror_.outbox().entries()) {
    if (!send_pending(ctx, peer, entry)) return;
  }
}

void MapServer::on_start(Context& ctx) {
  for (const auto& [name, record] : ctx.store().scan("field/")) {
    Reader r(record);
    const KeyId key{r.u32()};
    const OpId value{r.u64()};
    if (r.ok()) fields_[key] = value;
  }
  marks_.restore(ctx);
}

bool MapServer::apply(Context& ctx, std::uint64_t mutation, const Operation& op) {
  if (!marks_.first_time(ctx, op.client, OpId{mutation})) return false;
  fields_[op.key] = op.id;
  ctx.store().put(numbered_key("field/", op.key.value), Writer().u32(op.key.value).u64(op.id.value).take());
  return true;
}

void MapServer::on_message(Context& ctx, NodeId from, std::string_view payload) {
  Reader r(payload);
  if (r.u8() != kMapOp) return;
  const std::uint64_t mutation = r.u64();
  auto op = Operation::decode(r.bytes());
  if (!r.ok() || !op || op->kind != OpKind::map_set) return;
  if (apply(ctx, mutation, *op)) {
    make_durable(ctx);
    broadcast(ctx, Writer().u8(kMapUpdate).u32(op->key.value).u64(op->id.value).take());
  }
  ctx.send(from, Writer().u8(kMapAck).u64(op->id.value).take());  // a resend is acknowledged again
}

void MapServer::on_connected(Context& ctx, NodeId peer) { ctx.send(peer, fields_message(kMapSnapshot, fields_)); }

void MapServer::broadcast(Context& ctx, const std::string& message) const {
  for (NodeId client : ctx.clients()) {
    if (ctx.connected(client)) ctx.send(client, message);
  }
}

// ---- the counter ----

namespace {
constexpr std::string_view kPendingPrefix = "pending/";
constexpr std::string_view kClientTotalKey = "total";
constexpr std::string_view kServerTotalKey = "count";

std::string delta_message(OpId op, std::int64_t amount) { return Writer().u8(kDelta).u64(op.value).i64(amount).take(); }
}  // namespace

void CounterClient::on_start(Context& ctx) {
  if (auto saved = ctx.store().get(std::string(kClientTotalKey))) {
    Reader r(*saved);
    const std::int64_t total = r.i64();
    if (r.ok()) server_total_ = total;
  }
  for (const auto& [key, record] : ctx.store().scan(kPendingPrefix)) {
    Reader r(record);
    const OpId op{r.u64()};
    const std::int64_t amount = r.i64();
    if (r.ok()) pending_[op] = amount;
  }
}

void CounterClient::persist_pending(Context& ctx, OpId op, std::int64_t amount) {
  ctx.store().put(numbered_key(kPendingPrefix, op.value), Writer().u64(op.value).i64(amount).take());
  ctx.store().flush();
}

void CounterClient::erase_pending(Context& ctx, OpId op) {
  ctx.store().erase(numbered_key(kPendingPrefix, op.value));
  ctx.store().flush();
}

void CounterClient::on_user_operation(Context& ctx, const Operation& op) {
  if (op.kind != OpKind::counter_add) return;
  pending_[op.id] = op.amount;
  persist_pending(ctx, op.id, op.amount);  // durable before the user sees it
  ctx.report(op.id, Lifecycle::applied);
  if (auto server = ctx.connected_server()) ctx.send(*server, delta_message(op.id, op.amount));
}

void CounterClient::on_total(Context& ctx, std::int64_t total, OpId op, NodeId writer) {
  server_total_ = total;
  ctx.store().put(std::string(kClientTotalKey), Writer().i64(total).take());
  ctx.store().flush();
  if (op.valid() && writer != ctx.self()) ctx.report(op, Lifecycle::seen);
}

void CounterClient::on_message(Context& ctx, NodeId, std::string_view payload) {
  Reader r(payload);
  const std::uint8_t tag = r.u8();
  if (tag == kCounted) {
    const OpId op{r.u64()};
    const std::int64_t total = r.i64();
    if (!r.ok()) return;
    on_total(ctx, total, OpId{}, NodeId{});
    if (pending_.erase(op) > 0) {
      erase_pending(ctx, op);
      ctx.report(op, Lifecycle::acknowledged);
    }
  } else if (tag == kTotal) {
    const std::int64_t total = r.i64();
    const OpId op{r.u64()};
    const NodeId writer{r.u32()};
    if (r.ok()) on_total(ctx, total, op, writer);
  }
}

void CounterClient::on_connected(Context& ctx, NodeId peer) {
  for (const auto& [op, amount] : pending_) {
    if (!ctx.send(peer, delta_message(op, amount))) return;
  }
}

std::optional<State> CounterClient::state() const {
  State s;
  s.type = DataType::counter;
  s.counter = server_total_;
  for (const auto& [op, amount] : pending_) s.counter = counter_sum(s.counter, amount);  // optimistic: pending deltas show
  return s;
}

void CounterServer::on_start(Context& ctx) {
  if (auto saved = ctx.store().get(std::string(kServerTotalKey))) {
    Reader r(*saved);
    const std::int64_t total = r.i64();
    if (r.ok()) total_ = total;
  }
  marks_.restore(ctx);
}

void CounterServer::record(Context& ctx, OpId, std::int64_t) {
  ctx.store().put(std::string(kServerTotalKey), Writer().i64(total_).take());
}

void CounterServer::on_message(Context& ctx, NodeId from, std::string_view payload) {
  Reader r(payload);
  if (r.u8() != kDelta) return;
  const OpId op{r.u64()};
  const std::int64_t amount = r.i64();
  if (!r.ok() || !op.valid()) return;
  if (first_time(ctx, from, op)) {
    total_ = counter_sum(total_, amount);
    record(ctx, op, amount);
    ctx.store().flush();  // durable before anyone hears of it
    broadcast(ctx, Writer().u8(kTotal).i64(total_).u64(op.value).u32(from.value).take());
  }
  ctx.send(from, Writer().u8(kCounted).u64(op.value).i64(total_).take());
}

void CounterServer::on_connected(Context& ctx, NodeId peer) {
  ctx.send(peer, Writer().u8(kTotal).i64(total_).u64(0).u32(0).take());
}

std::optional<State> CounterServer::state() const {
  State s;
  s.type = DataType::counter;
  s.counter = total_;
  return s;
}

void CounterServer::broadcast(Context& ctx, const std::string& message) const {
  for (NodeId client : ctx.clients()) {
    if (ctx.connected(client)) ctx.send(client, message);
  }
}

// ---- the models ----

ModelInfo bug_suite_model(std::string name, std::string description, DataType type, Invariant breaks,
                          std::function<std::unique_ptr<Node>(NodeId)> make_client,
                          std::function<std::unique_ptr<Node>(NodeId)> make_server) {
  return ModelInfo{
      .name = std::move(name),
      .description = std::move(description),
      .data_type = type,
      .topology = Topology::client_server,
      // The counter's rule is the one the shipped counters declare; a map's server orders its writes.
      .rule = type == DataType::counter ? SupersedeRule::last_writer_wins : SupersedeRule::server_order,
      .breaks = breaks,
      .make_client = std::move(make_client),
      .make_server = std::move(make_server),
      .bug_suite = true,
  };
}

ModelInfo reference_map_model() {
  ModelInfo info = bug_suite_model(
      "bug-suite-reference-map", "outbox-map restated with the bug suite's seams", DataType::map, Invariant::convergence,
      [](NodeId) { return std::make_unique<MapClient>(); }, [](NodeId) { return std::make_unique<MapServer>(); });
  info.breaks.reset();
  return info;
}

ModelInfo reference_counter_model() {
  ModelInfo info = bug_suite_model(
      "bug-suite-reference-counter", "delta counter with per-client de-duplication", DataType::counter,
      Invariant::convergence, [](NodeId) { return std::make_unique<CounterClient>(); },
      [](NodeId) { return std::make_unique<CounterServer>(); });
  info.breaks.reset();
  return info;
}

}  // namespace syncstorm::bugs
