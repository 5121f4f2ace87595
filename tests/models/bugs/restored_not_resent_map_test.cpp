// restored-not-resent-map: caught on a seed a sweep of `article-tab-reload` found, by the invariant it declares; the correct
// strategy it deviates from passes the same seed.
#include "tests/models/bugs/bug_case.hpp"

using namespace syncstorm;

TEST_CASE("restored-not-resent-map never sends the pending edits a reloaded tab restored", "[models][bugs]") {
  testing::expect_caught("restored-not-resent-map", "article-tab-reload", 1, "outbox-map");
}
