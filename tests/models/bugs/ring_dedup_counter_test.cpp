// ring-dedup-counter: caught on a seed a sweep of `flaky-mobile` found, by the invariant it declares; the correct
// strategy it deviates from passes the same seed.
#include "tests/models/bugs/bug_case.hpp"

using namespace syncstorm;

TEST_CASE("ring-dedup-counter counts a resend twice once eight other deltas pushed it out of the ring", "[models][bugs]") {
  testing::expect_caught("ring-dedup-counter", "flaky-mobile", 1, "pn-counter");
}
