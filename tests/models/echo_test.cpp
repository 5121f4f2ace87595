#include <catch2/catch.hpp>

#include "models/model.hpp"
#include "tests/models/harness.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

TEST_CASE("echo converges two clients through the server", "[models][echo]") {
  const ModelInfo* echo = &testing::shipped_model("echo");
  REQUIRE(echo != nullptr);
  testing::Cluster cluster(*echo, 1, 2);
  cluster.user(0, OpKind::map_set, 1);
  cluster.user(1, OpKind::map_set, 1);
  cluster.deliver_all();
  REQUIRE(cluster.state(cluster.client(0)) == cluster.state(cluster.client(1)));
  REQUIRE(cluster.state(cluster.client(0)) == cluster.state(cluster.server()));
}
