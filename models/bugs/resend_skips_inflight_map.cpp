// resend-skips-inflight-map: outbox-map whose clients, after a reconnect, resend only the writes
// they never sent.
//
// What the team thought: a write that went out on the socket reached the server ("TCP is
// reliable"); only writes made while offline need sending on reconnect, and resending the others
// would only make the server de-duplicate them. So each outbox entry carries a `sent` flag.
//
// What goes wrong: a write sent just before the connection dies is lost with it, and its flag says
// it was sent. It stays in the outbox and on the user's screen for ever, and no other replica ever
// sees it. A WebSocket's send() returning succeeds long before the bytes reach the server; the
// socket.io and ShareDB clients keep their in-flight operations apart and resend them after a
// reconnect for this reason.
#include <set>

#include "models/bugs/parts.hpp"

namespace syncstorm {
namespace {

class SentFlagClient final : public bugs::MapClient {
 public:
  void on_user_operation(Context& ctx, const Operation& op) override {
    MapClient::on_user_operation(ctx, op);
    if (ctx.connected_server()) sent_.insert(op.id);
  }
  void on_connected(Context& ctx, NodeId peer) override {
    for (const auto& [id, entry] : mirror_.outbox().entries()) {
      if (sent_.contains(id)) continue;  // the mistaken branch: "it went out, so it arrived"
      if (!send_pending(ctx, peer, entry)) return;
      sent_.insert(id);
    }
  }

 private:
  std::set<OpId> sent_;  ///< writes handed to a connection, answered or not
};

}  // namespace

ModelInfo resend_skips_inflight_map_model() {
  return bugs::bug_suite_model(
      "resend-skips-inflight-map", "outbox-map that resends only never-sent writes on reconnect: a write in flight when the connection dies never arrives",
      DataType::map, Invariant::convergence, [](NodeId) { return std::make_unique<SentFlagClient>(); },
      [](NodeId) { return std::make_unique<bugs::MapServer>(); });
}

}  // namespace syncstorm
