// snapshot-replay-counter: caught on a seed a sweep of `server-crash` found, by the invariant it declares; the correct
// strategy it deviates from passes the same seed.
#include "tests/models/bugs/bug_case.hpp"

using namespace syncstorm;

TEST_CASE("snapshot-replay-counter counts a delta twice when the server crashes right after a snapshot", "[models][bugs]") {
  testing::expect_caught("snapshot-replay-counter", "server-crash", 39, "pn-counter");
}
