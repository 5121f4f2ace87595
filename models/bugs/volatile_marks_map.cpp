// volatile-marks-map: outbox-map whose server keeps its de-duplication marks in memory only.
//
// What the team thought: the fields are in the database, flushed before every acknowledgement; the
// table of "newest mutation applied per client" is only an optimisation against resends, so it can
// live in the process (a map, or a cache without persistence) and start empty after a restart.
//
// What goes wrong: it takes three things in order. A write is applied and flushed; the server
// crashes before its acknowledgement leaves (so the client still holds the write); and another
// user, having seen the write, overwrites the field before the first client reconnects. The resend
// then finds no mark and is applied again, on top of the newer write: the later, acknowledged write
// is gone. Replicache stores lastMutationID in the same transaction as the data for this reason.
// The checkers see it where the later writer does: its own write is replaced by an older one
// (read-your-writes).
#include <map>

#include "models/bugs/parts.hpp"
#include "models/kit/store_keys.hpp"

namespace syncstorm {
namespace {

class VolatileMarksServer final : public bugs::MapServer {
 protected:
  bool apply(Context& ctx, std::uint64_t mutation, const Operation& op) override {
    std::uint64_t& mark = marks_in_memory_[op.client];
    if (mutation <= mark) return false;
    mark = mutation;  // the mistaken branch: never written to the store
    fields_[op.key] = op.id;
    ctx.store().put(numbered_key("field/", op.key.value), Writer().u32(op.key.value).u64(op.id.value).take());
    return true;
  }

 private:
  std::map<NodeId, std::uint64_t> marks_in_memory_;
};

}  // namespace

ModelInfo volatile_marks_map_model() {
  return bugs::bug_suite_model(
      "volatile-marks-map", "outbox-map whose server keeps de-duplication marks in memory: a resend after a restart overwrites newer writes",
      DataType::map, Invariant::read_your_writes, [](NodeId) { return std::make_unique<bugs::MapClient>(); },
      [](NodeId) { return std::make_unique<VolatileMarksServer>(); });
}

}  // namespace syncstorm
