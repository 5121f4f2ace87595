// versioned-map: event schemas that change while old clients are still running ("plan for
// versioning: as your application evolves, the shape of state and the semantics of events will
// change. Use a schema registry or versioned events to avoid breaking existing clients").
//
// The server and half the clients (odd positions in the client list) run schema 2, where an event
// is FieldChanged{schema = 2, collection, key, value, author}. The other clients still run the old
// app, schema 1, where an event is FieldSet{key, value} and the author is implied by the connection.
// A client says which schema it speaks when it connects.
// - versioned-map upcasts: the server turns a schema-1 event into schema 2 (collection 0, author =
//   the connection's client) and downcasts what it sends to a schema-1 client. Everyone converges.
// - versioned-map-no-upcast has a schema-2-only server: it drops what it cannot parse and sends
//   schema 2 to everyone, and old clients ignore what they cannot parse. Old clients' writes are
//   never saved and they never see the others': the checkers report divergence.
// Apart from the schemas this is the outbox-map strategy: outbox, resend on reconnect, server dedup,
// persistence before acknowledgement, a snapshot when a client says hello on its connection, and
// pushes to every client that has said it (never before its snapshot).
#include <algorithm>
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

enum Tag : std::uint8_t { kHello = 1, kEvent = 2, kAck = 3, kSnapshot = 4 };

constexpr std::uint8_t kOldSchema = 1;
constexpr std::uint8_t kNewSchema = 2;

/// A field change in the server's (new) shape.
struct Change {
  std::uint32_t collection = 0;
  KeyId key;
  OpId value;
  NodeId author;
};

std::string encode_event(std::uint8_t schema, const Change& c) {
  Writer w;
  w.u8(kEvent);
  if (schema == kOldSchema) return w.u32(c.key.value).u64(c.value.value).take();
  return w.u8(kNewSchema).u32(c.collection).u32(c.key.value).u64(c.value.value).u32(c.author.value).take();
}

/// Parses an event body (after the tag) written in `schema`; schema 1 bodies need the sender as author.
std::optional<Change> decode_event(std::uint8_t schema, Reader& r, NodeId sender) {
  Change c;
  if (schema == kOldSchema) {
    c.key = KeyId{r.u32()};
    c.value = OpId{r.u64()};
    c.author = sender;
  } else {
    if (r.u8() != kNewSchema) return std::nullopt;
    c.collection = r.u32();
    c.key = KeyId{r.u32()};
    c.value = OpId{r.u64()};
    c.author = NodeId{r.u32()};
  }
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return c;
}

class VersionedClient final : public Node {
 public:
  void on_start(Context& ctx) override {
    const auto clients = ctx.clients();
    const auto position = std::find(clients.begin(), clients.end(), ctx.self()) - clients.begin();
    schema_ = position % 2 == 0 ? kOldSchema : kNewSchema;
    outbox_.restore(ctx);
    outbox_.overlay(shown_);
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::map_set) return;
    outbox_.add(ctx, op);
    shown_[op.key] = op.id;
    ctx.report(op.id, Lifecycle::applied);
    if (auto server = ctx.connected_server()) send(ctx, *server, op);
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      const OpId id{r.u64()};
      if (r.ok() && outbox_.answer(ctx, id)) ctx.report(id, Lifecycle::acknowledged);
    } else if (tag == kEvent) {
      auto change = decode_event(schema_, r, NodeId{});
      if (!change) return;  // a shape this app version does not know
      server_[change->key] = change->value;
      ctx.report(change->value, Lifecycle::seen);
    } else if (tag == kSnapshot) {
      Fields fresh;
      const std::uint32_t n = r.u32();
      for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        const std::string_view body = r.bytes();
        Reader e(body);
        if (e.u8() != kEvent) return;
        auto change = decode_event(schema_, e, NodeId{});
        if (!change) return;
        fresh[change->key] = change->value;
      }
      if (!r.ok()) return;
      server_ = std::move(fresh);
    }
    shown_ = server_;
    outbox_.overlay(shown_);
  }

  void on_connected(Context& ctx, NodeId peer) override {
    ctx.send_control(peer, Writer().u8(kHello).u8(schema_).take());
    for (const auto& [id, entry] : outbox_.entries()) send(ctx, peer, entry.op);
  }

  std::optional<State> state() const override { return to_state(shown_); }
  std::uint64_t metadata_bytes() const override { return outbox_.size() * sizeof(Operation); }

 private:
  void send(Context& ctx, NodeId to, const Operation& op) const {
    ctx.send(to, encode_event(schema_, Change{0, op.key, op.id, op.client}));
  }

  std::uint8_t schema_ = kNewSchema;
  Fields server_;
  Fields shown_;
  Outbox outbox_;
};

class VersionedServer final : public Node {
 public:
  explicit VersionedServer(bool upcast) : upcast_(upcast) {}

  void on_start(Context& ctx) override { state_.restore(ctx); }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kHello) {
      const std::uint8_t schema = r.u8();
      if (r.ok() && (schema == kOldSchema || schema == kNewSchema)) schemas_[from] = schema;
      send_snapshot(ctx, from);
      return;
    }
    if (tag != kEvent) return;
    auto change = decode_event(upcast_ ? schema_of(from) : kNewSchema, r, from);
    if (!change || change->author != from) return;
    if (state_.apply(ctx, change->author, change->key, change->value)) publish(ctx, *change);
    ctx.send_control(from, Writer().u8(kAck).u64(change->value.value).take());
  }

  void on_disconnected(Context&, NodeId peer) override { schemas_.erase(peer); }

  std::optional<State> state() const override { return to_state(state_.fields()); }
  std::uint64_t metadata_bytes() const override { return state_.metadata_bytes() + schemas_.size() * 5; }

 private:
  std::uint8_t schema_of(NodeId client) const {
    auto it = schemas_.find(client);
    return it == schemas_.end() ? kNewSchema : it->second;
  }
  /// What a client receives: downcast to its schema when upcasting is on, the server's schema otherwise.
  std::uint8_t outgoing_schema(NodeId client) const { return upcast_ ? schema_of(client) : kNewSchema; }

  /// Tells every client that said hello on its connection of a newly applied change, each in its
  /// own schema. One still to say hello gets this change in the snapshot its hello asks for: a push
  /// ahead of that snapshot would show it this change without the older ones its writer had read
  /// (and, to an old client, in a schema it cannot parse).
  void publish(Context& ctx, const Change& c) {
    ctx.store().flush();  // durable before anyone hears of it
    for (const auto& [client, schema] : schemas_) {
      if (ctx.connected(client)) ctx.send(client, encode_event(outgoing_schema(client), c));
    }
  }

  void send_snapshot(Context& ctx, NodeId to) {
    Writer w;
    w.u8(kSnapshot).u32(static_cast<std::uint32_t>(state_.fields().size()));
    for (const auto& [key, value] : state_.fields()) w.bytes(encode_event(outgoing_schema(to), Change{0, key, value, NodeId{}}));
    ctx.send(to, w.take());
  }

  bool upcast_;
  AppliedFields state_;
  std::map<NodeId, std::uint8_t> schemas_;  ///< what each connected client said it speaks
};

ModelInfo make(std::string name, std::string description, bool upcast) {
  return ModelInfo{
      .name = std::move(name),
      .description = std::move(description),
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::server_order,
      .breaks = upcast ? std::nullopt : std::optional<Invariant>(Invariant::convergence),
      .make_client = [](NodeId) { return std::make_unique<VersionedClient>(); },
      .make_server = [upcast](NodeId) { return std::make_unique<VersionedServer>(upcast); },
      // Writes follow reads: one server applies and pushes every write in one order, after a client's snapshot.
      .writes_follow_reads = OrderPromise::promised,
      .writes_in_order = OrderPromise::promised,
  };
}

}  // namespace

ModelInfo versioned_map_model() {
  return make("versioned-map",
              "half the clients speak an old event schema; the server upcasts and downcasts", true);
}

ModelInfo versioned_map_no_upcast_model() {
  return make("versioned-map-no-upcast",
              "versioned-map whose server speaks only the new schema: old clients neither save nor see writes",
              false);
}

}  // namespace syncstorm
