// global-watermark-map: outbox-map whose reconnecting clients take every pending write numbered at
// or below the server's newest write as already applied.
//
// What the team thought: on reconnect, pull first, then push what the server lacks. The server's
// snapshot carries its version, the id of the newest write it applied; ids grow with time, so a
// pending write with a smaller id "must be in there already", and resending it would be wasted.
//
// What goes wrong: the version is global, not this client's. A write made offline carries an id
// older than the writes other users made meanwhile; the client marks it acknowledged, drops it, and
// the server never receives it. The correct check is per client (Replicache's pull response carries
// lastMutationIDChanges per client for this reason); a global LSN or a Firestore-style update time
// cannot say which of one client's writes arrived.
#include "models/bugs/parts.hpp"

namespace syncstorm {
namespace {

/// The newest write a set of fields holds: the server's version.
OpId newest(const Fields& fields) {
  OpId out;
  for (const auto& [key, value] : fields) out = std::max(out, value);
  return out;
}

class VersionedSnapshotServer final : public bugs::MapServer {
 public:
  void on_connected(Context& ctx, NodeId peer) override {
    Writer w;
    w.u8(bugs::kMapSnapshot);
    write_fields(w, fields_);
    w.u64(newest(fields_).value);
    ctx.send(peer, w.take());
  }
};

class PullThenPushClient final : public bugs::MapClient {
 public:
  void on_connected(Context&, NodeId) override {}  // pushes once the snapshot has arrived
  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    if (r.u8() != bugs::kMapSnapshot) return MapClient::on_message(ctx, from, payload);
    Fields fresh;
    if (!read_fields(r, fresh)) return;
    const OpId version{r.u64()};
    if (!r.ok()) return;
    mirror_.snapshot(ctx, std::move(fresh), true);
    std::vector<OpId> covered;
    for (const auto& [id, entry] : mirror_.outbox().entries()) {
      if (id <= version) covered.push_back(id);  // the mistaken branch: a global version, not this client's mark
    }
    for (OpId id : covered) mirror_.acknowledge(ctx, id);
    for (const auto& [id, entry] : mirror_.outbox().entries()) {
      if (!send_pending(ctx, from, entry)) break;
    }
    mirror_.refresh();
  }
};

}  // namespace

ModelInfo global_watermark_map_model() {
  return bugs::bug_suite_model(
      "global-watermark-map", "outbox-map whose reconnecting clients drop pending writes older than the server's newest: offline edits vanish",
      DataType::map, Invariant::lost_acknowledged_write, [](NodeId) { return std::make_unique<PullThenPushClient>(); },
      [](NodeId) { return std::make_unique<VersionedSnapshotServer>(); });
}

}  // namespace syncstorm
