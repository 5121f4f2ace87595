// restored-not-resent-map: outbox-map whose reopened tab shows the edits it restored from its store
// but never sends them.
//
// What the team thought: the outbox is in IndexedDB, the view is rebuilt from it on load, so a
// reload keeps the user's pending edits. The send queue, though, is an in-memory list filled by the
// write path; the load path only fills the view.
//
// What goes wrong: edits made before a reload that had not reached the server show on the reopened
// tab for ever and reach no other replica. A bug of this shape is common in hand-written offline
// queues (the "sync on reconnect" loop iterates a queue the restore never filled); Firebase's and
// Replicache's clients resend persisted mutations on start for this reason.
#include <set>

#include "models/bugs/parts.hpp"

namespace syncstorm {
namespace {

class ForgetfulQueueClient final : public bugs::MapClient {
 public:
  void on_start(Context& ctx) override {
    MapClient::on_start(ctx);
    for (const auto& [id, entry] : mirror_.outbox().entries()) restored_.insert(id);
  }
  void on_connected(Context& ctx, NodeId peer) override {
    for (const auto& [id, entry] : mirror_.outbox().entries()) {
      if (restored_.contains(id)) continue;  // the mistaken branch: only the in-memory queue is sent
      if (!send_pending(ctx, peer, entry)) return;
    }
  }

 private:
  std::set<OpId> restored_;  ///< pending writes this incarnation found in its store
};

}  // namespace

ModelInfo restored_not_resent_map_model() {
  return bugs::bug_suite_model(
      "restored-not-resent-map", "outbox-map whose reopened tab shows restored pending edits but never sends them",
      DataType::map, Invariant::convergence, [](NodeId) { return std::make_unique<ForgetfulQueueClient>(); },
      [](NodeId) { return std::make_unique<bugs::MapServer>(); });
}

}  // namespace syncstorm
