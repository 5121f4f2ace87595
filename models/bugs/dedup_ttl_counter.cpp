// dedup-ttl-counter: a delta counter whose server remembers counted deltas for 5 seconds.
//
// What the team thought: idempotency keys with an expiry, as payment APIs keep them (Stripe keeps
// them 24 hours, SQS FIFO de-duplicates for 5 minutes): a client retries within a second or two of a
// lost acknowledgement, so a short window catches every duplicate and keeps the table small.
//
// What goes wrong: it takes two things in order. The connection dies after the server counted a
// delta and before its acknowledgement arrived, and the client then stays away longer than the
// window (a partition, a tunnel). Its resend comes after the key expired and is counted again.
// Retries are not bounded in time by anything the server controls.
#include <map>

#include "models/bugs/parts.hpp"

namespace syncstorm {
namespace {

/// How long a counted delta's id is remembered, by the server's clock.
constexpr Duration kDedupWindow = Duration::seconds(5);

class ExpiringKeysServer final : public bugs::CounterServer {
 public:
  std::uint64_t metadata_bytes() const override { return remembered_.size() * (sizeof(OpId) + sizeof(Instant)); }

 protected:
  bool first_time(Context& ctx, NodeId, OpId op) override {
    const Instant now = ctx.local_clock();
    std::erase_if(remembered_, [&](const auto& entry) { return entry.second + kDedupWindow <= now; });
    return remembered_.emplace(op, now).second;  // the mistaken branch: forgets a key a retry may still bring
  }

 private:
  std::map<OpId, Instant> remembered_;  ///< counted deltas and when
};

}  // namespace

ModelInfo dedup_ttl_counter_model() {
  return bugs::bug_suite_model(
      "dedup-ttl-counter", "delta counter whose server forgets counted deltas after 5 s: a resend after a long outage is counted again",
      DataType::counter, Invariant::phantom_or_double_applied, [](NodeId) { return std::make_unique<bugs::CounterClient>(); },
      [](NodeId) { return std::make_unique<ExpiringKeysServer>(); });
}

}  // namespace syncstorm
