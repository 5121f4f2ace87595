// tombstone-ttl-list: the canary. Tombstones expire after 10 s of local clock, so a client that was
// offline longer than that brings a removed item back; the correct or-set-list does not.
#include <algorithm>
#include <map>
#include <set>
#include <catch2/catch.hpp>

#include "models/model.hpp"
#include "sim/scenario/schedule.hpp"
#include "sim/engine/simulation.hpp"
#include "tests/models/engine_situations.hpp"
#include "tests/models/harness.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

using namespace syncstorm::testing;

namespace {

bool holds(const std::optional<State>& state, std::uint32_t key) {
  return std::any_of(state->items.begin(), state->items.end(), [&](const Item& item) { return item.id.value == key; });
}

/// Client 2 sees item 4, goes offline for `offline`, client 1 removes the item meanwhile, client 2
/// returns. Returns whether the server shows the item at the end.
bool item_back_after(const char* name, Duration offline) {
  testing::Cluster cluster(testing::shipped_model(name), 1, 3);
  cluster.user(0, OpKind::list_add, 4);
  testing::settle(cluster);
  cluster.disconnect(cluster.client(2));
  cluster.user(1, OpKind::list_remove, 4);
  testing::settle(cluster);
  cluster.now += offline;
  testing::settle(cluster);
  cluster.reconnect(cluster.client(2));
  testing::settle(cluster);
  return holds(cluster.state(cluster.server()), 4);
}

}  // namespace

TEST_CASE("tombstone-ttl-list resurrects an item when a client was offline longer than the ttl",
          "[models][tombstone-ttl-list]") {
  const ModelInfo* info = &testing::shipped_model("tombstone-ttl-list");
  REQUIRE(info != nullptr);
  REQUIRE_FALSE(info->correct());
  REQUIRE(info->breaks == Invariant::resurrection);
  REQUIRE(item_back_after("tombstone-ttl-list", Duration::seconds(30)));
}

TEST_CASE("tombstone-ttl-list keeps the remove when the client returns within the ttl", "[models][tombstone-ttl-list]") {
  REQUIRE_FALSE(item_back_after("tombstone-ttl-list", Duration::seconds(2)));
}

TEST_CASE("or-set-list does not resurrect in the ttl canary's situation", "[models][tombstone-ttl-list][or-set-list]") {
  REQUIRE_FALSE(item_back_after("or-set-list", Duration::seconds(30)));
}

TEST_CASE("the engine's checkers catch tombstone-ttl-list resurrecting items", "[models][tombstone-ttl-list][engine]") {
  const auto broken = engine_breaks(engine_offline_removes(), testing::shipped_model("tombstone-ttl-list"), 8);
  REQUIRE(broken.contains(Invariant::resurrection));
  for (const auto& [invariant, seeds] : broken) {
    INFO(to_string(invariant) << " on " << seeds << " seeds");
    CHECK(invariant == Invariant::resurrection);
  }
}
