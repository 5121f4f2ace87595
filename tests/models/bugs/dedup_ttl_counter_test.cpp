// dedup-ttl-counter: caught on a seed a sweep of `wifi-drop` found, by the invariant it declares; the correct
// strategy it deviates from passes the same seed.
#include "tests/models/bugs/bug_case.hpp"

using namespace syncstorm;

TEST_CASE("dedup-ttl-counter counts a delta twice when its resend comes after the dedup window", "[models][bugs]") {
  testing::expect_caught("dedup-ttl-counter", "wifi-drop", 5, "pn-counter");
}
