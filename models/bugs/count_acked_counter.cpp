// count-acked-counter: a delta counter acknowledged by count, the way TCP acknowledges bytes.
//
// What the team thought: per-id marks on the server grow with every client's history, a count does
// not. Each client numbers its deltas 1, 2, 3, ...; the server keeps, for each client, how many of
// its deltas it has counted, and sends that count after every delta and when the client connects;
// the client drops every queued delta numbered up to the count. Deltas are sent and resent oldest
// first, so the count is the number of the newest counted one, and no delta needs an id on the
// server.
//
// What goes wrong: the client resends its queue the moment it connects, before the server's count
// arrives. A delta counted just before the old connection died (its count died with it) is counted
// again, and from then on the count runs one ahead of the numbering: the client drops each later
// delta as soon as the one before it is counted, while it is still in flight, and a connection that
// dies with it in flight loses it for good (it is no longer queued, so never resent). One bug, both
// ways: counted twice, and lost.
// Streaming counters that acknowledge by offset have shipped this; with every increment +1, a
// double and a loss cancel in the total, which is why the workload draws increments of many sizes.
#include <map>
#include <string>

#include "models/bugs/parts.hpp"
#include "models/kit/counter_sum.hpp"
#include "models/kit/store_keys.hpp"

namespace syncstorm {
namespace {

/// server -> client: u64, how many of this client's deltas the server has counted so far.
constexpr std::uint8_t kCount = 4;
constexpr std::string_view kIssuedKey = "count-acked/issued";
constexpr std::string_view kCountPrefix = "count-acked/count/";

std::string count_message(std::uint64_t count) { return Writer().u8(kCount).u64(count).take(); }

class CountAckedClient final : public bugs::CounterClient {
 public:
  void on_start(Context& ctx) override {
    CounterClient::on_start(ctx);
    if (auto saved = ctx.store().get(std::string(kIssuedKey))) {
      Reader r(*saved);
      const std::uint64_t issued = r.u64();
      if (r.ok()) issued_ = issued;
    }
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::counter_add) return;
    ++issued_;  // this delta's number; durable with it, before it is sent
    ctx.store().put(std::string(kIssuedKey), Writer().u64(issued_).take());
    CounterClient::on_user_operation(ctx, op);
  }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    if (r.u8() != kCount) return CounterClient::on_message(ctx, from, payload);
    const std::uint64_t count = r.u64();
    if (!r.ok()) return;
    // The queue holds deltas issued_ - size + 1 .. issued_, oldest first. The mistaken branch: the
    // delta numbered n is taken as counted once the server has counted n deltas of this client.
    while (!pending_.empty() && issued_ - pending_.size() + 1 <= count) {
      const OpId op = pending_.begin()->first;
      pending_.erase(pending_.begin());
      erase_pending(ctx, op);
      ctx.report(op, Lifecycle::acknowledged);
    }
  }

 private:
  std::uint64_t issued_ = 0;  ///< deltas this client has issued: the number of the newest; durable
};

class CountAckedServer final : public bugs::CounterServer {
 public:
  void on_start(Context& ctx) override {
    CounterServer::on_start(ctx);
    for (const auto& [key, record] : ctx.store().scan(kCountPrefix)) {
      Reader r(record);
      const NodeId client{r.u32()};
      const std::uint64_t count = r.u64();
      if (r.ok()) counted_[client] = count;
    }
  }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    if (r.u8() != bugs::kDelta) return;
    const OpId op{r.u64()};
    const std::int64_t amount = r.i64();
    if (!r.ok() || !op.valid()) return;
    total_ = counter_sum(total_, amount);  // no marks: the count is taken to make them unnecessary
    const std::uint64_t count = ++counted_[from];
    record(ctx, op, amount);
    ctx.store().put(numbered_key(kCountPrefix, from.value), Writer().u32(from.value).u64(count).take());
    ctx.store().flush();  // durable before anyone hears of it
    broadcast(ctx, Writer().u8(bugs::kTotal).i64(total_).u64(op.value).u32(from.value).take());
    ctx.send(from, count_message(count));
  }

  void on_connected(Context& ctx, NodeId peer) override {
    CounterServer::on_connected(ctx, peer);
    if (auto it = counted_.find(peer); it != counted_.end()) ctx.send(peer, count_message(it->second));
  }

  std::uint64_t metadata_bytes() const override { return counted_.size() * (sizeof(NodeId) + sizeof(std::uint64_t)); }

 private:
  std::map<NodeId, std::uint64_t> counted_;  ///< per client, its deltas counted so far; durable
};

}  // namespace

ModelInfo count_acked_counter_model() {
  return bugs::bug_suite_model(
      "count-acked-counter",
      "delta counter acknowledged by count: a resend before the count arrives is counted twice and a later delta is dropped unsent",
      DataType::counter, Invariant::phantom_or_double_applied, [](NodeId) { return std::make_unique<CountAckedClient>(); },
      [](NodeId) { return std::make_unique<CountAckedServer>(); });
}

}  // namespace syncstorm
