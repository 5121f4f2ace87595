// reused-mutation-id-map: caught on a seed a sweep of `article-tab-reload` found, by the invariant it declares; the correct
// strategy it deviates from passes the same seed.
#include "tests/models/bugs/bug_case.hpp"

using namespace syncstorm;

TEST_CASE("reused-mutation-id-map acknowledges and drops the writes of a reloaded tab whose mutation numbers started again", "[models][bugs]") {
  testing::expect_caught("reused-mutation-id-map", "article-tab-reload", 1, "outbox-map");
}
