// newest-id-wins-map: outbox-map whose clients ignore a pushed update older than the value they hold.
//
// What the team thought: pushes can race (a snapshot and an update in flight together), so a client
// should never step back: operation ids grow with time, so an update carrying a smaller id than the
// field's current value is stale and can be dropped. A version check of this kind ("ignore if not
// newer") is a common guard in hand-written Redux reducers and cache-update code.
//
// What goes wrong: the server orders writes by arrival, not by id. A write made offline arrives late
// with an old id; the server applies it on top of newer ones, but every connected client drops the
// push, keeping the newer value the server has replaced. The clients disagree with the server until
// the field is written again or they reconnect. The order is decided one way on the server and
// another on the clients.
#include "models/bugs/parts.hpp"

namespace syncstorm {
namespace {

class NewestOnlyClient final : public bugs::MapClient {
 public:
  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    if (r.u8() == bugs::kMapUpdate) {
      const KeyId key{r.u32()};
      const OpId value{r.u64()};
      if (!r.ok()) return;
      auto held = mirror_.server().find(key);
      if (held != mirror_.server().end() && value < held->second) return;  // the mistaken branch
    }
    MapClient::on_message(ctx, from, payload);
  }
};

}  // namespace

ModelInfo newest_id_wins_map_model() {
  return bugs::bug_suite_model(
      "newest-id-wins-map", "outbox-map whose clients drop pushed updates with an older id than they hold: late offline writes diverge",
      DataType::map, Invariant::convergence, [](NodeId) { return std::make_unique<NewestOnlyClient>(); },
      [](NodeId) { return std::make_unique<bugs::MapServer>(); });
}

}  // namespace syncstorm
