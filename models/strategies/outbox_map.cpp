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
//
// Two more buggy baselines, each a mistake real teams make with this pattern:
// - outbox-map-newest-first resends a reconnecting client's outbox newest first (a stack where a
//   queue belonged): the server applies the user's two offline edits of one field in reverse, and
//   the earlier one wins although both were acknowledged. That breaks monotonic writes.
// - outbox-map-no-rebase shows each push of the server as it comes, without the user's pending
//   edits on top (a reducer that replaces local state with the server's): the user's own edit
//   flickers back to the old value until the server's echo of it arrives. That breaks
//   read-your-writes, though every replica ends right.
// - outbox-map-rebuilding-server keeps the server's state in memory only and, after a restart,
//   rebuilds it from the first client that reconnects (each client offers the copy it cached
//   from the server's snapshot on its last connect): writes acknowledged since are gone. Any other write to the
//   field would once have excused the loss under server order; a write acknowledged, or shown to
//   the writer, before the lost one was issued cannot be ordered after it.
// - outbox-map-subscribe-first subscribes before it fetches, as an app does that opens a live
//   query and then loads the initial data: the server pushes every write to a connection at once
//   but sends its snapshot only when the client asks, and after loading it (half a second). A
//   client back from a disconnection shows a push made by a user who had read writes the client
//   has not yet fetched, beside the older values those writes replaced. Every replica ends right
//   and no view goes back; that breaks writes follow reads.
// - outbox-map-field-shards keeps each field on one of four shards, as a store that partitions a
//   document's fields, and a shard commits its writes one at a time, the busier shards slower
//   (100 to 400 ms). A user's edits of two fields, sent together after a reconnect or made in quick
//   succession, commit and reach everyone else in the order of their shards' speed, not the order
//   they were made. One field's writes stay in order and every replica ends right; that breaks
//   monotonic writes across fields.
#include <algorithm>
#include <array>
#include <cassert>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "models/kit/applied_fields.hpp"
#include "models/kit/fields.hpp"
#include "models/model.hpp"
#include "models/kit/outbox.hpp"
#include "models/kit/server_mirror.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {
namespace {

enum Tag : std::uint8_t { kOp = 1, kAck = 2, kSnapshot = 3, kUpdate = 4, kHello = 5, kFetch = 6 };

/// How a client variant departs from the correct strategy.
struct ClientFlaws {
  bool outbox_in_memory = false;  ///< outbox-map-memory
  bool newest_first = false;      ///< outbox-map-newest-first
  bool says_hello = false;        ///< outbox-map-rebuilding-server: tells the server what it saw
  bool no_rebase = false;         ///< outbox-map-no-rebase: pushes replace the view, pending edits and all
  bool subscribe_first = false;   ///< outbox-map-subscribe-first: asks for the snapshot once connected
  bool field_shards = false;      ///< outbox-map-field-shards (a server flaw: its fields' shards)
};

std::string encode_snapshot(const Fields& fields) { return fields_message(kSnapshot, fields); }

class OutboxClient final : public Node {
 public:
  explicit OutboxClient(ClientFlaws flaws) : flaws_(flaws), mirror_(!flaws.outbox_in_memory) {}

  void on_start(Context& ctx) override {
    // A reopened tab: what the user had applied but the server had not confirmed is still pending.
    mirror_.restore(ctx, !flaws_.no_rebase);
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::map_set) return;
    mirror_.write(ctx, op);
    if (auto server = ctx.connected_server()) ctx.send(*server, Writer().u8(kOp).bytes(op.encode()).take());
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck && flaws_.subscribe_first && !loaded_) {
      // Kept until the snapshot is in: forgetting a pending edit before the server's state holds
      // it would take it off the user's screen (this baseline breaks writes follow reads only).
      early_acks_.emplace_back(payload);
      return;
    }
    if (tag == kAck) {
      if (!mirror_.read_ack(ctx, r)) return;
    } else if (tag == kUpdate) {
      if (!mirror_.read_update(ctx, r)) return;
    } else if (tag == kSnapshot) {
      if (!mirror_.read_snapshot(ctx, r, true)) return;
      synced_ = mirror_.server();
      loaded_ = true;
      for (const std::string& ack : std::exchange(early_acks_, {})) {
        Reader early(ack);
        early.u8();
        mirror_.read_ack(ctx, early);
      }
    } else {
      return;
    }
    // The user sees the server's state with pending edits on top, in the order they were made.
    mirror_.refresh(!flaws_.no_rebase);
  }

  void on_connected(Context& ctx, NodeId peer) override {
    loaded_ = false;
    early_acks_.clear();  // answers on a connection that is gone: the resends below bring them again
    if (flaws_.says_hello) ctx.send(peer, fields_message(kHello, synced_));
    if (flaws_.subscribe_first) ctx.send_control(peer, Writer().u8(kFetch).take());
    std::vector<const Operation*> resend;
    for (const auto& [id, entry] : mirror_.outbox().entries()) resend.push_back(&entry.op);
    if (flaws_.newest_first) std::reverse(resend.begin(), resend.end());
    for (const Operation* op : resend) ctx.send(peer, Writer().u8(kOp).bytes(op->encode()).take());
  }

  std::optional<State> state() const override { return mirror_.state(); }
  std::uint64_t metadata_bytes() const override { return mirror_.outbox().size() * sizeof(Operation); }

 private:
  ClientFlaws flaws_;
  ServerMirror mirror_;
  Fields synced_;  ///< the last whole snapshot the server sent: what the client cached on its last connect
  bool loaded_ = false;  ///< outbox-map-subscribe-first: this connection's snapshot has arrived
  std::vector<std::string> early_acks_;  ///< outbox-map-subscribe-first: acknowledgements before it
};

/// outbox-map-subscribe-first: how long its server takes to load a snapshot a client asked for.
constexpr Duration kSnapshotLoad = Duration::millis(500);

class OutboxServer final : public Node {
 public:
  explicit OutboxServer(AppliedFields::Dedup dedup = AppliedFields::Dedup::per_client_mark,
                        bool snapshot_on_fetch = false)
      : state_(dedup), snapshot_on_fetch_(snapshot_on_fetch) {}

  void on_start(Context& ctx) override { state_.restore(ctx); }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    // The initial query takes longer than the subscription: the snapshot is loaded, then sent.
    if (tag == kFetch && snapshot_on_fetch_) ctx.set_timer(kSnapshotLoad, from.value);
    if (tag != kOp) return;
    auto op = Operation::decode(r.bytes());
    if (!r.ok() || !op || op->kind != OpKind::map_set) return;
    if (state_.apply(ctx, *op)) {
      ctx.store().flush();  // durable before anyone hears of it
      const std::string update = Writer().u8(kUpdate).u32(op->key.value).u64(op->id.value).take();
      for (NodeId client : ctx.clients()) {
        if (ctx.connected(client)) ctx.send(client, update);
      }
    }
    ctx.send_control(from, Writer().u8(kAck).u64(op->id.value).take());  // a resend is acknowledged again
  }

  void on_connected(Context& ctx, NodeId peer) override {
    if (!snapshot_on_fetch_) ctx.send(peer, encode_snapshot(state_.fields()));
  }

  void on_timer(Context& ctx, std::uint64_t client) override {
    // A snapshot loaded for a client (tag: its node id), sent if it is still connected.
    if (snapshot_on_fetch_ && ctx.connected(NodeId{static_cast<std::uint32_t>(client)})) {
      ctx.send(NodeId{static_cast<std::uint32_t>(client)}, encode_snapshot(state_.fields()));
    }
  }

  std::optional<State> state() const override { return to_state(state_.fields()); }
  std::uint64_t metadata_bytes() const override { return state_.metadata_bytes(); }

 private:
  AppliedFields state_;  ///< the fields, and what makes a resend apply once
  bool snapshot_on_fetch_;  ///< outbox-map-subscribe-first: the snapshot waits for the client's kFetch
};

/// outbox-map-field-shards: how many shards hold the fields, and how long shard k takes to commit one
/// write ((k + 1) times this).
constexpr std::uint32_t kFieldShards = 4;
constexpr Duration kShardCommit = Duration::millis(100);

/// outbox-map-field-shards' server: OutboxServer with each write queued on its field's shard and
/// applied, pushed and acknowledged when the shard commits it. A shard's queue is in memory: a
/// restart forgets writes not yet committed (never acknowledged, so their clients send them again).
class ShardedServer final : public Node {
 public:
  void on_start(Context& ctx) override { state_.restore(ctx); }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    if (r.u8() != kOp) return;
    auto op = Operation::decode(r.bytes());
    if (!r.ok() || !op || op->kind != OpKind::map_set) return;
    const std::uint32_t shard = op->key.value % kFieldShards;
    std::deque<Pending>& queue = shards_[shard];
    if (queue.size() >= kShardQueueMax) return;  // unanswered: its client sends it again on reconnect
    queue.push_back({from, *op});
    if (queue.size() == 1) ctx.set_timer(kShardCommit * (shard + 1), shard);
  }

  void on_timer(Context& ctx, std::uint64_t shard) override {
    std::deque<Pending>& queue = shards_[shard];
    assert(!queue.empty());
    const auto [from, op] = queue.front();
    queue.pop_front();
    // Its lane is its shard: a shard sees one client's writes of its fields in order, the shards do not.
    if (state_.apply(ctx, op, static_cast<std::uint8_t>(shard))) {
      ctx.store().flush();
      const std::string update = Writer().u8(kUpdate).u32(op.key.value).u64(op.id.value).take();
      for (NodeId client : ctx.clients()) {
        if (ctx.connected(client)) ctx.send(client, update);
      }
    }
    if (ctx.connected(from)) ctx.send_control(from, Writer().u8(kAck).u64(op.id.value).take());
    if (!queue.empty()) ctx.set_timer(kShardCommit * (shard + 1), shard);
  }

  void on_connected(Context& ctx, NodeId peer) override { ctx.send(peer, encode_snapshot(state_.fields())); }

  std::optional<State> state() const override { return to_state(state_.fields()); }
  std::uint64_t metadata_bytes() const override { return state_.metadata_bytes(); }

 private:
  struct Pending {
    NodeId from;
    Operation op;
  };
  /// A bound on each shard's backlog: past it a write goes unanswered, as from an overloaded store.
  static constexpr std::size_t kShardQueueMax = 1'024;
  AppliedFields state_;
  std::array<std::deque<Pending>, kFieldShards> shards_;
};

/// The rebuilding server: state in memory only; after a start it adopts the first view a client
/// reports, then applies and acknowledges writes as OutboxServer does (without a store).
class RebuildingServer final : public Node {
 public:
  void on_start(Context&) override {}

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kHello) {
      Fields seen;
      if (!read_fields(r, seen) || rebuilt_) return;
      rebuilt_ = true;
      fields_ = std::move(seen);
      broadcast(ctx, encode_snapshot(fields_));
      return;
    }
    if (tag != kOp) return;
    auto op = Operation::decode(r.bytes());
    if (!r.ok() || !op || op->kind != OpKind::map_set) return;
    rebuilt_ = true;  // nothing to rebuild from once writes arrive
    if (applied_.insert(op->id).second) {
      fields_[op->key] = op->id;
      broadcast(ctx, Writer().u8(kUpdate).u32(op->key.value).u64(op->id.value).take());
    }
    ctx.send_control(from, Writer().u8(kAck).u64(op->id.value).take());
  }

  void on_connected(Context& ctx, NodeId peer) override { ctx.send(peer, encode_snapshot(fields_)); }

  std::optional<State> state() const override { return to_state(fields_); }
  std::uint64_t metadata_bytes() const override { return applied_.size() * sizeof(OpId); }

 private:
  static void broadcast(Context& ctx, const std::string& message) {
    for (NodeId client : ctx.clients()) {
      if (ctx.connected(client)) ctx.send(client, message);
    }
  }

  Fields fields_;
  std::set<OpId> applied_;
  bool rebuilt_ = false;
};

ModelInfo outbox_variant(std::string name, std::string description, ClientFlaws flaws, bool rebuilding_server,
                         std::optional<Invariant> breaks) {
  ModelInfo info{
      .name = std::move(name),
      .description = std::move(description),
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::server_order,
      .breaks = breaks,
      .make_client = [flaws](NodeId) { return std::make_unique<OutboxClient>(flaws); },
      .make_server = nullptr,
      // Writes follow reads: one server applies and pushes every write in one order, after a client's snapshot.
      .writes_follow_reads = OrderPromise::promised,
      .writes_in_order = OrderPromise::promised,
  };
  if (rebuilding_server) {
    info.make_server = [](NodeId) { return std::make_unique<RebuildingServer>(); };
    info.metadata_growth = MetadataGrowth::server_keeps_writes;  // its in-memory set of applied ids
  } else {
    info.make_server = [](NodeId) { return std::make_unique<OutboxServer>(); };
  }
  if (flaws.subscribe_first) {
    info.make_server = [](NodeId) {
      return std::make_unique<OutboxServer>(AppliedFields::Dedup::per_client_mark, true);
    };
  }
  if (flaws.field_shards) info.make_server = [](NodeId) { return std::make_unique<ShardedServer>(); };
  if (flaws.newest_first) {
    // Its server keeps every applied id, so that the reversed resends are applied (out of order)
    // rather than dropped: what the baseline shows is the order, for the monotonic-writes check.
    info.make_server = [](NodeId) { return std::make_unique<OutboxServer>(AppliedFields::Dedup::every_id); };
    info.metadata_growth = MetadataGrowth::server_keeps_writes;
  }
  return info;
}

}  // namespace

ModelInfo outbox_map_newest_first_model() {
  return outbox_variant("outbox-map-newest-first",
                        "outbox-map whose reconnecting clients resend their outbox newest first: one user's offline edits are applied in reverse",
                        ClientFlaws{.newest_first = true}, false, Invariant::monotonic_writes);
}

ModelInfo outbox_map_no_rebase_model() {
  return outbox_variant("outbox-map-no-rebase",
                        "outbox-map whose clients show each server push without their pending edits on top: a user's own edit flickers back",
                        ClientFlaws{.no_rebase = true}, false, Invariant::read_your_writes);
}

ModelInfo outbox_map_subscribe_first_model() {
  return outbox_variant("outbox-map-subscribe-first",
                        "outbox-map whose server pushes to a connection before the client has fetched the snapshot: a write shows before what its writer had read",
                        ClientFlaws{.subscribe_first = true}, false, Invariant::writes_follow_reads);
}

ModelInfo outbox_map_field_shards_model() {
  return outbox_variant("outbox-map-field-shards",
                        "outbox-map whose server commits each field on its own shard, the busier shards slower: one user's edits of two fields reach others out of order",
                        ClientFlaws{.field_shards = true}, false, Invariant::monotonic_writes);
}

ModelInfo outbox_map_rebuilding_server_model() {
  return outbox_variant("outbox-map-rebuilding-server",
                        "outbox-map whose server keeps state in memory and rebuilds it after a restart from the first client that reconnects",
                        ClientFlaws{.says_hello = true}, true, Invariant::lost_acknowledged_write);
}

ModelInfo outbox_map_model() {
  return ModelInfo{
      .name = "outbox-map",
      .description = "server-ordered map; clients persist unsent edits (IndexedDB) and resend them after a reload",
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::server_order,
      .breaks = std::nullopt,
      .make_client = [](NodeId) { return std::make_unique<OutboxClient>(ClientFlaws{}); },
      .make_server = [](NodeId) { return std::make_unique<OutboxServer>(); },
      // Writes follow reads: one server applies and pushes every write in one order, after a client's snapshot.
      .writes_follow_reads = OrderPromise::promised,
      .writes_in_order = OrderPromise::promised,
  };
}

ModelInfo outbox_map_memory_model() {
  return ModelInfo{
      .name = "outbox-map-memory",
      .description = "outbox-map with the outbox in memory only: a tab reload silently drops unsent edits",
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::server_order,
      .breaks = Invariant::silent_rollback,
      .make_client = [](NodeId) { return std::make_unique<OutboxClient>(ClientFlaws{.outbox_in_memory = true}); },
      .make_server = [](NodeId) { return std::make_unique<OutboxServer>(); },
      // Writes follow reads: one server applies and pushes every write in one order, after a client's snapshot.
      .writes_follow_reads = OrderPromise::promised,
      .writes_in_order = OrderPromise::promised,
  };
}

}  // namespace syncstorm
