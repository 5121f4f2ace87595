// replace-all (deliberately buggy): the Redux pattern the article warns about. The server stores
// writes in arrival order and pushes each one to every client as a partial update that names only
// the changed field; the client's reducer then REPLACES its whole local object with what arrived,
// destroying every other field it showed, its own pending writes included, and never tells its
// user anything: it reports writes applied, never acknowledged nor rejected. The canary for silent
// rollbacks (it also leaves clients disagreeing with the server).
#include <map>
#include <memory>
#include <set>

#include "models/kit/fields.hpp"
#include "models/model.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {
namespace {

enum Tag : std::uint8_t {
  kWrite = 1,  ///< client -> server: u64 op, u32 key, u64 oldest unacknowledged op; server -> server
               ///< adds u32 writer
  kAck = 2,    ///< server -> client: u64 op
  kPatch = 3,  ///< server -> clients: one changed field: u32 key, u64 value, u32 writer
  kFull = 4,   ///< server -> client on connect: u32 n, then n x (u32 key, u64 value)
};

constexpr std::uint64_t kTimer = 1;
/// How often a client resends writes still waiting for an acknowledgement.
constexpr Duration kResendPeriod = Duration::seconds(1);

class ReplaceAllClient final : public Node {
 public:
  void on_start(Context& ctx) override {
    restore(ctx);
    ctx.set_timer(kResendPeriod, kTimer);
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::map_set) return;
    shown_[op.key] = op.id;
    outbox_[op.id] = op.key;
    persist(ctx);
    ctx.report(op.id, Lifecycle::applied);
    if (auto server = ctx.connected_server()) ctx.send(*server, encode_write(op.id, op.key));
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      // The acknowledgement only empties the outbox, as a socket.io ack callback would: the naive
      // app shows no "saved" state, so its user is never told anything, good or bad.
      const OpId op{r.u64()};
      if (!r.ok() || outbox_.erase(op) == 0) return;
    } else if (tag == kPatch) {
      const KeyId key{r.u32()};
      const OpId value{r.u64()};
      const std::uint32_t writer = r.u32();
      if (!r.ok()) return;
      shown_ = Fields{{key, value}};  // THE BUG: the reducer replaces the object with the partial update
      if (writer != ctx.self().value) ctx.report(value, Lifecycle::seen);
    } else if (tag == kFull) {
      Fields fields;
      if (!read_fields(r, fields)) return;
      shown_ = std::move(fields);
    } else {
      return;
    }
    persist(ctx);
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTimer) return;
    if (auto server = ctx.connected_server()) resend(ctx, *server);
    ctx.set_timer(kResendPeriod, kTimer);
  }

  void on_connected(Context& ctx, NodeId peer) override { resend(ctx, peer); }

  std::optional<State> state() const override { return to_state(shown_); }
  std::uint64_t metadata_bytes() const override { return outbox_.size() * (sizeof(OpId) + sizeof(KeyId)); }

 private:
  std::string encode_write(OpId op, KeyId key) const {
    const OpId oldest = outbox_.empty() ? op : outbox_.begin()->first;
    return Writer().u8(kWrite).u64(op.value).u32(key.value).u64(oldest.value).take();
  }

  void resend(Context& ctx, NodeId server) {
    for (const auto& [op, key] : outbox_) ctx.send(server, encode_write(op, key));
  }

  void persist(Context& ctx) {
    Writer w;
    write_fields(w, shown_);
    w.u32(static_cast<std::uint32_t>(outbox_.size()));
    for (const auto& [op, key] : outbox_) w.u64(op.value).u32(key.value);
    ctx.store().put("replace/client", w.take());
    ctx.store().flush();
  }

  void restore(Context& ctx) {
    const auto saved = ctx.store().get("replace/client");
    if (!saved) return;
    Reader r(*saved);
    Fields shown;
    read_fields(r, shown);  // a malformed record leaves r failed: checked below
    std::map<OpId, KeyId> outbox;
    const std::uint32_t n = r.u32();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      const OpId op{r.u64()};
      outbox[op] = KeyId{r.u32()};
    }
    if (!r.ok()) return;
    shown_ = std::move(shown);
    outbox_ = std::move(outbox);
  }

  Fields shown_;
  std::map<OpId, KeyId> outbox_;  ///< applied here, not yet acknowledged: op -> field
};

/// The ops of one client that the server applied and the client may still resend. Every write names
/// the client's oldest unacknowledged op; everything older is never resent, so it is forgotten.
struct Applied {
  OpId floor;  ///< the largest "oldest unacknowledged op" the client has named
  std::set<OpId> ops;

  void forget_before(OpId oldest) {
    if (!(floor < oldest)) return;
    floor = oldest;
    ops.erase(ops.begin(), ops.lower_bound(oldest));
  }
};

/// One field at the server: the write that holds it and the client that made it.
struct Entry {
  OpId value;
  std::uint32_t writer = 0;
};

class ReplaceAllServer final : public Node {
 public:
  void on_start(Context& ctx) override { restore(ctx); }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    if (r.u8() != kWrite) return;
    const OpId op{r.u64()};
    const KeyId key{r.u32()};
    const OpId oldest{r.u64()};
    const bool from_server = is_server(ctx, from);
    // A write relayed by another server names its writing client; one from a client is its own.
    const std::uint32_t writer = from_server ? r.u32() : from.value;
    if (!r.ok() || !op.valid()) return;
    // The server itself is correct: it applies each op once, and a client's older write reordered
    // behind its newer one to the same field does not overwrite it.
    Applied& seen = applied_[writer];
    seen.forget_before(oldest);
    // Ops below the floor were acknowledged long ago: a late datagram duplicate must not reapply them.
    const bool fresh = !(op < seen.floor) && seen.ops.insert(op).second;
    Entry& entry = fields_[key];
    const bool wins = fresh && !(entry.writer == writer && op < entry.value);
    if (wins) entry = Entry{op, writer};
    if (fresh) persist(ctx);  // durable before the acknowledgement
    if (!from_server) ctx.send_control(from, Writer().u8(kAck).u64(op.value).take());
    if (!fresh) return;
    if (wins) {
      const std::string patch = Writer().u8(kPatch).u32(key.value).u64(op.value).u32(writer).take();
      for (NodeId client : ctx.clients()) {
        if (ctx.connected(client)) ctx.send(client, patch);
      }
    }
    if (from_server) return;
    const std::string forward = Writer().u8(kWrite).u64(op.value).u32(key.value).u64(oldest.value).u32(writer).take();
    for (NodeId server : ctx.servers()) {
      if (server != ctx.self()) ctx.send(server, forward);
    }
  }

  void on_connected(Context& ctx, NodeId peer) override {
    Writer w;
    w.u8(kFull);
    write_fields(w, visible());
    ctx.send(peer, w.take());
  }

  std::optional<State> state() const override { return to_state(visible()); }
  std::uint64_t metadata_bytes() const override {
    std::uint64_t ops = 0;
    for (const auto& [writer, applied] : applied_) ops += applied.ops.size();
    return fields_.size() * sizeof(std::uint32_t) + ops * sizeof(OpId);
  }

 private:
  static bool is_server(const Context& ctx, NodeId node) {
    for (NodeId s : ctx.servers()) {
      if (s == node) return true;
    }
    return false;
  }

  Fields visible() const {
    Fields fields;
    for (const auto& [key, entry] : fields_) fields[key] = entry.value;
    return fields;
  }

  void persist(Context& ctx) {
    Writer w;
    w.u32(static_cast<std::uint32_t>(fields_.size()));
    for (const auto& [key, entry] : fields_) w.u32(key.value).u64(entry.value.value).u32(entry.writer);
    w.u32(static_cast<std::uint32_t>(applied_.size()));
    for (const auto& [writer, applied] : applied_) {
      w.u32(writer).u64(applied.floor.value).u32(static_cast<std::uint32_t>(applied.ops.size()));
      for (OpId op : applied.ops) w.u64(op.value);
    }
    ctx.store().put("replace/server", w.take());
    ctx.store().flush();
  }

  void restore(Context& ctx) {
    const auto saved = ctx.store().get("replace/server");
    if (!saved) return;
    Reader r(*saved);
    std::map<KeyId, Entry> fields;
    const std::uint32_t n = r.u32();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      const KeyId key{r.u32()};
      const OpId value{r.u64()};
      fields[key] = Entry{value, r.u32()};
    }
    std::map<std::uint32_t, Applied> applied;
    const std::uint32_t writers = r.u32();
    for (std::uint32_t i = 0; i < writers && r.ok(); ++i) {
      Applied& one = applied[r.u32()];
      one.floor = OpId{r.u64()};
      const std::uint32_t count = r.u32();
      for (std::uint32_t k = 0; k < count && r.ok(); ++k) one.ops.insert(OpId{r.u64()});
    }
    if (!r.ok()) return;  // a corrupt store is treated as empty
    fields_ = std::move(fields);
    applied_ = std::move(applied);
  }

  std::map<KeyId, Entry> fields_;
  /// Per writing client: the ops applied that it may still resend (those from its oldest
  /// unacknowledged op on; it names that op in every write).
  std::map<std::uint32_t, Applied> applied_;
};

}  // namespace

ModelInfo replace_all_model() {
  ModelInfo info;
  info.name = "replace-all";
  info.description = "server pushes one changed field and the client reducer replaces its whole object with it";
  info.data_type = DataType::map;
  info.topology = Topology::client_server;
  info.rule = SupersedeRule::server_order;
  info.breaks = Invariant::silent_rollback;
  info.make_client = [](NodeId) { return std::make_unique<ReplaceAllClient>(); };
  info.make_server = [](NodeId) { return std::make_unique<ReplaceAllServer>(); };
  return info;
}

}  // namespace syncstorm
