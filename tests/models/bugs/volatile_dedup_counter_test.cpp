// volatile-dedup-counter: caught on a seed a sweep of `server-crash` found, by the invariant it declares; the correct
// strategy it deviates from passes the same seed.
#include "tests/models/bugs/bug_case.hpp"

using namespace syncstorm;

TEST_CASE("volatile-dedup-counter counts resends twice after a server crash empties its dedup table", "[models][bugs]") {
  testing::expect_caught("volatile-dedup-counter", "server-crash", 1, "pn-counter");
}
