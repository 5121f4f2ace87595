#include "sim/engine/priority.hpp"

#include <algorithm>
#include <cassert>
#include <numeric>

namespace syncstorm {

PriorityPlan PriorityPlan::draw(const Schedule& s, std::uint64_t seed) {
  PriorityPlan plan;
  const std::uint32_t n = s.node_count();
  // One 64-bit key per node from its stream: the order of the keys is the order of priority.
  std::vector<std::uint64_t> key(n);
  for (std::uint32_t i = 0; i < n; ++i) key[i] = Rng::derive(seed, "explore-priority", s.stream_of(i)).next();
  std::vector<std::uint32_t> order(n);  // order[r]: the node of rank r
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return key[a] != key[b] ? key[a] > key[b] : a < b; });
  const auto ranks_of = [&] {
    std::vector<std::uint32_t> ranks(n);
    for (std::uint32_t r = 0; r < n; ++r) ranks[order[r]] = r;
    return ranks;
  };
  plan.ranks_.push_back(ranks_of());
  Rng rng = Rng::derive(seed, "explore-change-points");
  const std::int64_t window = std::max<std::int64_t>(s.workload_end.us, 1);
  for (std::uint32_t k = 0; k < kChangePoints; ++k) plan.change_at_.push_back(Instant{rng.between(0, window - 1)});
  std::sort(plan.change_at_.begin(), plan.change_at_.end());
  for (std::uint32_t k = 0; k < kChangePoints && n > 1; ++k) {
    std::rotate(order.begin(), order.begin() + 1, order.end());  // the highest drops to the lowest
    plan.ranks_.push_back(ranks_of());
  }
  return plan;
}

std::uint32_t PriorityPlan::rank(std::uint32_t node, Instant now) const {
  assert(!ranks_.empty() && "rank() of an inactive plan");
  const auto passed = static_cast<std::size_t>(std::upper_bound(change_at_.begin(), change_at_.end(), now) - change_at_.begin());
  const std::vector<std::uint32_t>& ranks = ranks_[std::min(passed, ranks_.size() - 1)];
  assert(node < ranks.size());
  return ranks[node];
}

Duration PriorityPlan::delay(std::uint32_t owner, Instant now, Duration low, Duration high, Rng& rng) const {
  high = max(high, low);
  const auto n = static_cast<std::int64_t>(ranks_.front().size());
  const auto r = static_cast<std::int64_t>(rank(owner, now));
  const std::int64_t span = (high - low).us;
  const Duration band_low = low + Duration{span * r / n};
  const Duration band_high = low + Duration{span * (r + 1) / n};
  return rng.duration_between(band_low, band_high);
}

}  // namespace syncstorm
