// A causal past (per client, how many of its operations a replica could have seen) merges as an
// entry-wise maximum over the union of clients, whatever the two lists hold: pinned against a map.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <cstdint>
#include <map>
#include <vector>

#include "sim/history.hpp"

using namespace syncstorm;

namespace {

/// A past from (client, advances) pairs, and the same as a map from client to count.
std::pair<CausalPast, std::map<std::uint32_t, std::uint32_t>> past_from(const std::vector<std::uint8_t>& clients) {
  CausalPast past;
  std::map<std::uint32_t, std::uint32_t> reference;
  for (std::uint8_t c : clients) {
    const std::uint32_t client = c % 24;
    past.advance(NodeId{client});
    ++reference[client];
  }
  return {past, reference};
}

}  // namespace

TEST_CASE("merging causal pasts takes each client's larger count", "[sim][history]") {
  rc::prop("merge equals the entry-wise maximum, sorted, and says whether anything grew",
           [](const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
             auto [past, expected] = past_from(a);
             const auto [other, theirs] = past_from(b);
             bool grows = false;
             for (const auto& [client, count] : theirs) {
               auto& mine = expected[client];
               if (mine < count) {
                 mine = count;
                 grows = true;
               }
             }
             const auto before = past;
             bool became_other = false;
             RC_ASSERT(past.merge(other, &became_other) == grows);
             RC_ASSERT(became_other == (past.entries() == other.entries()));
             // Merging the other way round gives the same past (what a receiver that shares a
             // sender's snapshot relies on).
             auto swapped = other;
             swapped.merge(before);
             RC_ASSERT(swapped.entries() == past.entries());
             std::vector<std::pair<NodeId, std::uint32_t>> want;
             for (const auto& [client, count] : expected) want.emplace_back(NodeId{client}, count);
             RC_ASSERT(past.entries() == want);
             RC_ASSERT(!past.merge(other));  // idempotent
           });
}
