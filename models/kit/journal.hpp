// A replica's durable state kept as a snapshot plus the change records written since, so that a
// change costs a store write of its own size rather than of the whole state (a relay CRDT replica
// used to re-encode everything it held on every message). Restoring reads the snapshot and replays
// the records in order; the owner decides what a record means.
//
// Two store keys: PREFIX + "snap" holds the snapshot, PREFIX + "log" the records written since,
// each framed by its length and appended (Store::append) as to a write-ahead log file. The snapshot
// is renewed, and the log emptied, once the records outweigh the snapshot: the store stays within
// about twice the state, and a restore replays at most that much. Keep PREFIX to 11 characters or
// fewer: the keys then fit std::string's inline buffer and a write allocates no key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/model.hpp"

namespace syncstorm {

class Journal {
 public:
  explicit Journal(const std::string& prefix);

  /// What a restore finds: the last snapshot (none when the store never had one) and the records
  /// written after it, oldest first. A torn or malformed log yields the records before the damage.
  struct Saved {
    std::optional<std::string> snapshot;
    std::vector<std::string> records;
  };
  Saved load(const Store& store);

  /// Whether the records since the snapshot outweigh it: the owner should write a snapshot instead
  /// of another record.
  bool wants_snapshot() const;
  /// Appends one record and flushes the store.
  void append(Store& store, std::string_view record);
  /// Replaces the snapshot, empties the log, and flushes the store.
  void snapshot(Store& store, std::string state);

 private:
  /// Records smaller than this in all never ask for a snapshot: a tiny state would otherwise be
  /// rewritten after every change.
  static constexpr std::uint64_t kMinimumLogBytes = 4096;

  std::string snapshot_key_;
  std::string log_key_;
  std::uint64_t log_bytes_ = 0;       ///< bytes of the records since the snapshot
  std::uint64_t snapshot_bytes_ = 0;  ///< bytes of the last snapshot
};

}  // namespace syncstorm
