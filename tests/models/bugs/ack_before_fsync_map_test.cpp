// ack-before-fsync-map: caught on a seed a sweep of `server-crash` found, by the invariant it declares; the correct
// strategy it deviates from passes the same seed.
#include "tests/models/bugs/bug_case.hpp"

using namespace syncstorm;

TEST_CASE("ack-before-fsync-map loses a write it acknowledged when the server crashes before its once-a-second flush", "[models][bugs]") {
  testing::expect_caught("ack-before-fsync-map", "server-crash", 1, "outbox-map");
}
