// snapshot-replay-counter: a delta counter whose server, restarting, replays the log entry its
// snapshot already counts.
//
// What the team thought: the server appends every counted delta to a log and, every 64 deltas,
// writes a snapshot (the total and the sequence number of the last delta in it). Compaction of the
// log up to the snapshot runs with the next append, off the snapshot's path. On restart: load the
// snapshot, replay the log "from the snapshot's sequence number". The bound was written `>=`, read
// as "from the next one to apply", where the snapshot stores the last one applied.
//
// What goes wrong: it takes a crash in the narrow window after a snapshot and before the next delta
// compacts the log: then the entry at the snapshot's sequence number is still there, and the
// restart counts it twice. Off-by-one snapshot indexes are a known class in replicated logs (Raft's
// lastIncludedIndex against nextIndex; event stores replaying from a checkpoint inclusive); they
// survive testing because the window is a single gap between two writes.
#include <algorithm>
#include <string>
#include <vector>

#include "models/bugs/parts.hpp"
#include "models/kit/counter_sum.hpp"
#include "models/kit/store_keys.hpp"

namespace syncstorm {
namespace {

/// Deltas between snapshots.
constexpr std::uint64_t kSnapshotEvery = 64;
constexpr std::string_view kLogPrefix = "log/";
constexpr std::string_view kSnapshotKey = "snapshot";

class SnapshotLogServer final : public bugs::CounterServer {
 public:
  void on_start(Context& ctx) override {
    marks_.restore(ctx);
    std::uint64_t snapshot_seq = 0;
    if (auto saved = ctx.store().get(std::string(kSnapshotKey))) {
      Reader r(*saved);
      const std::uint64_t seq = r.u64();
      const std::int64_t total = r.i64();
      if (r.ok()) {
        snapshot_seq = seq;
        total_ = total;
      }
    }
    seq_ = compacted_ = snapshot_seq;
    for (const auto& [key, record] : ctx.store().scan(kLogPrefix)) {
      Reader r(record);
      const std::uint64_t seq = r.u64();
      const std::int64_t amount = r.i64();
      if (!r.ok()) continue;
      if (seq >= snapshot_seq) total_ = counter_sum(total_, amount);  // the mistaken branch: the snapshot already counts `snapshot_seq`
      seq_ = std::max(seq_, seq);
    }
  }
  std::uint64_t metadata_bytes() const override { return CounterServer::metadata_bytes() + (seq_ - compacted_) * 16; }

 protected:
  void record(Context& ctx, OpId, std::int64_t amount) override {
    // Compaction of what the last snapshot covers, deferred to this append.
    for (std::uint64_t seq = compacted_ + 1; seq <= snapshot_seq_; ++seq) ctx.store().erase(numbered_key(kLogPrefix, seq));
    compacted_ = std::max(compacted_, snapshot_seq_);
    ++seq_;
    ctx.store().put(numbered_key(kLogPrefix, seq_), Writer().u64(seq_).i64(amount).take());
    if (seq_ % kSnapshotEvery == 0) {
      ctx.store().put(std::string(kSnapshotKey), Writer().u64(seq_).i64(total_).take());
      snapshot_seq_ = seq_;
    }
  }

 private:
  std::uint64_t seq_ = 0;           ///< the last delta appended to the log
  std::uint64_t snapshot_seq_ = 0;  ///< the last delta the newest snapshot counts
  std::uint64_t compacted_ = 0;     ///< log entries up to here are erased
};

}  // namespace

ModelInfo snapshot_replay_counter_model() {
  return bugs::bug_suite_model(
      "snapshot-replay-counter", "delta counter whose server replays the log from its snapshot's sequence inclusive: a crash right after a snapshot double-counts",
      DataType::counter, Invariant::phantom_or_double_applied, [](NodeId) { return std::make_unique<bugs::CounterClient>(); },
      [](NodeId) { return std::make_unique<SnapshotLogServer>(); });
}

}  // namespace syncstorm
