// mark-before-apply-map: caught on a seed a sweep of `server-crash` found, by the invariant it declares; the correct
// strategy it deviates from passes the same seed.
#include "tests/models/bugs/bug_case.hpp"

using namespace syncstorm;

TEST_CASE("mark-before-apply-map takes a write lost in its worker queue for a duplicate after a crash", "[models][bugs]") {
  testing::expect_caught("mark-before-apply-map", "server-crash", 29, "outbox-map");
}
