// lww-map and lww-map-wallclock: convergence, resends, crashes and lifecycle on the harness, the
// skew case that separates the two variants, and the lattice laws of the map's merge.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "models/crdt/lww_map.hpp"
#include "models/model.hpp"
#include "sim/engine/simulation.hpp"
#include "tests/models/engine_situations.hpp"
#include "tests/models/harness.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

namespace {

using testing::count;
using testing::field;
using testing::add_fault;
using testing::rough_scenario;
using testing::small_scenario;

const ModelInfo& model(const char* name) { return testing::shipped_model(name); }

/// Builds a map from small generated tuples: few keys and few distinct stamps so that collisions
/// (the interesting case) are common.
lww::Map make_map(const std::vector<std::tuple<std::uint8_t, std::uint8_t, std::uint8_t>>& raw) {
  lww::Map m;
  for (const auto& [a, b, c] : raw) {
    m.set(KeyId{a % 4u}, lww::Stamp{b % 6, static_cast<std::uint32_t>(b / 6 % 2), c % 3u, a / 4u % 5u + 1});
  }
  return m;
}

using Raw = std::vector<std::tuple<std::uint8_t, std::uint8_t, std::uint8_t>>;

lww::Map merged(lww::Map a, const lww::Map& b) {
  a.merge(b);
  return a;
}

}  // namespace

TEST_CASE("lww-map converges every replica after writes delivered in a shuffled order", "[models][lww-map]") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    testing::Cluster c(model("lww-map"), 1, 3);
    Rng rng(seed);
    for (int step = 0; step < 12; ++step) {
      c.now += Duration::millis(static_cast<std::int64_t>(rng.below(5)));
      c.user(static_cast<std::uint32_t>(rng.below(3)), OpKind::map_set, static_cast<std::uint32_t>(rng.below(3)));
      c.deliver_shuffled(rng, rng.below(4));
    }
    c.deliver_shuffled(rng);
    REQUIRE(testing::all_agree(c, 3));
  }
}

TEST_CASE("lww-map resends a write lost in flight once the client reconnects", "[models][lww-map]") {
  testing::Cluster c(model("lww-map"), 1, 2);
  const Operation op = c.user(0, OpKind::map_set, 7);
  c.disconnect(c.client(0));  // the write was in flight and is lost with the connection
  c.deliver_all();
  REQUIRE_FALSE(field(c.state(c.server()), 7).has_value());
  c.reconnect(c.client(0));
  c.deliver_all();
  REQUIRE(field(c.state(c.server()), 7) == op.id);
  REQUIRE(field(c.state(c.client(1)), 7) == op.id);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 1);
}

TEST_CASE("lww-map keeps an unsent write across a client crash with persistence", "[models][lww-map]") {
  testing::Cluster c(model("lww-map"), 1, 1);
  c.disconnect(c.client(0));
  const Operation op = c.user(0, OpKind::map_set, 3);
  c.crash_restart(c.client(0), true);
  REQUIRE(field(c.state(c.client(0)), 3) == op.id);
  c.reconnect(c.client(0));
  c.deliver_all();
  REQUIRE(field(c.state(c.server()), 3) == op.id);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 1);
}

TEST_CASE("lww-map keeps an acknowledged write across a server crash with persistence", "[models][lww-map]") {
  testing::Cluster c(model("lww-map"), 1, 1);
  const Operation op = c.user(0, OpKind::map_set, 2);
  c.deliver_all();
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 1);
  c.crash_restart(c.server(), true);
  REQUIRE(field(c.state(c.server()), 2) == op.id);
}

TEST_CASE("lww-map reports applied at once, acknowledged after the server stores, seen elsewhere",
          "[models][lww-map]") {
  testing::Cluster c(model("lww-map"), 1, 2);
  const Operation op = c.user(0, OpKind::map_set, 1);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::applied) == 1);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 0);
  c.deliver_all();
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 1);
  REQUIRE(count(c, c.client(1), op.id, Lifecycle::seen) == 1);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::seen) == 0);
}

TEST_CASE("lww-map lets a write made after seeing another win although its writer's clock is behind",
          "[models][lww-map]") {
  testing::Cluster c(model("lww-map"), 1, 2);
  c.context(c.client(0)).clock_offset = Duration::seconds(10);  // client 0's clock runs ahead
  c.now = Instant{Duration::seconds(1).us};
  c.user(0, OpKind::map_set, 1);
  c.deliver_all();
  const Operation later = c.user(1, OpKind::map_set, 1);  // client 1 has seen the first write
  c.deliver_all();
  REQUIRE(field(c.state(c.server()), 1) == later.id);
  REQUIRE(testing::all_agree(c, 2));
}

TEST_CASE("lww-map-wallclock loses an acknowledged causally later write under clock skew",
          "[models][lww-map-wallclock]") {
  testing::Cluster c(model("lww-map-wallclock"), 1, 2);
  c.context(c.client(0)).clock_offset = Duration::seconds(10);
  c.now = Instant{Duration::seconds(1).us};
  const Operation first = c.user(0, OpKind::map_set, 1);
  c.deliver_all();
  const Operation later = c.user(1, OpKind::map_set, 1);
  c.deliver_all();
  // The user of client 1 was told the write is saved, yet every replica shows the older one.
  REQUIRE(count(c, c.client(1), later.id, Lifecycle::acknowledged) == 1);
  REQUIRE(field(c.state(c.server()), 1) == first.id);
  REQUIRE(testing::all_agree(c, 2));
}

TEST_CASE("lww-map-wallclock behaves like lww-map when clocks agree", "[models][lww-map-wallclock]") {
  testing::Cluster c(model("lww-map-wallclock"), 1, 2);
  c.now = Instant{Duration::seconds(1).us};
  c.user(0, OpKind::map_set, 1);
  c.deliver_all();
  c.now += Duration::millis(1);
  const Operation later = c.user(1, OpKind::map_set, 1);
  c.deliver_all();
  REQUIRE(field(c.state(c.server()), 1) == later.id);
}

TEST_CASE("lww-map ignores malformed messages", "[models][lww-map]") {
  testing::Cluster c(model("lww-map"), 1, 1);
  const Operation op = c.user(0, OpKind::map_set, 1);
  const State before = *c.state(c.client(0));
  for (std::string junk : {std::string(), std::string("\x03"), std::string("\x03\xff\xff\xff\x7f", 5), std::string("\x02\x01")}) {
    c.node(c.client(0)).on_message(c.context(c.client(0)), c.server(), junk);
    c.node(c.server()).on_message(c.context(c.server()), c.client(0), junk);
  }
  REQUIRE(*c.state(c.client(0)) == before);
  REQUIRE(count(c, c.client(0), op.id, Lifecycle::acknowledged) == 0);
}

TEST_CASE("the lww map merge is a semilattice", "[models][lww-map][crdt]") {
  rc::prop("merge is commutative", [](const Raw& a, const Raw& b) {
    RC_ASSERT(merged(make_map(a), make_map(b)) == merged(make_map(b), make_map(a)));
  });
  rc::prop("merge is associative", [](const Raw& a, const Raw& b, const Raw& c) {
    const lww::Map x = make_map(a), y = make_map(b), z = make_map(c);
    RC_ASSERT(merged(merged(x, y), z) == merged(x, merged(y, z)));
  });
  rc::prop("merge is idempotent", [](const Raw& a) {
    const lww::Map x = make_map(a);
    RC_ASSERT(merged(x, x) == x);
  });
  rc::prop("applying the same writes in any order gives the same map", [](const Raw& a, std::uint64_t seed) {
    Raw shuffled = a;
    Rng rng(seed);
    for (std::size_t i = shuffled.size(); i > 1; --i) std::swap(shuffled[i - 1], shuffled[rng.below(i)]);
    RC_ASSERT(make_map(shuffled) == make_map(a));
  });
  rc::prop("encoding round-trips", [](const Raw& a) {
    const lww::Map x = make_map(a);
    Writer w;
    x.encode(w);
    const std::string bytes = w.take();
    Reader r(bytes);
    RC_ASSERT(lww::Map::decode(r) == std::optional<lww::Map>(x));
  });
}

TEST_CASE("a hybrid clock stamps after everything it has observed", "[models][lww-map][crdt]") {
  rc::prop("a tick after observing a stamp is larger than that stamp",
           [](std::uint32_t local_us, std::uint32_t seen_us, std::uint8_t logical) {
             lww::HybridClock clock;
             const lww::Stamp seen{seen_us, logical, 1, 1};
             clock.observe(seen);
             const lww::Stamp next = clock.tick(Instant{local_us}, NodeId{2}, OpId{2});
             RC_ASSERT(std::tuple(seen.time_us, seen.logical) < std::tuple(next.time_us, next.logical));
           });
}

TEST_CASE("lww-map repairs a lost relay through the periodic digest sync", "[models][lww-map]") {
  testing::Cluster c(model("lww-map"), 1, 2);
  const Operation op = c.user(0, OpKind::map_set, 1);
  REQUIRE(c.deliver_all(1) == 1);
  // A datagram link loses the relay to client 1; no connection event will trigger a catch-up.
  std::erase_if(c.queue, [&](const testing::Envelope& e) { return e.to == c.client(1); });
  c.deliver_all();
  REQUIRE_FALSE(field(c.state(c.client(1)), 1).has_value());
  c.fire_timers();
  c.deliver_all();
  REQUIRE(field(c.state(c.client(1)), 1) == op.id);
}

TEST_CASE("lww-map moves a client's clock past every write its server had, even through an acknowledgement",
          "[models][lww-map]") {
  testing::Cluster c(model("lww-map"), 1, 2);
  c.context(c.client(0)).clock_offset = Duration::seconds(10);
  c.now = Instant{Duration::seconds(1).us};
  c.user(0, OpKind::map_set, 1);
  REQUIRE(c.deliver_all(1) == 1);
  std::erase_if(c.queue, [&](const testing::Envelope& e) { return e.to == c.client(1); });  // relay lost
  c.user(1, OpKind::map_set, 2);
  c.deliver_all();  // client 1 hears only the acknowledgement of its own write to field 2
  // The simulator counts client 1 as having seen client 0's write, so this one must win.
  const Operation later = c.user(1, OpKind::map_set, 1);
  c.deliver_all();
  REQUIRE(field(c.state(c.server()), 1) == later.id);
}

TEST_CASE("lww-map moves its server's mark past a client's clock, even through a message without the write",
          "[models][lww-map]") {
  // On a datagram link a client's digest (or a resend of an older write) can reach the server
  // before the put of a write made earlier: the simulator then counts the server, and every client
  // it answers afterwards, as having seen that write, so a write made after must beat it.
  testing::Cluster c(model("lww-map"), 1, 2);
  c.context(c.client(0)).clock_offset = Duration::seconds(10);
  c.now = Instant{Duration::seconds(1).us};
  const Operation early = c.user(0, OpKind::map_set, 1);
  REQUIRE(c.queue.size() == 1);
  const testing::Envelope late_put = c.queue.front();  // held back by the network
  c.queue.clear();
  c.fire_timers();
  // The timer resends the write and sends a digest: lose the resend, deliver the digest.
  std::erase_if(c.queue, [&](const testing::Envelope& e) { return e.from == c.client(0) && e.payload == late_put.payload; });
  c.deliver_all();
  REQUIRE_FALSE(field(c.state(c.server()), 1).has_value());
  c.user(1, OpKind::map_set, 2);
  c.deliver_all();  // client 1 hears the acknowledgement of its own write, carrying the server's mark
  const Operation later = c.user(1, OpKind::map_set, 1);
  c.deliver_all();
  c.queue.push_back(late_put);
  c.deliver_all();
  REQUIRE(field(c.state(c.server()), 1) == later.id);
  CHECK(early.id != later.id);
}

TEST_CASE("lww-map breaks no invariant in the engine under resets, crashes, a partition and skew",
          "[models][lww-map][engine]") {
  const std::map<Invariant, int> broken = testing::engine_breaks(rough_scenario(), model("lww-map"), 5);
  REQUIRE(broken.empty());
}

TEST_CASE("the engine's checkers catch lww-map-wallclock losing acknowledged writes under skew",
          "[models][lww-map-wallclock][engine]") {
  Scenario skewed = small_scenario();
  skewed.clocks.skew_max = Duration::seconds(3);
  const std::map<Invariant, int> broken = testing::engine_breaks(skewed, model("lww-map-wallclock"), 5);
  REQUIRE(broken.count(Invariant::lost_acknowledged_write) == 1);
  // Under the same skew the hybrid clock keeps every acknowledged write.
  REQUIRE(testing::engine_breaks(skewed, model("lww-map"), 5).empty());
  // Rough conditions without skew do not expose the wall clock at all.
  Scenario rough = rough_scenario();
  rough.clocks.skew_max = Duration::zero();
  REQUIRE(testing::engine_breaks(rough, model("lww-map-wallclock"), 3).empty());
}
