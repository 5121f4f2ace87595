// ring-dedup-counter: a delta counter whose server remembers only the last 8 deltas it counted.
//
// What the team thought: remembering every counted id grew the server's metadata with every write
// (the leak the bounded-metadata check reports), so they capped it: a ring of the last 8 ids, "far
// more than the retries in flight at any time".
//
// What goes wrong: a resend does not come when the server expects it but when its client
// reconnects. If the connection died with the acknowledgement in flight and 8 other deltas are
// counted before the client is back, the ring has forgotten it and counts it again. The correct fix
// for the leak keeps one mark per client (what Replicache's lastMutationID does), not a window over
// all of them.
#include <algorithm>
#include <deque>

#include "models/bugs/parts.hpp"

namespace syncstorm {
namespace {

/// How many counted ids the ring holds.
constexpr std::size_t kRingSize = 8;

class RingDedupServer final : public bugs::CounterServer {
 public:
  std::uint64_t metadata_bytes() const override { return ring_.size() * sizeof(OpId); }

 protected:
  bool first_time(Context&, NodeId, OpId op) override {
    if (std::find(ring_.begin(), ring_.end(), op) != ring_.end()) return false;
    ring_.push_back(op);
    if (ring_.size() > kRingSize) ring_.pop_front();  // the mistaken branch: forgets the oldest, retried or not
    return true;
  }

 private:
  std::deque<OpId> ring_;  ///< the last counted ids, oldest first
};

}  // namespace

ModelInfo ring_dedup_counter_model() {
  return bugs::bug_suite_model(
      "ring-dedup-counter", "delta counter whose server remembers the last 8 counted ids: a resend after 8 others is counted again",
      DataType::counter, Invariant::phantom_or_double_applied, [](NodeId) { return std::make_unique<bugs::CounterClient>(); },
      [](NodeId) { return std::make_unique<RingDedupServer>(); });
}

}  // namespace syncstorm
