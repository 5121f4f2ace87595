// volatile-dedup-counter: a delta counter whose server keeps its de-duplication table in memory.
//
// What the team thought: the total is in the database and flushed before every acknowledgement; the
// table of counted deltas per client only guards against retries, which come within a second, so an
// in-process map will do, and a restart "only" empties it.
//
// What goes wrong: a server crash closes every connection, and acknowledgements in flight are lost
// with them. Those clients resend after the restart, the empty table lets the deltas through, and
// they are counted twice. The retry that a crash causes is exactly the one the table was for.
#include <map>

#include "models/bugs/parts.hpp"

namespace syncstorm {
namespace {

class InMemoryDedupServer final : public bugs::CounterServer {
 protected:
  bool first_time(Context&, NodeId writer, OpId op) override {
    OpId& mark = marks_in_memory_[writer];
    if (op <= mark) return false;
    mark = op;  // the mistaken branch: never written to the store
    return true;
  }

 private:
  std::map<NodeId, OpId> marks_in_memory_;
};

}  // namespace

ModelInfo volatile_dedup_counter_model() {
  return bugs::bug_suite_model(
      "volatile-dedup-counter", "delta counter whose server keeps its dedup table in memory: resends after a crash are counted twice",
      DataType::counter, Invariant::phantom_or_double_applied, [](NodeId) { return std::make_unique<bugs::CounterClient>(); },
      [](NodeId) { return std::make_unique<InMemoryDedupServer>(); });
}

}  // namespace syncstorm
