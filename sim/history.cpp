#include "sim/history.hpp"

#include <algorithm>

namespace syncstorm {

std::uint32_t CausalPast::seen_from(NodeId client) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), client,
                             [](const auto& entry, NodeId n) { return entry.first < n; });
  return it != entries_.end() && it->first == client ? it->second : 0;
}

bool CausalPast::merge(const CausalPast& other) {
  // Fast path: the common case on a busy link is that nothing new arrives. Both lists are sorted
  // by node, so one walk over both answers it.
  bool grows = false;
  auto mine = entries_.begin();
  for (const auto& [node, count] : other.entries_) {
    while (mine != entries_.end() && mine->first < node) ++mine;
    if (mine == entries_.end() || mine->first != node || mine->second < count) {
      grows = true;
      break;
    }
  }
  if (!grows) return false;
  std::vector<std::pair<NodeId, std::uint32_t>> merged;
  merged.reserve(entries_.size() + other.entries_.size());
  auto a = entries_.begin();
  auto b = other.entries_.begin();
  while (a != entries_.end() || b != other.entries_.end()) {
    if (b == other.entries_.end() || (a != entries_.end() && a->first < b->first)) {
      merged.push_back(*a++);
    } else if (a == entries_.end() || b->first < a->first) {
      merged.push_back(*b++);
    } else {
      merged.emplace_back(a->first, std::max(a->second, b->second));
      ++a;
      ++b;
    }
  }
  entries_ = std::move(merged);
  return true;
}

std::uint32_t CausalPast::advance(NodeId client) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), client,
                             [](const auto& entry, NodeId n) { return entry.first < n; });
  if (it != entries_.end() && it->first == client) return ++it->second;
  entries_.insert(it, {client, 1});
  return 1;
}

bool History::happened_before(OpId a, OpId b) const {
  if (a == b) return false;
  const OpRecord& ra = record(a);
  const OpRecord& rb = record(b);
  if (!ra.issued || !rb.issued || !rb.past) return false;
  return rb.past->seen_from(ra.op.client) >= ra.sequence;
}

}  // namespace syncstorm
