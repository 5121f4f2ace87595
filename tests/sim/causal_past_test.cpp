// A causal past (per client, how many of its operations a replica could have seen) merges as an
// entry-wise maximum over the union of clients, whatever the two lists hold: pinned against a map.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "sim/cli/commands.hpp"
#include "sim/checkers/history.hpp"
#include "sim/engine/simulation.hpp"
#include "tests/printers.hpp"

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

namespace {

/// Which operations a past sees, client by client: the reference a gapped past is pinned against.
using Seen = std::map<std::uint32_t, std::set<std::uint32_t>>;

/// A past built by advances and exclusions (what a message that lacks some of its sender's writes
/// carries), and the set of operations it should see.
std::pair<CausalPast, Seen> gapped_past_from(const std::vector<std::pair<std::uint8_t, std::uint8_t>>& steps) {
  CausalPast past;
  Seen seen;
  for (const auto& [what, value] : steps) {
    const NodeId client{what % 6u};
    std::set<std::uint32_t>& mine = seen[client.value];
    if (what % 3 != 0) {
      const std::uint32_t sequence = mine.empty() ? 1 : *mine.rbegin() + 1;
      RC_ASSERT(past.advance(client) == sequence);
      mine.insert(sequence);
    } else {
      const std::uint32_t sequence = value % 12u;
      past.exclude(client, {sequence});
      mine.erase(sequence);
    }
    if (mine.empty()) seen.erase(client.value);
  }
  return {past, seen};
}

/// The operations `past` sees, read through its public accessors.
Seen seen_by(const CausalPast& past) {
  Seen seen;
  for (const auto& [client, count] : past.entries()) {
    for (std::uint32_t s = 1; s <= count; ++s) {
      if (past.sees(client, s)) seen[client.value].insert(s);
    }
  }
  return seen;
}

/// Gaps sorted, disjoint, not adjacent, and each below its client's count; no empty entries.
void check_shape(const CausalPast& past) {
  for (const auto& [client, count] : past.entries()) RC_ASSERT(count > 0u);
  const auto& gaps = past.gaps();
  for (std::size_t i = 0; i < gaps.size(); ++i) {
    RC_ASSERT(gaps[i].first >= 1u);
    RC_ASSERT(gaps[i].first <= gaps[i].last);
    RC_ASSERT(gaps[i].last < past.seen_from(gaps[i].client));
    if (i > 0 && gaps[i - 1].client == gaps[i].client) RC_ASSERT(gaps[i - 1].last + 1 < gaps[i].first);
    if (i > 0) RC_ASSERT(gaps[i - 1].client <= gaps[i].client);
  }
}

}  // namespace

TEST_CASE("a past with gaps sees exactly what its messages carried", "[sim][history]") {
  rc::prop("merge is the union of what both see, and the form is the same for the same set",
           [](const std::vector<std::pair<std::uint8_t, std::uint8_t>>& a,
              const std::vector<std::pair<std::uint8_t, std::uint8_t>>& b) {
             auto [past, want] = gapped_past_from(a);
             const auto [other, theirs] = gapped_past_from(b);
             check_shape(past);
             check_shape(other);
             RC_ASSERT(seen_by(past) == want);
             RC_ASSERT(seen_by(other) == theirs);
             Seen both = want;
             for (const auto& [client, sequences] : theirs) both[client].insert(sequences.begin(), sequences.end());
             const bool grows = both != want;
             const auto before = past;
             bool became_other = false;
             RC_ASSERT(past.merge(other, &became_other) == grows);
             check_shape(past);
             RC_ASSERT(seen_by(past) == both);
             RC_ASSERT(became_other == (both == theirs));
             RC_ASSERT(became_other == (past == other));
             auto swapped = other;
             swapped.merge(before);
             RC_ASSERT(swapped == past);
             RC_ASSERT(!past.merge(other));  // idempotent
           });
}

TEST_CASE("intersecting two pasts keeps what both see", "[sim][history]") {
  rc::prop("intersect_with is the intersection of what both see, in the usual form",
           [](const std::vector<std::pair<std::uint8_t, std::uint8_t>>& a,
              const std::vector<std::pair<std::uint8_t, std::uint8_t>>& b) {
             auto [past, want] = gapped_past_from(a);
             const auto [other, theirs] = gapped_past_from(b);
             Seen both;
             for (const auto& [client, sequences] : want) {
               const auto it = theirs.find(client);
               if (it == theirs.end()) continue;
               for (std::uint32_t s : sequences) {
                 if (it->second.contains(s)) both[client].insert(s);
               }
             }
             past.intersect_with(other);
             check_shape(past);
             RC_ASSERT(seen_by(past) == both);
           });
}

TEST_CASE("lowering a gapped past's count drops the gaps above it", "[sim][history]") {
  CausalPast past;
  for (int i = 0; i < 8; ++i) past.advance(NodeId{2});
  past.exclude(NodeId{2}, {3, 4, 6});
  CHECK(past.gaps() == std::vector<CausalPast::Gap>{{NodeId{2}, 3, 4}, {NodeId{2}, 6, 6}});
  CHECK(past.sees(NodeId{2}, 5));
  CHECK_FALSE(past.sees(NodeId{2}, 4));
  past.lower(NodeId{2}, 6);  // 6 itself is a gap: the count comes down to 5
  CHECK(past.seen_from(NodeId{2}) == 5);
  CHECK(past.gaps() == std::vector<CausalPast::Gap>{{NodeId{2}, 3, 4}});
  past.exclude(NodeId{2}, {5});  // the top goes, and with it the gap under it
  CHECK(past.seen_from(NodeId{2}) == 2);
  CHECK(past.gaps().empty());
  past.exclude(NodeId{2}, {1, 2});
  CHECK(past.entries().empty());
}

TEST_CASE("an operation's causal past names the clients that wrote, not every client", "[sim][history]") {
  // Happens-before tracking must not cost O(clients) per message. A past holds one entry
  // per client whose writes it could have seen, so its size (what each delivery merges) is bounded
  // by the writers, whatever the client count. The same ~30 writes among 200 and among 2,000
  // clients of the shipped reconnect storm: every past stays within the writers so far. (A dense
  // vector clock, one slot per client, would hold 200 and 2,000 entries.)
  const ModelRegistry models = shipped_models();
  const ModelInfo* lww = models.find("lww-map");
  REQUIRE(lww != nullptr);
  auto scenarios = shipped_scenarios();
  REQUIRE(scenarios.ok());
  const auto storm = std::find_if(scenarios.value().begin(), scenarios.value().end(),
                                  [](const Scenario& s) { return s.name == "reconnect-storm"; });
  REQUIRE(storm != scenarios.value().end());
  for (const std::uint32_t clients : {200u, 2'000u}) {
    CAPTURE(clients);
    Scenario scenario = *storm;
    scenario.workload.clients = clients;
    scenario.workload.think_time_mean = scenario.workload.duration * static_cast<std::int64_t>(clients) / 30;
    const Schedule schedule = make_schedule(scenario, *lww, 1);
    const RunResult r = run_simulation(scenario, *lww, schedule, 1);
    REQUIRE(r.violations.empty());
    std::set<std::uint32_t> writers;
    std::size_t largest = 0;
    for (const OpRecord& record : r.history.ops) {
      if (!record.issued) continue;
      writers.insert(record.op.client.value);
      REQUIRE(record.past != nullptr);
      // Issued in id order: a past can have seen only the writers so far.
      REQUIRE(record.past->size() <= writers.size());
      largest = std::max(largest, record.past->size());
    }
    CAPTURE(writers.size(), largest);
    REQUIRE(writers.size() >= 10);          // the run did write, from many clients,
    REQUIRE(largest >= 2);                  // pasts did carry other clients' writes,
    REQUIRE(writers.size() * 4 < clients);  // and the bound above is far below the client count
  }
}

TEST_CASE("a node's final causal past holds the operations messages carried to it, and no others",
          "[sim][history]") {
  // lww-map, three clients writing for 10 s; client 0 goes offline at 5 s and crashes at 8 s, losing
  // its replica (no client persistence) before the heal brings it back. Its writes made offline
  // reached no other node; every other write, and every acknowledged one, reached the server.
  const ModelRegistry models = shipped_models();
  const ModelInfo* lww = models.find("lww-map");
  REQUIRE(lww != nullptr);
  Scenario scenario;
  scenario.name = "test";
  scenario.workload.clients = 3;
  scenario.workload.duration = Duration::seconds(10);
  scenario.workload.think_time_mean = Duration::millis(200);
  scenario.workload.keys = 6;
  scenario.invariants.enabled.clear();
  scenario.invariants.settle = Duration::seconds(5);
  Schedule schedule = make_schedule(scenario, *lww, 1);
  const NodeId client = schedule.client(0);
  ScheduledFault offline;
  offline.kind = FaultKind::offline;
  offline.start = Instant::start() + Duration::seconds(5);
  offline.duration = Duration::seconds(100);
  offline.side_a = {client};
  schedule.faults.push_back(offline);
  ScheduledFault crash = offline;
  crash.kind = FaultKind::crash;
  crash.start = Instant::start() + Duration::seconds(8);
  schedule.faults.push_back(crash);
  normalise(schedule);
  const RunResult r = run_simulation(scenario, *lww, schedule, 1);
  REQUIRE(r.aborted.empty());
  const NodeFinal& server = r.history.finals.at(schedule.server(0).value);
  REQUIRE(server.past != nullptr);
  std::size_t stayed = 0;
  std::size_t reached = 0;
  for (const OpRecord& record : r.history.ops) {
    if (!record.issued) continue;
    CAPTURE(record.op.id.value, record.op.client.value, record.op.issued_at.us);
    if (record.acknowledged) REQUIRE(server.past->sees(record.op.client, record.sequence));
    if (record.op.client != client || record.op.issued_at < Instant::start() + Duration::millis(4'900)) {
      REQUIRE(server.past->sees(record.op.client, record.sequence));
      ++reached;
    } else if (record.op.issued_at > Instant::start() + Duration::seconds(5) &&
               record.op.issued_at < Instant::start() + Duration::seconds(8)) {
      for (const NodeFinal& node : r.history.finals) {
        if (node.node != client) REQUIRE_FALSE(node.past->sees(record.op.client, record.sequence));
      }
      ++stayed;
    }
  }
  CHECK(stayed >= 5);
  CHECK(reached >= 50);
}
