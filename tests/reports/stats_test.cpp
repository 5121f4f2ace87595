// The statistics behind every figure of a comparison, and fault attribution.
#include <catch2/catch.hpp>
#include <cmath>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include "reports/report.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

TEST_CASE("a summary of one sample per seed gives the textbook mean, median and t interval", "[reports]") {
  const std::vector<std::vector<double>> per_seed{{4}, {1}, {5}, {2}, {3}};
  const Summary s = summarise(per_seed);
  CHECK(s.seeds == 5);
  CHECK(s.mean == Approx(3.0));
  CHECK(s.median == Approx(3.0));
  // Sample standard deviation of 1..5 is sqrt(2.5); t(0.975, 4 degrees) = 2.776.
  const double half = 2.776 * std::sqrt(2.5) / std::sqrt(5.0);
  CHECK(s.ci_low == Approx(3.0 - half));
  CHECK(s.ci_high == Approx(3.0 + half));
  CHECK(s.p99 == Approx(5.0));
}

TEST_CASE("seeds without samples are left out of a summary", "[reports]") {
  const Summary s = summarise({{}, {10, 20}, {}});
  CHECK(s.seeds == 1);
  CHECK(s.samples == 2);
  CHECK(s.mean == Approx(15.0));
  CHECK(s.ci_low == s.ci_high);
}

TEST_CASE("the Wilson interval stays inside [0, 1] and is not empty at the extremes", "[reports]") {
  const Rate none = wilson(0, 20);
  CHECK(none.rate == 0);
  CHECK(none.ci_low == 0);
  CHECK(none.ci_high > 0.1);
  const Rate all = wilson(20, 20);
  CHECK(all.rate == 1);
  CHECK(all.ci_high == 1);
  CHECK(all.ci_low < 0.9);
}

TEST_CASE("summaries keep their order laws", "[reports]") {
  rc::prop("the interval holds the mean and the quantiles are ordered", [](const std::vector<std::vector<std::uint16_t>>& raw) {
    std::vector<std::vector<double>> per_seed;
    for (const auto& seed : raw) per_seed.emplace_back(seed.begin(), seed.end());
    const Summary s = summarise(per_seed);
    RC_ASSERT(s.ci_low <= s.mean + 1e-9);
    RC_ASSERT(s.mean <= s.ci_high + 1e-9);
    RC_ASSERT(s.median <= s.p95);
    RC_ASSERT(s.p95 <= s.p99);
  });
  rc::prop("a rate lies inside its interval", [](std::uint8_t a, std::uint8_t b) {
    const std::uint32_t runs = std::max<std::uint32_t>(1, std::max(a, b));
    const Rate r = wilson(std::min<std::uint32_t>(a, b), runs);
    RC_ASSERT(r.ci_low <= r.rate + 1e-12);
    RC_ASSERT(r.rate <= r.ci_high + 1e-12);
  });
}

namespace {

RunDigest digest(std::uint64_t seed, bool failing, std::vector<std::string> features) {
  RunDigest d;
  d.seed = seed;
  if (failing) d.violations.emplace_back(Invariant::resurrection, 1);
  d.features = std::move(features);
  return d;
}

}  // namespace

TEST_CASE("fault attribution names the setting every failing seed shares", "[reports]") {
  std::vector<RunDigest> runs;
  // Four failing seeds, all with a crash; ten passing seeds, three with a crash. A partition appears
  // equally often on both sides and must not be named.
  for (std::uint64_t i = 0; i < 4; ++i) runs.push_back(digest(i, true, {"fault crash", i % 2 ? "fault partition" : "drop > 0"}));
  for (std::uint64_t i = 0; i < 10; ++i) {
    std::vector<std::string> f{i % 2 ? "fault partition" : "drop > 0"};
    if (i < 3) f.push_back("fault crash");
    runs.push_back(digest(10 + i, false, f));
  }
  const Attribution a = attribute_faults(runs, Invariant::resurrection);
  CHECK(a.failing_seeds == 4);
  CHECK(a.passing_seeds == 10);
  REQUIRE(a.features.size() == 1);
  CHECK(a.features[0].feature == "fault crash");
  CHECK(a.features[0].failing_share == Approx(1.0));
  CHECK(a.features[0].passing_share == Approx(0.3));
}

TEST_CASE("fault attribution of an invariant nobody broke is empty", "[reports]") {
  const std::vector<RunDigest> runs{digest(1, true, {"fault crash"}), digest(2, false, {})};
  const Attribution a = attribute_faults(runs, Invariant::convergence);
  CHECK(a.failing_seeds == 0);
  CHECK(a.features.empty());
}

TEST_CASE("fault features name the kinds, the partition shape and the clock skew of a schedule", "[reports]") {
  Schedule s;
  s.servers = 1;
  s.clients = 3;
  s.clock_skew = {Duration::zero(), Duration::millis(-250), Duration::zero(), Duration::zero()};
  ScheduledFault p;
  p.kind = FaultKind::partition;
  p.side_a = {NodeId{0}};
  p.side_b = {NodeId{1}, NodeId{2}, NodeId{3}};
  s.faults.push_back(p);
  const std::vector<std::string> f = fault_features(s, Topology::client_server);
  auto has = [&](const std::string& x) { return std::find(f.begin(), f.end(), x) != f.end(); };
  CHECK(has("fault partition"));
  CHECK(has("partition isolate_servers"));
  CHECK(has("clock skew >= 100 ms"));
  CHECK_FALSE(has("clock skew >= 1 s"));
  CHECK_FALSE(has("drop > 0"));
}

TEST_CASE("fault features leave out the faults that act on no link of the run", "[reports]") {
  // Swarm mode draws datagram loss and stream faults alike; a run over streams has no datagram link
  // to lose a message on, and a peer run no connection to slow down.
  Schedule s;
  s.servers = 1;
  s.clients = 2;
  s.network.client_link = LinkKind::stream;
  s.network.drop = 100'000;
  s.network.duplicate = 50'000;
  ScheduledFault down;
  down.kind = FaultKind::down;
  ScheduledFault reorder;
  reorder.kind = FaultKind::reorder;
  s.faults = {down, reorder};
  auto has = [](const std::vector<std::string>& f, const std::string& x) {
    return std::find(f.begin(), f.end(), x) != f.end();
  };
  const std::vector<std::string> over_streams = fault_features(s, Topology::client_server);
  CHECK(has(over_streams, "fault down"));
  CHECK_FALSE(has(over_streams, "fault reorder"));
  CHECK_FALSE(has(over_streams, "drop > 0"));
  CHECK_FALSE(has(over_streams, "duplicate > 0"));
  const std::vector<std::string> peers = fault_features(s, Topology::peer_to_peer);
  CHECK(has(peers, "fault reorder"));
  CHECK(has(peers, "drop >= 5%"));
  CHECK(has(peers, "duplicate > 0"));
  s.network.client_link = LinkKind::datagram;
  const std::vector<std::string> over_datagrams = fault_features(s, Topology::client_server);
  CHECK_FALSE(has(over_datagrams, "fault down"));
  CHECK(has(over_datagrams, "drop > 0"));
}
