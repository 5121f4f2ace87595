// The client outbox of the server-ordered map strategies: the user's writes the server has not
// answered yet, kept in the node's store one record per operation ("outbox/ID"), as a web client
// keeps them in IndexedDB. A reload (a crash with client persistence) finds them, shows them again
// and sends them again. Without it a strategy silently drops the user's offline edits on every
// reload: that is the outbox-map-memory baseline, which builds its outbox with `durable = false`.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "models/kit/fields.hpp"
#include "models/model.hpp"

namespace syncstorm {

class Outbox {
 public:
  struct Entry {
    Operation op;
    std::uint64_t base = 0;  ///< what the strategy needs besides the op (a version), or 0
  };

  /// `prefix` names this outbox's records in the store (a client may keep several outboxes).
  explicit Outbox(bool durable = true, std::string prefix = "outbox/")
      : durable_(durable), prefix_(std::move(prefix)) {}

  /// Loads what an earlier incarnation of this node stored (nothing on a first start).
  void restore(Context& ctx);
  /// Keeps `op` until it is answered; durable before the user sees it applied.
  void add(Context& ctx, const Operation& op, std::uint64_t base = 0);
  /// Forgets an answered operation; false when it was not pending.
  bool answer(Context& ctx, OpId id);

  const std::map<OpId, Entry>& entries() const { return pending_; }
  bool contains(OpId id) const { return pending_.contains(id); }
  bool empty() const { return pending_.empty(); }
  std::size_t size() const { return pending_.size(); }
  /// Whether a pending write touches `key`.
  bool touches(KeyId key) const;
  /// Puts the pending writes on top of `fields`, oldest first, as the user made them.
  void overlay(Fields& fields) const;

 private:
  std::string record_key(OpId id) const;

  bool durable_;
  std::string prefix_;
  std::map<OpId, Entry> pending_;
};

}  // namespace syncstorm
