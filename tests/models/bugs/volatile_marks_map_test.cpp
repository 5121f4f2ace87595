// volatile-marks-map: caught on a seed a sweep of `server-crash` found, by the invariant it declares; the correct
// strategy it deviates from passes the same seed.
#include "tests/models/bugs/bug_case.hpp"

using namespace syncstorm;

TEST_CASE("volatile-marks-map applies a resend again after a restart, over a newer write", "[models][bugs]") {
  testing::expect_caught("volatile-marks-map", "server-crash", 27, "outbox-map");
}
