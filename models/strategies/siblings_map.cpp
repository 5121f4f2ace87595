// siblings-map: a deliberately buggy baseline. Each field is a multi-value register: every value a
// replica learns of becomes a sibling with its dot (writer and counter), and the register shows the
// value the server ordered last. The bug is the one multi-value registers are known for: a sibling
// the shown value has superseded is never discarded, so every write leaves one more sibling on every
// replica, forever. Its data is right; its metadata grows with the number of writes while the visible
// state (one value per field) does not, and stays far below any absolute bound in a short run. The
// bounded-metadata growth check catches it.
//
// The sync itself is echo's: clients apply locally and send; the server applies in arrival order,
// de-duplicates, makes the write durable, acknowledges and sends its whole state to every client.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "models/kit/fields.hpp"
#include "models/kit/store_keys.hpp"
#include "models/model.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {
namespace {

enum Tag : std::uint8_t { kOp = 1, kAck = 2, kState = 3 };

/// A sibling as a dotted multi-value register keeps it: the value and the dot that wrote it.
struct Sibling {
  KeyId key;
  OpId value;
  NodeId writer;
  std::uint64_t counter = 0;
};

std::string encode_state(const Fields& fields) { return fields_message(kState, fields); }

std::string outbox_key(OpId id) { return numbered_key("outbox/", id.value); }

class SiblingsClient final : public Node {
 public:
  void on_start(Context& ctx) override {
    for (const auto& [key, bytes] : ctx.store().scan("outbox/")) {
      if (auto op = Operation::decode(bytes)) {
        outbox_[op->id] = *op;
        shown_[op->key] = op->id;
      }
    }
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::map_set) return;
    keep_sibling(op.key, op.id, op.client);
    shown_[op.key] = op.id;
    outbox_[op.id] = op;
    ctx.store().put(outbox_key(op.id), op.encode());
    ctx.store().flush();
    ctx.report(op.id, Lifecycle::applied);
    if (auto server = ctx.connected_server()) ctx.send(*server, Writer().u8(kOp).bytes(op.encode()).take());
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      const OpId id{r.u64()};
      if (r.ok() && outbox_.erase(id) > 0) {
        ctx.store().erase(outbox_key(id));
        ctx.report(id, Lifecycle::acknowledged);
      }
    } else if (tag == kState) {
      Fields server;
      if (!read_fields(r, server)) return;
      for (const auto& [key, value] : server) {
        auto it = shown_.find(key);
        if (it == shown_.end() || it->second != value) ctx.report(value, Lifecycle::seen);
        keep_sibling(key, value, NodeId{});
      }
      shown_ = std::move(server);
      for (const auto& [id, op] : outbox_) shown_[op.key] = id;  // pending writes stay visible
    }
  }

  void on_connected(Context& ctx, NodeId peer) override {
    for (const auto& [id, op] : outbox_) ctx.send(peer, Writer().u8(kOp).bytes(op.encode()).take());
  }

  std::optional<State> state() const override { return to_state(shown_); }
  std::uint64_t metadata_bytes() const override {
    return outbox_.size() * sizeof(Operation) + siblings_.size() * sizeof(Sibling);
  }

 private:
  /// The bug: a new value joins the register's siblings and nothing it supersedes ever leaves.
  void keep_sibling(KeyId key, OpId value, NodeId writer) {
    if (!known_.insert(value).second) return;
    siblings_.push_back(Sibling{key, value, writer, ++counter_});
  }

  Fields shown_;
  std::map<OpId, Operation> outbox_;  ///< applied here, not yet acknowledged by the server
  std::vector<Sibling> siblings_;     ///< every value ever seen, superseded or not
  std::set<OpId> known_;              ///< the values among siblings_, so that each joins once
  std::uint64_t counter_ = 0;
};

class SiblingsServer final : public Node {
 public:
  void on_start(Context& ctx) override {
    for (const auto& [key, bytes] : ctx.store().scan("log/")) {
      if (auto op = Operation::decode(bytes)) {
        applied_.insert(op->id);
        fields_[op->key] = op->id;
        ++log_length_;
      }
    }
  }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    if (r.u8() != kOp) return;
    auto op = Operation::decode(r.bytes());
    if (!r.ok() || !op || op->kind != OpKind::map_set) return;
    if (applied_.insert(op->id).second) {
      fields_[op->key] = op->id;
      ctx.store().put(log_key(++log_length_), op->encode());
      ctx.store().flush();  // durable before acknowledged
    }
    ctx.send_control(from, Writer().u8(kAck).u64(op->id.value).take());
    const std::string state = encode_state(fields_);
    for (NodeId client : ctx.clients()) {
      if (ctx.connected(client)) ctx.send(client, state);
    }
  }

  void on_connected(Context& ctx, NodeId peer) override { ctx.send(peer, encode_state(fields_)); }

  std::optional<State> state() const override { return to_state(fields_); }
  std::uint64_t metadata_bytes() const override { return applied_.size() * sizeof(OpId); }

 private:
  static std::string log_key(std::uint64_t position) { return numbered_key("log/", position); }

  Fields fields_;
  std::set<OpId> applied_;
  std::uint64_t log_length_ = 0;
};

}  // namespace

ModelInfo siblings_map_model() {
  return ModelInfo{
      .name = "siblings-map",
      .description = "multi-value register map that never discards superseded siblings: metadata grows with "
                     "every write",
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::server_order,
      .breaks = Invariant::bounded_metadata,
      .make_client = [](NodeId) { return std::make_unique<SiblingsClient>(); },
      .make_server = [](NodeId) { return std::make_unique<SiblingsServer>(); },
      // Its server keeps echo's log and applied ids by design; the clients' siblings are the bug.
      .metadata_growth = MetadataGrowth::server_keeps_writes,
  };
}

}  // namespace syncstorm
