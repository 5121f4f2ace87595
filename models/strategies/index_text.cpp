// index-text (buggy): collaborative text synced by index, the way a first attempt without operational
// transformation or a sequence CRDT does it. A client applies its edit at once and sends "insert X at
// index i" or "delete at index i"; the server applies each edit at the index it names, in arrival
// order, stores it, acknowledges it and passes it on; every other client applies it at the same
// index. Nothing moves an index past the edits that were concurrent with it, so two users typing at
// once see their characters in different orders, and a delete removes whatever sits at its index
// when it arrives, not the character its user removed. A (re)connect sends the server's whole text,
// which the client shows with its unanswered edits replayed on top: it repairs the divergence until
// the next concurrent edit.
//
// It is the text canary: the checkers' text paths (element order in convergence, an element gone
// without its delete) must catch it through the whole engine. It breaks convergence first; its
// wrong deletes also lose acknowledged inserts.
#include <algorithm>
#include <cassert>
#include <map>
#include <string>
#include <vector>

#include "models/kit/outbox.hpp"
#include "models/model.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {
namespace {

enum Tag : std::uint8_t { kEdit = 1, kAck = 2, kText = 3 };

constexpr std::size_t kMaxElements = 1'000'000;  // a run's text never comes near this
const std::string kTextKey = "index-text/text";
const std::string kMarksKey = "index-text/marks";

/// The index a user's position names in a text of `length` elements.
std::size_t index_at(std::uint32_t position_ppm, std::size_t length) {
  return static_cast<std::size_t>(static_cast<std::uint64_t>(length) * position_ppm / 1'000'000);
}

/// Applies an edit at `index` (clamped to the text) and returns the element a delete removed (0
/// when there was none). An insert of an element already present changes nothing.
OpId apply_at(std::vector<OpId>& text, const Operation& op, std::size_t index) {
  if (op.kind == OpKind::text_insert) {
    if (std::find(text.begin(), text.end(), op.id) != text.end()) return OpId{0};
    assert(text.size() < kMaxElements);
    text.insert(text.begin() + static_cast<std::ptrdiff_t>(std::min(index, text.size())), op.id);
    return OpId{0};
  }
  if (text.empty()) return OpId{0};
  const std::size_t at = std::min(index, text.size() - 1);
  const OpId removed = text[at];
  text.erase(text.begin() + static_cast<std::ptrdiff_t>(at));
  return removed;
}

std::string edit_message(const Operation& op, std::uint64_t index) {
  return Writer().u8(kEdit).u64(index).bytes(op.encode()).take();
}

std::string encode_text(const std::vector<OpId>& text) {
  Writer w;
  w.u32(static_cast<std::uint32_t>(text.size()));
  for (OpId id : text) w.u64(id.value);
  return w.take();
}

bool decode_text(Reader& r, std::vector<OpId>& text) {
  const std::uint32_t n = r.u32();
  if (!r.ok() || n > kMaxElements) return false;
  text.clear();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) text.push_back(OpId{r.u64()});
  return r.ok();
}

State text_state(const std::vector<OpId>& text) {
  State s;
  s.type = DataType::text;
  s.text = text;
  return s;
}

class IndexTextClient final : public Node {
 public:
  // A reloaded tab finds its unanswered edits in IndexedDB and shows them again.
  void on_start(Context& ctx) override {
    outbox_.restore(ctx);
    replay_pending();
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (data_type_of(op.kind) != DataType::text) return;
    const std::size_t index = index_at(op.position_ppm, text_.size());
    if (op.kind == OpKind::text_delete && text_.empty()) {
      ctx.report(op.id, Lifecycle::rejected);  // nothing to delete
      return;
    }
    const std::size_t at = op.kind == OpKind::text_insert ? std::min(index, text_.size()) : std::min(index, text_.size() - 1);
    outbox_.add(ctx, op, at);  // durable before the user sees it applied
    const OpId removed = apply_at(text_, op, at);
    ctx.report(op.id, Lifecycle::applied, removed);
    if (auto server = ctx.connected_server()) ctx.send(*server, edit_message(op, at));
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      const OpId id{r.u64()};
      if (r.ok() && outbox_.answer(ctx, id)) ctx.report(id, Lifecycle::acknowledged);
    } else if (tag == kEdit) {
      const std::uint64_t index = r.u64();
      auto op = Operation::decode(r.bytes());
      if (!r.ok() || !op || data_type_of(op->kind) != DataType::text) return;
      apply_at(text_, *op, static_cast<std::size_t>(std::min<std::uint64_t>(index, kMaxElements)));
      if (op->kind == OpKind::text_insert) ctx.report(op->id, Lifecycle::seen);
    } else if (tag == kText) {
      Reader body(r.bytes());
      std::vector<OpId> text;
      if (!r.ok() || !decode_text(body, text)) return;
      text_ = std::move(text);
      replay_pending();
    }
  }

  void on_connected(Context& ctx, NodeId peer) override {
    // Oldest first, as the user made them: the server's marks rely on that order.
    for (const auto& [id, entry] : outbox_.entries()) ctx.send(peer, edit_message(entry.op, entry.base));
  }

  std::optional<State> state() const override { return text_state(text_); }
  std::uint64_t metadata_bytes() const override { return outbox_.size() * sizeof(Operation); }

 private:
  /// Puts the unanswered edits on top of the text, oldest first, at the indices they were made at.
  void replay_pending() {
    for (const auto& [id, entry] : outbox_.entries()) apply_at(text_, entry.op, entry.base);
  }

  std::vector<OpId> text_;
  Outbox outbox_;  // entry.base: the index the edit was made at
};

class IndexTextServer final : public Node {
 public:
  // A restarted server reloads its text and its marks.
  void on_start(Context& ctx) override {
    if (auto text = ctx.store().get(kTextKey)) {
      Reader r(*text);
      decode_text(r, text_);
    }
    if (auto marks = ctx.store().get(kMarksKey)) {
      Reader r(*marks);
      const std::uint32_t n = r.u32();
      for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        const NodeId client{static_cast<std::uint32_t>(r.u64())};
        marks_[client] = OpId{r.u64()};
      }
    }
  }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    if (r.u8() != kEdit) return;
    const std::uint64_t index = r.u64();
    auto op = Operation::decode(r.bytes());
    if (!r.ok() || !op || data_type_of(op->kind) != DataType::text) return;
    // A client sends its edits oldest first, so one at or below its mark is a resend: acknowledged
    // again, not applied again. Durable before acknowledged.
    OpId& mark = marks_[from];
    const bool fresh = mark < op->id;
    if (fresh) {
      apply_at(text_, *op, static_cast<std::size_t>(std::min<std::uint64_t>(index, kMaxElements)));
      mark = op->id;
      ctx.store().put(kTextKey, encode_text(text_));
      ctx.store().put(kMarksKey, encode_marks());
      ctx.store().flush();
    }
    ctx.send_control(from, Writer().u8(kAck).u64(op->id.value).take());
    if (!fresh) return;
    const std::string edit = edit_message(*op, index);
    for (NodeId client : ctx.clients()) {
      if (client != from && ctx.connected(client)) ctx.send(client, edit);
    }
  }

  void on_connected(Context& ctx, NodeId peer) override {
    ctx.send(peer, Writer().u8(kText).bytes(encode_text(text_)).take());
  }

  std::optional<State> state() const override { return text_state(text_); }
  std::uint64_t metadata_bytes() const override { return marks_.size() * (sizeof(NodeId) + sizeof(OpId)); }

 private:
  std::string encode_marks() const {
    Writer w;
    w.u32(static_cast<std::uint32_t>(marks_.size()));
    for (const auto& [client, mark] : marks_) w.u64(client.value).u64(mark.value);
    return w.take();
  }

  std::vector<OpId> text_;
  std::map<NodeId, OpId> marks_;  // per client: the newest edit applied
};

}  // namespace

ModelInfo index_text_model() {
  return ModelInfo{
      .name = "index-text",
      .description = "text synced by index without transformation: concurrent edits land at other places on each replica",
      .data_type = DataType::text,
      .topology = Topology::client_server,
      .rule = SupersedeRule::add_wins,
      .breaks = Invariant::convergence,
      .make_client = [](NodeId) { return std::make_unique<IndexTextClient>(); },
      .make_server = [](NodeId) { return std::make_unique<IndexTextServer>(); },
  };
}

}  // namespace syncstorm
