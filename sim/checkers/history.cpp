#include "sim/checkers/history.hpp"

#include <algorithm>
#include <cassert>

namespace syncstorm {

void CausalPast::lower(NodeId client, std::uint32_t count) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), client,
                             [](const auto& entry, NodeId n) { return entry.first < n; });
  if (it == entries_.end() || it->first != client) return;
  if (count == 0) {
    entries_.erase(it);  // sparse: a client none of whose writes are known has no entry
  } else {
    it->second = std::min(it->second, count);
  }
}

std::uint32_t CausalPast::seen_from(NodeId client) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), client,
                             [](const auto& entry, NodeId n) { return entry.first < n; });
  return it != entries_.end() && it->first == client ? it->second : 0;
}

bool CausalPast::merge(const CausalPast& other, bool* became_other) {
  // One walk over both sorted lists raises the counts of nodes both know (a max, so doing it in
  // place is safe) and counts the nodes only `other` knows. Most deliveries on a busy link bring
  // nothing new, and most of the rest add a node or two: those are merged in place from the back,
  // so no list is allocated per delivered message (with 10,000 clients a fresh list per merge made
  // allocation a fifth of a reconnect storm).
  bool grows = false;
  bool beyond_other = false;  // an entry other does not have, or a larger count than its
  std::size_t added = 0;
  auto mine = entries_.begin();
  bool mine_matched = false;  // *mine is a node other has
  for (const auto& [node, count] : other.entries_) {
    while (mine != entries_.end() && mine->first < node) {
      if (!mine_matched) beyond_other = true;
      ++mine;
      mine_matched = false;
    }
    if (mine == entries_.end() || mine->first != node) {
      ++added;
      continue;
    }
    mine_matched = true;
    if (mine->second < count) {
      mine->second = count;
      grows = true;
    } else if (mine->second > count) {
      beyond_other = true;
    }
  }
  if (mine != entries_.end() && (!mine_matched || std::next(mine) != entries_.end())) beyond_other = true;
  if (became_other) *became_other = !beyond_other;
  if (added == 0) return grows;
  const std::size_t old_size = entries_.size();
  entries_.resize(old_size + added);
  auto a = entries_.begin() + static_cast<std::ptrdiff_t>(old_size);  // one past the last old entry
  auto b = other.entries_.end();
  auto out = entries_.end();
  while (b != other.entries_.begin()) {
    if (a != entries_.begin() && (a - 1)->first > (b - 1)->first) {
      *--out = *--a;
    } else if (a != entries_.begin() && (a - 1)->first == (b - 1)->first) {
      *--out = *--a;  // its count was raised above
      --b;
    } else {
      *--out = *--b;
    }
  }
  assert(out == a);  // the old entries left are already in place
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
