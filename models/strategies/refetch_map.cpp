// refetch-map: server-owned state read the React Query / SWR way ("libraries like React Query or
// SWR can simplify this for server-owned state"). The server never pushes. A client shows its last
// fetched copy of the server's state; it refetches when its connection comes back
// (refetchOnReconnect), after each of its own writes is confirmed (invalidation after a mutation),
// and every 4 s while connected (a refetch interval, below the 5 s convergence bound of the quietest shipped scenarios). A user's own write shows at once (an optimistic
// mutation) and is resent after a reconnect until the server confirms it; the server applies each
// write once and persists before confirming.
//
// It is correct, and it is stale by design: another user's write becomes visible only at the next
// refetch. The scenario measures how stale against a push model (remote latency p95 and max).
//
// refetch-map-read-replicas is the same client behind a load balancer that sends each fetch to one
// of two read replicas, one of which lags the primary by up to 3 s (asynchronous replication). A
// fetch that lands on the lagging replica after one that did not shows the user older values than
// they already saw. Every replica ends right; the views in between went back in time, which is a
// monotonic-reads violation (and read-your-writes, when the value was the user's own).
#include <deque>
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

enum Tag : std::uint8_t { kOp = 1, kAck = 2, kFetch = 3, kSnapshot = 4 };

/// The refetch interval while connected.
constexpr Duration kRefetchEvery = Duration::seconds(4);
constexpr std::uint64_t kRefetchTimer = 1;

class FetchClient final : public Node {
 public:
  void on_start(Context& ctx) override {
    ctx.set_timer(kRefetchEvery, kRefetchTimer);
    pending_.restore(ctx);
    pending_.overlay(shown_);
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::map_set) return;
    pending_.add(ctx, op);
    shown_[op.key] = op.id;
    ctx.report(op.id, Lifecycle::applied);
    if (auto server = ctx.connected_server()) ctx.send(*server, Writer().u8(kOp).bytes(op.encode()).take());
  }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      const OpId id{r.u64()};
      if (!r.ok() || !pending_.answer(ctx, id)) return;
      ctx.report(id, Lifecycle::acknowledged);
      fetch(ctx, from);  // the mutation invalidates the query
    } else if (tag == kSnapshot) {
      Fields fresh;
      if (!read_fields(r, fresh)) return;
      for (const auto& [key, value] : fresh) {
        auto it = fetched_.find(key);
        if (it == fetched_.end() || it->second != value) ctx.report(value, Lifecycle::seen);
      }
      fetched_ = std::move(fresh);
      shown_ = fetched_;
      pending_.overlay(shown_);
    }
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kRefetchTimer) return;
    ctx.set_timer(kRefetchEvery, kRefetchTimer);
    if (auto server = ctx.connected_server()) fetch(ctx, *server);
  }

  void on_connected(Context& ctx, NodeId peer) override {
    for (const auto& [id, entry] : pending_.entries()) ctx.send(peer, Writer().u8(kOp).bytes(entry.op.encode()).take());
    fetch(ctx, peer);
  }

  std::optional<State> state() const override { return to_state(shown_); }
  std::uint64_t metadata_bytes() const override { return pending_.size() * sizeof(Operation); }

 private:
  static void fetch(Context& ctx, NodeId server) { ctx.send_control(server, Writer().u8(kFetch).take()); }

  Fields fetched_;
  Fields shown_;
  Outbox pending_;
};

/// How far the lagging read replica of refetch-map-read-replicas is behind the primary, at most.
constexpr Duration kReplicaLagMax = Duration::seconds(3);

class FetchServer final : public Node {
 public:
  explicit FetchServer(bool lagging_replica) : lagging_replica_(lagging_replica) {}

  void on_start(Context& ctx) override {
    state_.restore(ctx);
    replica_base_ = state_.fields();
  }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kFetch) {
      Writer w;
      w.u8(kSnapshot);
      if (lagging_replica_ && ctx.rng().chance_ppm(500'000)) {
        write_fields(w, replica_view(ctx.local_clock() - ctx.rng().duration_between(Duration::zero(), kReplicaLagMax)));
      } else {
        write_fields(w, state_.fields());
      }
      ctx.send(from, w.take());
      return;
    }
    if (tag != kOp) return;
    auto op = Operation::decode(r.bytes());
    if (!r.ok() || !op || op->kind != OpKind::map_set || op->client != from) return;
    if (state_.apply(ctx, *op)) {
      ctx.store().flush();
      if (lagging_replica_) replicated_.push_back({ctx.local_clock(), op->key, op->id});
    }
    ctx.send_control(from, Writer().u8(kAck).u64(op->id.value).take());
  }

  std::optional<State> state() const override { return to_state(state_.fields()); }
  std::uint64_t metadata_bytes() const override { return state_.metadata_bytes(); }

 private:
  struct Replicated {
    Instant at;
    KeyId key;
    OpId value;
  };

  /// What the lagging replica holds: every write the primary applied up to `as_of`.
  Fields replica_view(Instant as_of) const {
    Fields view = replica_base_;
    for (const Replicated& w : replicated_) {
      if (w.at > as_of) break;
      view[w.key] = w.value;
    }
    return view;
  }

  bool lagging_replica_ = false;
  AppliedFields state_;
  Fields replica_base_;                ///< what the primary held when this incarnation started
  std::vector<Replicated> replicated_;  ///< the primary's writes since, in order
};

}  // namespace

ModelInfo refetch_map_model() {
  return ModelInfo{
      .name = "refetch-map",
      .description = "server-owned map read React Query style: no pushes; refetch on reconnect, after writes, every 5 s",
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::server_order,
      .breaks = std::nullopt,
      .make_client = [](NodeId) { return std::make_unique<FetchClient>(); },
      .make_server = [](NodeId) { return std::make_unique<FetchServer>(false); },
      // Writes follow reads: every fetch reads the primary's whole state.
      .writes_follow_reads = OrderPromise::promised,
      .writes_in_order = OrderPromise::promised,
  };
}

ModelInfo refetch_map_read_replicas_model() {
  return ModelInfo{
      .name = "refetch-map-read-replicas",
      .description = "refetch-map whose fetches are load-balanced over read replicas, one lagging up to 3 s: views go back in time",
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::server_order,
      .breaks = Invariant::monotonic_reads,
      .make_client = [](NodeId) { return std::make_unique<FetchClient>(); },
      .make_server = [](NodeId) { return std::make_unique<FetchServer>(true); },
      .metadata_growth = MetadataGrowth::server_keeps_writes,  // the lagging replica keeps every write
  };
}

}  // namespace syncstorm
