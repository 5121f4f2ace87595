// counter-no-dedup (deliberately buggy): clients send each increment as a delta and resend the
// unacknowledged ones after a reconnect and on a timer, as a correct outbox does; but the server adds
// every delta it receives without remembering which operations it has already counted. When an
// acknowledgement is lost (the connection resets after the server counted the delta), the resend is
// counted a second time: the canary for phantom or double-applied operations.
#include <map>
#include <memory>

#include "models/model.hpp"
#include "models/kit/counter_sum.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {
namespace {

enum Tag : std::uint8_t {
  kDelta = 1,  ///< client -> server: u64 op, i64 amount
  kAck = 2,    ///< server -> sender: u64 op, i64 total after counting it
  kTotal = 3,  ///< server -> clients: i64 total, u64 op that changed it (0 on connect), u32 writer
  kSync = 4,   ///< client -> server every period: i64 the total it knows; a server with another answers
               ///< kTotal, which repairs totals lost on datagram links (no connection event there)
  kContribution = 5,  ///< server -> server: u32 server, u64 version, i64 total, u64 op, u32 writer
};

constexpr std::uint64_t kTimer = 1;
/// How often a client resends deltas still waiting for an acknowledgement.
constexpr Duration kResendPeriod = Duration::seconds(1);

std::string encode_delta(OpId op, std::int64_t amount) { return Writer().u8(kDelta).u64(op.value).i64(amount).take(); }

class NoDedupClient final : public Node {
 public:
  void on_start(Context& ctx) override {
    restore(ctx);
    ctx.set_timer(kResendPeriod, kTimer);
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::counter_add) return;
    pending_[op.id] = Pending{op.amount, ticks_};
    persist(ctx);
    ctx.report(op.id, Lifecycle::applied);
    if (auto server = ctx.connected_server()) ctx.send(*server, encode_delta(op.id, op.amount));
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      const OpId op{r.u64()};
      const std::int64_t total = r.i64();
      if (!r.ok()) return;
      server_total_ = total;
      if (pending_.erase(op) > 0) ctx.report(op, Lifecycle::acknowledged);
    } else if (tag == kTotal) {
      const std::int64_t total = r.i64();
      const OpId op{r.u64()};
      const std::uint32_t writer = r.u32();
      if (!r.ok()) return;
      server_total_ = total;
      if (op.valid() && writer != ctx.self().value) ctx.report(op, Lifecycle::seen);
    } else {
      return;
    }
    persist(ctx);
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTimer) return;
    ++ticks_;
    // Like a real retry timeout, a timer resend skips deltas sent within the last period: only a
    // delta that has waited a whole period for its acknowledgement is sent again.
    if (auto server = ctx.connected_server()) {
      resend(ctx, *server, ticks_ - 1);
      ctx.send_control(*server, Writer().u8(kSync).i64(server_total_).take());
    }
    ctx.set_timer(kResendPeriod, kTimer);
  }

  void on_connected(Context& ctx, NodeId peer) override { resend(ctx, peer, ticks_ + 1); }

  std::optional<State> state() const override {
    State s;
    s.type = DataType::counter;
    s.counter = server_total_;
    for (const auto& [op, p] : pending_) s.counter = counter_sum(s.counter, p.amount);  // optimistic: pending deltas show
    return s;
  }
  std::uint64_t metadata_bytes() const override { return pending_.size() * (sizeof(OpId) + sizeof(Pending)); }

 private:
  struct Pending {
    std::int64_t amount = 0;
    std::uint64_t tick = 0;  ///< the timer tick during which it was made or last restored
  };

  /// Resends the deltas made before timer tick `made_before`.
  void resend(Context& ctx, NodeId server, std::uint64_t made_before) {
    for (const auto& [op, p] : pending_) {
      if (p.tick < made_before) ctx.send(server, encode_delta(op, p.amount));
    }
  }

  void persist(Context& ctx) {
    Writer w;
    w.i64(server_total_).u32(static_cast<std::uint32_t>(pending_.size()));
    for (const auto& [op, p] : pending_) w.u64(op.value).i64(p.amount);
    ctx.store().put("nodedup/client", w.take());
    ctx.store().flush();
  }

  void restore(Context& ctx) {
    const auto saved = ctx.store().get("nodedup/client");
    if (!saved) return;
    Reader r(*saved);
    const std::int64_t total = r.i64();
    std::map<OpId, Pending> pending;
    const std::uint32_t n = r.u32();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      const OpId op{r.u64()};
      pending[op] = Pending{r.i64(), 0};
    }
    if (!r.ok()) return;
    server_total_ = total;
    pending_ = std::move(pending);
  }

  std::int64_t server_total_ = 0;
  std::map<OpId, Pending> pending_;  ///< applied here, not yet acknowledged
  std::uint64_t ticks_ = 0;          ///< resend timer firings since this node started
};

/// What one server has counted from its own clients' deltas. Servers share these by version, so
/// their totals agree even across crashes and lost relays; only the counting itself is wrong.
struct Contribution {
  std::uint64_t version = 0;  ///< grows with every delta the server counts
  std::int64_t total = 0;
};

class NoDedupServer final : public Node {
 public:
  void on_start(Context& ctx) override {
    restore(ctx);
    ctx.set_timer(kResendPeriod, kTimer);  // shares contributions when there are other servers
  }


  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kSync) {
      const std::int64_t known = r.i64();
      if (r.ok() && known != total()) on_connected(ctx, from);
    } else if (tag == kDelta) {
      const OpId op{r.u64()};
      const std::int64_t amount = r.i64();
      if (r.ok()) count(ctx, from, op, amount);
    } else if (tag == kContribution) {
      on_contribution(ctx, r);
    }
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTimer) return;
    for (const auto& [server, c] : contributions_) share(ctx, NodeId{server}, c, OpId{}, 0);
    ctx.set_timer(kResendPeriod, kTimer);
  }

  /// A client catches up on the total; another server on every contribution this one knows.
  void on_connected(Context& ctx, NodeId peer) override {
    if (!is_server(ctx, peer)) {
      ctx.send(peer, Writer().u8(kTotal).i64(total()).u64(0).u32(0).take());
      return;
    }
    for (const auto& [server, c] : contributions_) {
      ctx.send(peer, Writer().u8(kContribution).u32(server).u64(c.version).i64(c.total).u64(0).u32(0).take());
    }
  }

  std::optional<State> state() const override {
    State s;
    s.type = DataType::counter;
    s.counter = total();
    return s;
  }
  std::uint64_t metadata_bytes() const override { return contributions_.size() * (sizeof(std::uint32_t) + sizeof(Contribution)); }

 private:
  void count(Context& ctx, NodeId from, OpId op, std::int64_t amount) {
    Contribution& mine = contributions_[ctx.self().value];
    mine.version += 1;
    mine.total = counter_sum(mine.total, amount);  // THE BUG: no record of which operations were already counted
    persist(ctx);          // durable before the acknowledgement, so only the documented bug remains
    ctx.send(from, Writer().u8(kAck).u64(op.value).i64(total()).take());
    tell_clients(ctx, op, from.value, from);
    share(ctx, ctx.self(), mine, op, from.value);
  }

  void on_contribution(Context& ctx, Reader& r) {
    const std::uint32_t server = r.u32();
    Contribution c;
    c.version = r.u64();
    c.total = r.i64();
    const OpId op{r.u64()};
    const std::uint32_t writer = r.u32();
    // A server's own contribution may come back from a peer after it restarted without its store.
    if (!r.ok()) return;
    Contribution& known = contributions_[server];
    if (c.version <= known.version) return;
    known = c;
    persist(ctx);
    tell_clients(ctx, op, writer, ctx.self());
  }

  /// Sends one server's contribution to the other servers, naming the delta that changed it if any.
  void share(Context& ctx, NodeId server, const Contribution& c, OpId op, std::uint32_t writer) {
    const std::string message =
        Writer().u8(kContribution).u32(server.value).u64(c.version).i64(c.total).u64(op.value).u32(writer).take();
    for (NodeId other : ctx.servers()) {
      if (other != ctx.self()) ctx.send(other, message);
    }
  }

  void tell_clients(Context& ctx, OpId op, std::uint32_t writer, NodeId except) {
    const std::string update = Writer().u8(kTotal).i64(total()).u64(op.value).u32(writer).take();
    for (NodeId client : ctx.clients()) {
      if (client != except && ctx.connected(client)) ctx.send(client, update);
    }
  }

  std::int64_t total() const {
    std::int64_t sum = 0;
    for (const auto& [server, c] : contributions_) sum = counter_sum(sum, c.total);
    return sum;
  }

  void persist(Context& ctx) {
    Writer w;
    w.u32(static_cast<std::uint32_t>(contributions_.size()));
    for (const auto& [server, c] : contributions_) w.u32(server).u64(c.version).i64(c.total);
    ctx.store().put("nodedup/server", w.take());
    ctx.store().flush();
  }

  void restore(Context& ctx) {
    const auto saved = ctx.store().get("nodedup/server");
    if (!saved) return;
    Reader r(*saved);
    std::map<std::uint32_t, Contribution> contributions;
    const std::uint32_t n = r.u32();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      const std::uint32_t server = r.u32();
      contributions[server] = Contribution{r.u64(), r.i64()};
    }
    if (r.ok()) contributions_ = std::move(contributions);
  }

  static bool is_server(const Context& ctx, NodeId node) {
    for (NodeId s : ctx.servers()) {
      if (s == node) return true;
    }
    return false;
  }

  std::map<std::uint32_t, Contribution> contributions_;  ///< per server (NodeId value)
};

}  // namespace

ModelInfo counter_no_dedup_model() {
  ModelInfo info;
  info.name = "counter-no-dedup";
  info.description = "delta counter whose server adds every resent delta again: lost acks double-count";
  info.data_type = DataType::counter;
  info.topology = Topology::client_server;
  info.rule = SupersedeRule::last_writer_wins;  // unused: increments never supersede one another
  info.breaks = Invariant::phantom_or_double_applied;
  info.make_client = [](NodeId) { return std::make_unique<NoDedupClient>(); };
  info.make_server = [](NodeId) { return std::make_unique<NoDedupServer>(); };
  info.multi_server = true;  // servers pass deltas and totals to each other
  return info;
}

}  // namespace syncstorm
