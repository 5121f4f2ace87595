// The durable state of a server-ordered map's server: the value of every field, one store record each
// (numbered_key "field/"), and per client the newest operation applied (models/client_marks.hpp), so that a
// restarted server keeps what it acknowledged and applies a resent operation once. Shared by the
// article's map servers (outbox-map, guarded-map, refetch-map, hybrid-dashboard, versioned-map),
// which differ in what they check and send, not in what they keep.
//
// `Dedup::every_id` keeps the id of every write instead ("applied/ID"): order-proof, but it grows
// with the writes for ever. Only the outbox-map-newest-first baseline uses it, so that its clients'
// reversed resends show as the monotonic-writes break they are rather than as writes the marks drop.
#pragma once

#include <map>
#include <set>

#include "models/kit/client_marks.hpp"
#include "models/kit/fields.hpp"
#include "models/model.hpp"

namespace syncstorm {

class AppliedFields {
 public:
  enum class Dedup : std::uint8_t { per_client_mark, every_id };
  explicit AppliedFields(Dedup dedup = Dedup::per_client_mark) : dedup_(dedup) {}

  /// Loads what an earlier incarnation of this server stored.
  void restore(Context& ctx);
  /// Sets `key` to `id`, a write of `writer` in `lane` (see ClientMarks), unless it was applied
  /// before (then false and nothing changes). The records are written, not flushed: the caller
  /// flushes before anyone hears of it.
  bool apply(Context& ctx, NodeId writer, KeyId key, OpId id, std::uint8_t lane = 0);
  bool apply(Context& ctx, const Operation& op, std::uint8_t lane = 0) {
    return apply(ctx, op.client, op.key, op.id, lane);
  }

  const Fields& fields() const { return fields_; }
  /// What the server keeps besides the fields: a mark per writer.
  std::uint64_t metadata_bytes() const { return marks_.metadata_bytes() + every_id_.size() * sizeof(OpId); }

 private:
  Dedup dedup_;
  Fields fields_;
  ClientMarks marks_;
  std::set<OpId> every_id_;  ///< Dedup::every_id only
};

}  // namespace syncstorm
