// Per client, the newest of its operations a server has applied: how a server applies a resent
// operation once while keeping one record per writer, not one per write (Replicache's
// lastMutationID). A set of every applied id would do the same job but grows with the number of
// writes for ever, which is the metadata leak the bounded-metadata check exists to catch.
//
// Sound because every client of the strategies that use it sends its writes in the order it made
// them (operation ids grow with issue time) over FIFO connections, and on every connect resends all
// it has not had answered, oldest first: when a server receives one of a client's writes, every
// earlier write of that client that will ever reach it has reached it already. A client that breaks
// that order (the outbox-map-newest-first baseline) has later writes acknowledged and dropped here,
// and the checkers report them lost. A client that sends two kinds of writes on separate schedules
// (hybrid-dashboard's batched preferences beside immediate aggregates) orders each kind on its own:
// each is a lane with its own mark.
#pragma once

#include <cstdint>
#include <map>
#include <utility>

#include "models/model.hpp"

namespace syncstorm {

class ClientMarks {
 public:
  /// Loads the marks an earlier incarnation of this node stored under "mark/".
  void restore(Context& ctx);
  /// True when `id` is newer than every write applied from `client` in `lane`: then it becomes the
  /// mark, stored but not flushed (the caller flushes before anyone hears of the write). False for
  /// a resend, which the caller acknowledges again without applying.
  bool first_time(Context& ctx, NodeId client, OpId id, std::uint8_t lane = 0);
  /// Raises a client's mark without storing it: for a node that rebuilds its marks from a log it
  /// keeps anyway.
  void note(NodeId client, OpId id, std::uint8_t lane = 0);

  /// A node id, a lane and an operation id per writer and lane.
  std::uint64_t metadata_bytes() const { return marks_.size() * (sizeof(NodeId) + 1 + sizeof(OpId)); }

 private:
  std::map<std::pair<NodeId, std::uint8_t>, OpId> marks_;
};

}  // namespace syncstorm
