// The durable state of a server-ordered map's server: the value of every field and the id of every
// operation applied, one store record each ("field/KEY", "applied/ID"), so that a restarted server
// keeps what it acknowledged and applies a resent operation once. Shared by the article's map
// servers (outbox-map, guarded-map, refetch-map, hybrid-dashboard, versioned-map), which differ in
// what they check and send, not in what they keep.
#pragma once

#include <map>
#include <set>

#include "models/model.hpp"

namespace syncstorm {

class AppliedFields {
 public:
  /// Loads what an earlier incarnation of this server stored.
  void restore(Context& ctx);
  /// Sets `key` to `id` unless `id` was applied before (then false and nothing changes). The
  /// records are written, not flushed: the caller flushes before anyone hears of the write.
  bool apply(Context& ctx, KeyId key, OpId id);
  /// Whether `id` was applied, without applying it.
  bool applied(OpId id) const { return applied_.contains(id); }

  const std::map<KeyId, OpId>& fields() const { return fields_; }
  std::size_t applied_count() const { return applied_.size(); }

 private:
  std::map<KeyId, OpId> fields_;
  std::set<OpId> applied_;
};

}  // namespace syncstorm
