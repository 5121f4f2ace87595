#include "sim/checkers/history.hpp"

#include <algorithm>
#include <cassert>

namespace syncstorm {

namespace {

using Interval = std::pair<std::uint32_t, std::uint32_t>;  // operation numbers, both inclusive

/// `past`'s gaps of `client`, as a range of its gap list.
auto gaps_of(const std::vector<CausalPast::Gap>& gaps, NodeId client) {
  const auto first = std::lower_bound(gaps.begin(), gaps.end(), client,
                                      [](const CausalPast::Gap& g, NodeId n) { return g.client < n; });
  const auto last = std::find_if(first, gaps.end(), [&](const CausalPast::Gap& g) { return g.client != client; });
  return std::pair{first, last};
}

/// Which of `client`'s operations 1..limit `past` lacks, as sorted, disjoint intervals.
std::vector<Interval> unseen(const CausalPast& past, NodeId client, std::uint32_t limit) {
  std::vector<Interval> out;
  const auto [begin, end] = gaps_of(past.gaps(), client);
  for (auto g = begin; g != end && g->first <= limit; ++g) out.emplace_back(g->first, std::min(g->last, limit));
  const std::uint32_t count = past.seen_from(client);
  if (count < limit) out.emplace_back(count + 1, limit);
  return out;
}

std::vector<Interval> intersect(const std::vector<Interval>& a, const std::vector<Interval>& b) {
  std::vector<Interval> out;
  auto i = a.begin();
  auto j = b.begin();
  while (i != a.end() && j != b.end()) {
    const std::uint32_t first = std::max(i->first, j->first);
    const std::uint32_t last = std::min(i->second, j->second);
    if (first <= last) out.emplace_back(first, last);
    if (i->second < j->second) ++i;
    else ++j;
  }
  return out;
}

}  // namespace

void CausalPast::lower(NodeId client, std::uint32_t count) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), client,
                             [](const auto& entry, NodeId n) { return entry.first < n; });
  if (it == entries_.end() || it->first != client) return;
  it->second = std::min(it->second, count);
  settle(client);
}

void CausalPast::settle(NodeId client) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), client,
                             [](const auto& entry, NodeId n) { return entry.first < n; });
  std::uint32_t count = it != entries_.end() && it->first == client ? it->second : 0;
  auto [begin, end] = gaps_of(gaps_, client);
  // Gaps at or above the count: the count comes down to below the first of them. Gaps are not
  // adjacent, so the one before it ends below the new count.
  auto beyond = std::find_if(begin, end, [&](const Gap& g) { return g.last >= count; });
  if (beyond != end) {
    count = std::min(count, beyond->first - 1);
    gaps_.erase(beyond, end);
  }
  if (it == entries_.end() || it->first != client) return;
  if (count == 0) {
    entries_.erase(it);  // sparse: a client none of whose writes are known has no entry
  } else {
    it->second = count;
  }
}

void CausalPast::exclude(NodeId client, std::vector<std::uint32_t> sequences) {
  const std::uint32_t count = seen_from(client);
  std::erase_if(sequences, [&](std::uint32_t s) { return s == 0 || s > count; });
  if (sequences.empty()) return;
  auto [begin, end] = gaps_of(gaps_, client);
  std::vector<Interval> lacking;
  for (auto g = begin; g != end; ++g) lacking.emplace_back(g->first, g->last);
  for (std::uint32_t s : sequences) lacking.emplace_back(s, s);
  std::sort(lacking.begin(), lacking.end());
  std::vector<Gap> merged;
  for (const auto& [first, last] : lacking) {
    if (!merged.empty() && first <= merged.back().last + 1) {
      merged.back().last = std::max(merged.back().last, last);
    } else {
      merged.push_back({client, first, last});
    }
  }
  const auto at = gaps_.erase(begin, end);
  gaps_.insert(at, merged.begin(), merged.end());
  settle(client);
}

void CausalPast::intersect_with(const CausalPast& other) {
  CausalPast result;
  for (const auto& [client, count] : entries_) {
    const std::uint32_t limit = std::min(count, other.seen_from(client));
    if (limit == 0) continue;
    // Below the smaller count, what either lacks the result lacks.
    std::vector<Interval> lacking = unseen(*this, client, limit);
    const std::vector<Interval> theirs = unseen(other, client, limit);
    lacking.insert(lacking.end(), theirs.begin(), theirs.end());
    std::sort(lacking.begin(), lacking.end());
    result.entries_.emplace_back(client, limit);
    const std::size_t first_gap = result.gaps_.size();
    for (const auto& [first, last] : lacking) {
      if (result.gaps_.size() > first_gap && first <= result.gaps_.back().last + 1) {
        result.gaps_.back().last = std::max(result.gaps_.back().last, last);
      } else {
        result.gaps_.push_back({client, first, last});
      }
    }
    result.settle(client);
  }
  *this = std::move(result);
}

std::uint32_t CausalPast::seen_from(NodeId client) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), client,
                             [](const auto& entry, NodeId n) { return entry.first < n; });
  return it != entries_.end() && it->first == client ? it->second : 0;
}

bool CausalPast::sees(NodeId client, std::uint32_t sequence) const {
  if (sequence == 0 || seen_from(client) < sequence) return false;
  if (gaps_.empty()) return true;
  const auto [begin, end] = gaps_of(gaps_, client);
  return std::none_of(begin, end, [&](const Gap& g) { return g.first <= sequence && sequence <= g.last; });
}

bool CausalPast::merge(const CausalPast& other, bool* became_other) {
  if (!gaps_.empty() || !other.gaps_.empty()) return merge_with_gaps(other, became_other);
  return merge_counts(other, became_other);
}

bool CausalPast::merge_with_gaps(const CausalPast& other, bool* became_other) {
  // What the result lacks of a client, below the larger count, is what both lack.
  CausalPast result;
  result.entries_ = entries_;
  result.merge_counts(other, nullptr);
  for (const auto& [client, count] : result.entries_) {
    for (const auto& [first, last] : intersect(unseen(*this, client, count), unseen(other, client, count))) {
      result.gaps_.push_back({client, first, last});
    }
  }
  // The client with the larger count holds its last operation, so no gap reaches a count.
  const bool grows = !(result == *this);
  if (became_other) *became_other = result == other;
  *this = std::move(result);
  return grows;
}

bool CausalPast::merge_counts(const CausalPast& other, bool* became_other) {
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
  return rb.past->sees(ra.op.client, ra.sequence);
}

}  // namespace syncstorm
