// newest-id-wins-map: caught on a seed a sweep of `offline-editing` found, by the invariant it declares; the correct
// strategy it deviates from passes the same seed.
#include "tests/models/bugs/bug_case.hpp"

using namespace syncstorm;

TEST_CASE("newest-id-wins-map leaves clients on a newer value after the server applied a late offline write", "[models][bugs]") {
  testing::expect_caught("newest-id-wins-map", "offline-editing", 1, "outbox-map");
}
