// ack-before-fsync-map: outbox-map whose server acknowledges a write before it is durable.
//
// What the team thought: flushing the store on every write was the server's hottest cost, so they
// switched to group commit, one flush a second (Redis's `appendfsync everysec`, PostgreSQL's
// `synchronous_commit = off`), reasoning that a crash "loses at most a second". They kept sending
// the acknowledgement right after applying the write, as before.
//
// What goes wrong: the client forgets an acknowledged write (it leaves the outbox), so when the
// server crashes within the second after the acknowledgement and restarts from its store, nobody
// holds the write any more: the user was told it was saved and it is gone. Lost acknowledged
// writes after a crash with unflushed data are the classic finding of Jepsen's tests of
// asynchronously committed databases (MongoDB with w:1, Redis AOF everysec). The checkers see it first
// where the writer does: its own acknowledged value goes back to an older one (read-your-writes).
#include "models/bugs/parts.hpp"

namespace syncstorm {
namespace {

constexpr std::uint64_t kFlushTimer = 1;
/// How often the group commit flushes.
constexpr Duration kFlushPeriod = Duration::seconds(1);

class GroupCommitServer final : public bugs::MapServer {
 public:
  void on_start(Context& ctx) override {
    MapServer::on_start(ctx);
    ctx.set_timer(kFlushPeriod, kFlushTimer);
  }
  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kFlushTimer) return;
    ctx.store().flush();
    ctx.set_timer(kFlushPeriod, kFlushTimer);
  }

 protected:
  // The mistaken branch: the flush waits for the timer, the acknowledgement does not.
  void make_durable(Context&) override {}
};

}  // namespace

ModelInfo ack_before_fsync_map_model() {
  return bugs::bug_suite_model(
      "ack-before-fsync-map", "outbox-map whose server flushes once a second but acknowledges at once: a crash loses acknowledged writes",
      DataType::map, Invariant::read_your_writes, [](NodeId) { return std::make_unique<bugs::MapClient>(); },
      [](NodeId) { return std::make_unique<GroupCommitServer>(); });
}

}  // namespace syncstorm
