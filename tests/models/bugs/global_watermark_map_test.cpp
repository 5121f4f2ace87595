// global-watermark-map: caught on a seed a sweep of `offline-editing` found, by the invariant it declares; the correct
// strategy it deviates from passes the same seed.
#include "tests/models/bugs/bug_case.hpp"

using namespace syncstorm;

TEST_CASE("global-watermark-map drops offline edits older than the server's newest write as if acknowledged", "[models][bugs]") {
  testing::expect_caught("global-watermark-map", "offline-editing", 2, "outbox-map");
}
