// reused-mutation-id-map: outbox-map whose clients number their writes with a counter that starts
// again at 1 after every reload.
//
// What the team thought: the server de-duplicates resends by (client, mutation number), keeping the
// newest number applied per client, as Replicache's lastMutationID does. The client id survives a
// reload (it is the node), the outbox survives a reload (IndexedDB), so they kept the mutation
// counter in memory: "the numbers only need to grow within a session".
//
// What goes wrong: after a reload the counter starts again at 1, below the mark the server holds for
// this client. Every new write of the reopened tab is taken for a resend: acknowledged, never
// applied. Replicache gives every tab load a fresh client id for exactly this reason; apps that
// persisted the id but not the counter lost writes this way.
#include "models/bugs/parts.hpp"

namespace syncstorm {
namespace {

class SessionCounterClient final : public bugs::MapClient {
 protected:
  // The mistaken branch: the number restarts with the process, the server's mark does not.
  std::uint64_t next_mutation(Context&, const Operation&) override { return ++session_mutations_; }

 private:
  std::uint64_t session_mutations_ = 0;  ///< in memory: 0 again after a reload
};

}  // namespace

ModelInfo reused_mutation_id_map_model() {
  return bugs::bug_suite_model(
      "reused-mutation-id-map", "outbox-map whose mutation numbers restart at 1 after a reload: the server drops new writes as resends",
      DataType::map, Invariant::lost_acknowledged_write, [](NodeId) { return std::make_unique<SessionCounterClient>(); },
      [](NodeId) { return std::make_unique<bugs::MapServer>(); });
}

}  // namespace syncstorm
