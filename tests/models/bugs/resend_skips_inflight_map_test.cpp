// resend-skips-inflight-map: caught on a seed a sweep of `wifi-drop` found, by the invariant it declares; the correct
// strategy it deviates from passes the same seed.
#include "tests/models/bugs/bug_case.hpp"

using namespace syncstorm;

TEST_CASE("resend-skips-inflight-map never delivers a write that was in flight when the connection died", "[models][bugs]") {
  testing::expect_caught("resend-skips-inflight-map", "wifi-drop", 1, "outbox-map");
}
