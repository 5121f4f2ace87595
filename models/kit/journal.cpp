#include "models/kit/journal.hpp"

#include <algorithm>

#include "sim/base/codec.hpp"

namespace syncstorm {

Journal::Journal(const std::string& prefix) : snapshot_key_(prefix + "snap"), log_key_(prefix + "log") {}

Journal::Saved Journal::load(const Store& store) {
  Saved saved;
  saved.snapshot = store.get(snapshot_key_);
  snapshot_bytes_ = saved.snapshot ? saved.snapshot->size() : 0;
  const std::string log = store.get(log_key_).value_or("");
  log_bytes_ = log.size();
  Reader r(log);
  while (!r.at_end()) {
    const std::string_view record = r.bytes();
    if (!r.ok()) break;
    saved.records.emplace_back(record);
  }
  return saved;
}

bool Journal::wants_snapshot() const { return log_bytes_ >= std::max(kMinimumLogBytes, snapshot_bytes_); }

void Journal::append(Store& store, std::string_view record) {
  // The frame is the length Writer::bytes writes, so load reads it back with Reader::bytes.
  const auto size = static_cast<std::uint32_t>(record.size());
  char frame[sizeof size];
  Writer::put_u32(frame, size);
  store.append(log_key_, std::string_view(frame, sizeof frame));
  store.append(log_key_, record);
  log_bytes_ += sizeof frame + record.size();
  store.flush();
}

void Journal::snapshot(Store& store, std::string state) {
  snapshot_bytes_ = state.size();
  log_bytes_ = 0;
  store.put(snapshot_key_, std::move(state));
  store.erase(log_key_);
  store.flush();
}

}  // namespace syncstorm
