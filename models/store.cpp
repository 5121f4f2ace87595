#include <algorithm>
#include <cassert>
#include <stdexcept>

#include "models/model.hpp"
#include "sim/base/prefetch.hpp"

namespace syncstorm {

void Store::put(const std::string& key, std::string value) { unflushed_[key] = std::move(value); }

void Store::erase(const std::string& key) { unflushed_[key] = std::nullopt; }

void Store::append(const std::string& key, std::string_view bytes) {
  if (auto it = unflushed_.find(key); it != unflushed_.end()) {
    if (!it->second) it->second.emplace();
    it->second->append(bytes);
    return;
  }
  // Straight onto the durable value, remembering its length before this batch so that a crash
  // can take the batch's appends back.
  auto it = durable_.find(key);
  const bool marked = std::any_of(append_marks_.begin(), append_marks_.end(), [&](const auto& m) { return m.first == key; });
  if (!marked) append_marks_.emplace_back(key, it == durable_.end() ? std::nullopt : std::optional<std::size_t>(it->second.size()));
  if (it == durable_.end()) it = durable_.emplace(key, std::string()).first;
  it->second.append(bytes);
}

std::optional<std::string> Store::get(const std::string& key) const {
  if (auto it = unflushed_.find(key); it != unflushed_.end()) return it->second;
  if (auto it = durable_.find(key); it != durable_.end()) return it->second;
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> Store::scan(std::string_view prefix) const {
  std::map<std::string, std::string> merged;
  for (auto it = durable_.lower_bound(std::string(prefix)); it != durable_.end() && it->first.starts_with(prefix); ++it) {
    merged.insert(*it);
  }
  for (auto it = unflushed_.lower_bound(std::string(prefix)); it != unflushed_.end() && it->first.starts_with(prefix);
       ++it) {
    if (it->second) merged[it->first] = *it->second;
    else merged.erase(it->first);
  }
  return {merged.begin(), merged.end()};
}

void Store::prefetch() const {
  prefetch_elements<HintInto::l2>(durable_);
  // The next put writes into unflushed_'s buffer, which a flush empties but keeps: ask for it even
  // when empty (nth(0) of a container with capacity points at the buffer).
  if (unflushed_.capacity() > 0) {
    prefetch_block<HintInto::l2>(&*unflushed_.nth(0), std::max<std::size_t>(unflushed_.size(), 1) * sizeof(*unflushed_.begin()));
  }
}

void Store::flush() {
  ++flushes_;
  // Both are sorted: each key is looked up from where the previous one was found.
  auto at = durable_.begin();
  for (auto& [key, value] : unflushed_) {
    at = std::lower_bound(at, durable_.end(), key, [](const auto& entry, const std::string& k) { return entry.first < k; });
    const bool present = at != durable_.end() && at->first == key;
    if (value) {
      if (present) at->second = std::move(*value);
      else at = durable_.emplace_hint(at, key, std::move(*value));
      ++at;
    } else if (present) {
      at = durable_.erase(at);
    }
  }
  unflushed_.clear();
  append_marks_.clear();
}

void Store::crash(bool persistent, bool lose_unflushed) {
  if (!persistent) {
    durable_.clear();
    unflushed_.clear();
    append_marks_.clear();
    return;
  }
  if (!lose_unflushed) {
    flush();
    return;
  }
  unflushed_.clear();
  for (const auto& [key, length] : append_marks_) {
    if (length) durable_.find(key)->second.resize(*length);
    else durable_.erase(key);
  }
  append_marks_.clear();
}

std::uint64_t Store::bytes() const {
  std::uint64_t total = 0;
  for (const auto& [key, value] : durable_) total += key.size() + value.size();
  for (const auto& [key, value] : unflushed_) total += key.size() + (value ? value->size() : 0);
  return total;
}

void ModelRegistry::add(ModelInfo info) {
  if (find(info.name) != nullptr) throw std::logic_error("model registered twice: " + info.name);
  assert(info.make_client && "every model makes client replicas");
  models_.push_back(std::move(info));
}

const ModelInfo* ModelRegistry::find(std::string_view name) const {
  for (const ModelInfo& m : models_) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

}  // namespace syncstorm
