// mark-before-apply-map: outbox-map whose server records a write as applied before it applies it.
//
// What the team thought: validation and fan-out moved to a worker queue to keep the socket handler
// fast. The handler records the mutation number at once ("we have it, a resend must not queue it
// twice") and flushes that; the worker applies the write a moment later, flushes and acknowledges.
//
// What goes wrong: a crash between the two steps loses the queued write with the process, but the
// flushed mark survives. The client, never acknowledged, resends after the restart; the server sees
// a number at or below the mark, takes it for a duplicate and acknowledges it without applying it.
// The write is acknowledged and lost. A crash between two writes that were meant to be one
// transaction: the shape of many outbox and idempotency-table bugs. The checkers see it where the
// writer does: its own write, acknowledged, goes back to the older value (read-your-writes).
#include <deque>

#include "models/bugs/parts.hpp"
#include "models/kit/store_keys.hpp"

namespace syncstorm {
namespace {

constexpr std::uint64_t kWorkerTimer = 1;
/// How long a write waits in the worker queue.
constexpr Duration kWorkerDelay = Duration::millis(5);

class QueuedApplyServer final : public bugs::MapServer {
 public:
  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    if (r.u8() != bugs::kMapOp) return;
    const std::uint64_t mutation = r.u64();
    auto op = Operation::decode(r.bytes());
    if (!r.ok() || !op || op->kind != OpKind::map_set) return;
    if (!marks_.first_time(ctx, op->client, OpId{mutation})) {
      ctx.send(from, Writer().u8(bugs::kMapAck).u64(op->id.value).take());  // a resend is acknowledged again
      return;
    }
    ctx.store().flush();  // the mistaken branch: the mark is durable before the write exists
    queue_.push_back({from, *op});
    ctx.set_timer(kWorkerDelay, kWorkerTimer);
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kWorkerTimer || queue_.empty()) return;
    const auto [from, op] = queue_.front();
    queue_.pop_front();
    fields_[op.key] = op.id;
    ctx.store().put(numbered_key("field/", op.key.value), Writer().u32(op.key.value).u64(op.id.value).take());
    ctx.store().flush();
    broadcast(ctx, Writer().u8(bugs::kMapUpdate).u32(op.key.value).u64(op.id.value).take());
    ctx.send(from, Writer().u8(bugs::kMapAck).u64(op.id.value).take());
  }

 private:
  struct Queued {
    NodeId from;
    Operation op;
  };
  std::deque<Queued> queue_;  ///< in memory: lost with the process
};

}  // namespace

ModelInfo mark_before_apply_map_model() {
  return bugs::bug_suite_model(
      "mark-before-apply-map", "outbox-map whose server stores a write's dedup mark before a queued worker applies it: a crash between them loses it",
      DataType::map, Invariant::read_your_writes, [](NodeId) { return std::make_unique<bugs::MapClient>(); },
      [](NodeId) { return std::make_unique<QueuedApplyServer>(); });
}

}  // namespace syncstorm
