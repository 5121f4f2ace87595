// count-acked-counter: caught on a seed a sweep of `flaky-mobile` found, by the invariant it declares; the
// correct strategy it deviates from passes the same seed. On that seed the bug both double-counts and
// loses increments, and with every increment +1 the two cancel: the same run with unit amounts passes.
#include "tests/models/bugs/bug_case.hpp"

using namespace syncstorm;

namespace {

/// The invariants a run of `model` on flaky-mobile breaks, with the schedule's amounts kept or made +-1.
std::set<Invariant> broken_with(const ModelInfo& model, std::uint64_t seed, bool unit_amounts) {
  auto scenario = resolve_scenario("flaky-mobile");
  REQUIRE(scenario.ok());
  Schedule schedule = make_schedule(scenario.value(), model, seed);
  if (unit_amounts) {
    for (Operation& op : schedule.operations) op.amount = op.amount < 0 ? -1 : 1;
  }
  const RunResult r = run_simulation(scenario.value(), model, schedule, seed);
  std::set<Invariant> broken;
  for (const Violation& v : r.violations) broken.insert(v.invariant);
  return broken;
}

}  // namespace

TEST_CASE("count-acked-counter counts a resend twice and drops a later delta unsent", "[models][bugs]") {
  testing::expect_caught("count-acked-counter", "flaky-mobile", 1, "pn-counter");
}

TEST_CASE("count-acked-counter's losses hide behind its doubles when every increment is +1", "[models][bugs]") {
  const ModelInfo& bug = testing::shipped_model("count-acked-counter");
  for (const std::uint64_t seed : {595u, 723u}) {
    CAPTURE(seed);
    CHECK(broken_with(bug, seed, false).contains(Invariant::phantom_or_double_applied));
    CHECK(broken_with(bug, seed, true).empty());
    CHECK(broken_with(bugs::reference_counter_model(), seed, false).empty());
  }
}
