// Each fault kind does what its one-line description promises.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "sim/cli/commands.hpp"
#include "sim/scenario/scenario_file.hpp"
#include "sim/engine/simulation.hpp"
#include "tests/printers.hpp"
#include "tests/shipped_scenario.hpp"
#include "tests/sim/probe_model.hpp"
#include "tests/source_tree.hpp"

using namespace syncstorm;
using namespace syncstorm::testing;

namespace {

ScheduledFault fault(FaultKind kind, Duration start, Duration duration, std::vector<NodeId> a) {
  ScheduledFault f;
  f.kind = kind;
  f.start = Instant::start() + start;
  f.duration = duration;
  f.side_a = std::move(a);
  return f;
}

struct Probe {
  std::shared_ptr<Recorder> rec = std::make_shared<Recorder>();
  Scenario scenario;
  Schedule schedule;
  RunResult result;

  explicit Probe(Duration every = Duration::millis(50), std::uint32_t clients = 2)
      : scenario(quiet_scenario(clients, Duration::seconds(20))), model_(probe_model(rec, every)) {
    schedule = make_schedule(scenario, DataType::map, 1);
    schedule.operations.clear();
  }
  /// Servers made by `make` instead of the probe's own.
  void serve_with(std::function<std::unique_ptr<Node>(NodeId)> make) { model_.make_server = std::move(make); }
  void run(std::ostream* trace = nullptr) {
    normalise(schedule);
    RunOptions options;
    options.trace_out = trace;
    result = run_simulation(scenario, model_, schedule, 1, options);
  }
  std::size_t received_from(NodeId n, Duration from, Duration to) const {
    std::size_t count = 0;
    for (const Receipt& r : rec->receipts) {
      count += r.from == n && r.at >= Instant::start() + from && r.at < Instant::start() + to ? 1 : 0;
    }
    return count;
  }
  /// When a message was first received at or after `from`; -1 if none was.
  std::int64_t first_receipt_from(Duration from) const {
    for (const Receipt& r : rec->receipts) {
      if (r.at >= Instant::start() + from) return r.at.us;
    }
    return -1;
  }

 private:
  ModelInfo model_;
};

}  // namespace

TEST_CASE("a store keeps flushed writes across a crash and loses unflushed ones when told to", "[sim][faults]") {
  Store store;
  store.put("a", "1");
  store.flush();
  store.put("b", "2");
  SECTION("persistent, losing unflushed writes") {
    store.crash(true, true);
    REQUIRE(store.get("a") == "1");
    REQUIRE_FALSE(store.get("b"));
  }
  SECTION("persistent, keeping unflushed writes") {
    store.crash(true, false);
    REQUIRE(store.get("b") == "2");
  }
  SECTION("not persistent") {
    store.crash(false, false);
    REQUIRE_FALSE(store.get("a"));
  }
  SECTION("an erase is a write like any other") {
    store.erase("a");
    REQUIRE_FALSE(store.get("a"));
    store.crash(true, true);
    REQUIRE(store.get("a") == "1");
  }
}

TEST_CASE("a node's local clock carries its skew and drift, and the simulator's time does not", "[sim][faults]") {
  Scenario scenario = quiet_scenario(3, Duration::seconds(10));
  scenario.clocks.skew_max = Duration::seconds(2);
  scenario.clocks.drift_ppm_max = 500;
  const Schedule schedule = make_schedule(scenario, DataType::map, 5);
  bool some_skew = false;
  for (std::size_t i = 0; i < schedule.clock_skew.size(); ++i) {
    REQUIRE(schedule.clock_skew[i] <= Duration::seconds(2));
    REQUIRE(schedule.clock_skew[i] >= Duration::seconds(-2));
    REQUIRE(std::abs(schedule.clock_drift_ppm[i]) <= 500);
    some_skew |= schedule.clock_skew[i] != Duration::zero();
  }
  REQUIRE(some_skew);
  // The probe records the receiver's local clock: the server's offset shows in every receipt.
  Probe p;
  p.scenario.clocks.skew_max = Duration::seconds(2);
  p.schedule.clock_skew[0] = Duration::seconds(1);
  p.schedule.clock_drift_ppm[0] = 1'000;  // 1 ms per simulated second
  p.run();
  REQUIRE_FALSE(p.rec->receipts.empty());
  const Receipt& last = p.rec->receipts.back();
  // Sent at most every 50 ms, arriving 10 ms later: within 100 ms of the end of the run, plus offsets.
  const std::int64_t end = p.schedule.end().us;
  const std::int64_t expected_offset = Duration::seconds(1).us + end / 1'000;
  REQUIRE(last.at.us - end <= expected_offset);
  REQUIRE(last.at.us - end >= expected_offset - Duration::millis(100).us);
}

TEST_CASE("a bandwidth fault delays messages by their size", "[sim][faults]") {
  Probe p(Duration::millis(10));
  p.schedule.faults.push_back(fault(FaultKind::bandwidth, Duration::seconds(5), Duration::seconds(5), {p.schedule.client(0)}));
  p.schedule.faults.back().bytes = 80;  // 8-byte messages: 10 per second fit
  p.run();
  const std::size_t capped = p.received_from(p.schedule.client(0), Duration::seconds(6), Duration::seconds(10));
  const std::size_t free = p.received_from(p.schedule.client(1), Duration::seconds(6), Duration::seconds(10));
  REQUIRE(capped <= 41);
  REQUIRE(free >= 350);
}

TEST_CASE("a timeout fault silences the target and closes its connection after the timeout", "[sim][faults]") {
  Probe p;
  p.schedule.faults.push_back(fault(FaultKind::timeout, Duration::seconds(5), Duration::seconds(4), {p.schedule.client(0)}));
  p.schedule.faults.back().amount = Duration::seconds(2);
  p.run();
  REQUIRE(p.received_from(p.schedule.client(0), Duration::millis(5'010), Duration::seconds(7)) == 0);
  REQUIRE(p.received_from(p.schedule.client(1), Duration::millis(5'010), Duration::seconds(7)) > 0);
  // The first connection closes exactly after the timeout; one made while the fault lasts is
  // closed after the timeout too, and none closes after the fault has ended plus the timeout.
  REQUIRE(p.rec->disconnects.size() >= 1);
  REQUIRE(p.rec->disconnects[0].first == p.schedule.client(0));
  REQUIRE(p.rec->disconnects[0].second == Instant::start() + Duration::seconds(7));
  for (const auto& [node, when] : p.rec->disconnects) {
    REQUIRE(node == p.schedule.client(0));
    REQUIRE(when <= Instant::start() + Duration::seconds(9 + 2));
  }
}

TEST_CASE("a connection that lost data to a timeout fault delivers nothing more, even after the fault ends",
          "[sim][faults]") {
  // A byte stream cannot skip the bytes it lost: what is sent after the fault ended, on the same
  // connection, is lost too until the connection closes at its timeout and a new one is made.
  Probe p;
  p.schedule.faults.push_back(fault(FaultKind::timeout, Duration::seconds(5), Duration::seconds(1), {p.schedule.client(0)}));
  p.schedule.faults.back().amount = Duration::seconds(3);
  p.run();
  REQUIRE(p.received_from(p.schedule.client(0), Duration::millis(5'010), Duration::seconds(8)) == 0);
  REQUIRE(p.rec->disconnects.size() == 1);
  REQUIRE(p.rec->disconnects[0].second == Instant::start() + Duration::seconds(8));
  REQUIRE(p.received_from(p.schedule.client(0), Duration::seconds(9), Duration::seconds(20)) > 0);
}

TEST_CASE("limit_data closes a connection once its bytes are used up", "[sim][faults]") {
  Probe p;
  p.schedule.faults.push_back(fault(FaultKind::limit_data, Duration::zero(), Duration::seconds(30), {p.schedule.client(0)}));
  p.schedule.faults.back().bytes = 80;  // ten 8-byte messages per connection
  p.run();
  REQUIRE(p.result.metrics.connection_resets >= 10);
  REQUIRE(p.rec->disconnects.size() == p.result.metrics.connection_resets);
}

TEST_CASE("a down server refuses connections until the fault ends", "[sim][faults]") {
  Probe p;
  p.scenario.network.backoff.policy = BackoffPolicy::fixed;
  p.scenario.network.backoff.jitter = Jitter::none;
  p.scenario.network.backoff.base = Duration::millis(200);
  p.schedule.network = p.scenario.network;
  p.schedule.faults.push_back(fault(FaultKind::down, Duration::seconds(5), Duration::seconds(3), {p.schedule.server(0)}));
  p.run();
  REQUIRE(p.received_from(p.schedule.client(0), Duration::millis(5'020), Duration::seconds(8)) == 0);
  REQUIRE(p.received_from(p.schedule.client(0), Duration::millis(8'500), Duration::seconds(10)) > 0);
  // Each client retried every ~220 ms while the server was down.
  REQUIRE(p.result.metrics.connect_attempts >= 2 + 2 * 12);
}

TEST_CASE("a slow close leaves the server talking into a dead connection for a while", "[sim][faults]") {
  const bool quick_reconnect = GENERATE(false, true);
  Probe p;
  p.scenario.network.backoff = BackoffOptions{BackoffPolicy::fixed, Duration::seconds(quick_reconnect ? 1 : 5),
                                              Duration::seconds(5), 1'000, Jitter::none, 0, true};
  p.schedule.network = p.scenario.network;
  p.schedule.faults.push_back(fault(FaultKind::slow_close, Duration::seconds(4), Duration::seconds(4), {p.schedule.client(0)}));
  p.schedule.faults.back().amount = Duration::seconds(2);
  p.schedule.faults.push_back(fault(FaultKind::reset, Duration::seconds(5), Duration::millis(1), {p.schedule.client(0)}));
  p.run();
  // The client hears its reset at once; the server hears of it 2 s later, or when the client's new
  // connection (1 s + a 20 ms handshake later) takes over the session, whichever comes first.
  REQUIRE(p.rec->disconnects.size() == 1);
  REQUIRE(p.rec->disconnects[0].second == Instant::start() + Duration::seconds(5));
  REQUIRE(p.rec->server_disconnects.size() == 1);
  REQUIRE(p.rec->server_disconnects[0].first == p.schedule.client(0));
  const Duration heard = quick_reconnect ? Duration::millis(6'020) : Duration::seconds(7);
  REQUIRE(p.rec->server_disconnects[0].second == Instant::start() + heard);
}

TEST_CASE("a clock jump moves the target's local clock for good", "[sim][faults]") {
  Probe p;
  p.schedule.faults.push_back(fault(FaultKind::clock_jump, Duration::seconds(5), Duration::millis(1), {p.schedule.server(0)}));
  p.schedule.faults.back().amount = Duration::seconds(-3);
  p.run();
  // Receipts carry the server's local clock: after the jump it reads 3 s behind the simulated time.
  const Receipt& last = p.rec->receipts.back();
  REQUIRE(last.at.us < p.schedule.end().us - Duration::millis(2'900).us);
}

TEST_CASE("a malicious fault mixes every kind of hostile message into its target's connection only", "[sim][faults]") {
  Probe p;
  ScheduledFault f = fault(FaultKind::malicious, Duration::seconds(1), Duration::seconds(10), {p.schedule.client(0)});
  f.amount = Duration::millis(50);
  f.bytes = 4'096;
  p.schedule.faults.push_back(f);
  std::ostringstream trace;
  p.run(&trace);
  // One hostile message every 50 ms of the 10 s, as long as the client is connected (it always is).
  CHECK(p.result.metrics.hostile_messages >= 190);
  CHECK(p.result.metrics.hostile_messages <= 200);
  REQUIRE(p.result.history.untrusted == std::vector<NodeId>{p.schedule.client(0)});
  std::map<std::string, std::size_t> kinds;
  std::istringstream lines(trace.str());
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"ev\":\"hostile\"") == std::string::npos) continue;
    INFO(line);
    CHECK(line.find(fmt::format("\"node\":{},", p.schedule.client(0).value)) != std::string::npos);
    const auto at = line.find("\"hostile_kind\":");
    REQUIRE(at != std::string::npos);
    ++kinds[line.substr(at + 15, 1)];
    const auto bytes = std::stoull(line.substr(line.find("\"bytes\":") + 8));
    CHECK(bytes >= 1);
    CHECK(bytes <= 4'096);
  }
  // Garbage, truncations, replays of client 1's messages and oversized copies all occur.
  CHECK(kinds.size() == 4);
  // The server hears the hostile messages on top of the honest ones; the honest client sends as before.
  const std::size_t attacker = p.received_from(p.schedule.client(0), Duration::seconds(2), Duration::seconds(10));
  const std::size_t honest = p.received_from(p.schedule.client(1), Duration::seconds(2), Duration::seconds(10));
  CHECK(attacker >= honest + 150);
  CHECK(honest >= 150);
  CHECK(honest <= 161);
}

TEST_CASE("a malicious fault's messages are the same on every run of a seed", "[sim][faults][determinism]") {
  std::uint64_t hashes[2] = {};
  for (std::uint64_t& hash : hashes) {
    Probe p;
    ScheduledFault f = fault(FaultKind::malicious, Duration::seconds(1), Duration::seconds(5), {p.schedule.client(1)});
    f.amount = Duration::millis(20);
    f.bytes = 1'000;
    p.schedule.faults.push_back(f);
    p.run();
    REQUIRE(p.result.metrics.hostile_messages > 0);
    hash = p.result.trace_hash;
  }
  CHECK(hashes[0] == hashes[1]);
}

namespace {

/// What the relay below saw of its callbacks.
struct RelayLog {
  bool nested = false;              ///< on_disconnected ran while on_message was iterating
  std::uint64_t failed_sends = 0;
  std::uint64_t sent_after_failure = 0;  ///< a send or connected() that said "up" after a failed send
  std::vector<Instant> failed_at;        ///< when each failed send happened
  std::vector<Instant> heard_at;         ///< when the relay heard each reset
};

/// A relay written the natural way: it forwards each message to every subscriber while iterating
/// its set of them, and erases a subscriber when its connection closes. Were on_disconnected called
/// from inside one of its sends, the erase would invalidate the loop's iterator: the relay records
/// that instead of erasing, so that the test fails cleanly rather than crashing.
class Relay final : public Node {
 public:
  explicit Relay(std::shared_ptr<RelayLog> log) : log_(std::move(log)) {}
  void on_start(Context&) override {}
  void on_user_operation(Context&, const Operation&) override {}
  void on_connected(Context&, NodeId peer) override { subscribers_.insert(peer); }
  void on_disconnected(Context& ctx, NodeId peer) override {
    log_->heard_at.push_back(ctx.local_clock());
    if (iterating_) {
      log_->nested = true;
      return;
    }
    subscribers_.erase(peer);
  }
  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    iterating_ = true;
    for (NodeId c : subscribers_) {
      if (ctx.send(c, payload)) continue;
      ++log_->failed_sends;
      log_->failed_at.push_back(ctx.local_clock());
      // The connection is down from the failed send on, for the rest of this callback.
      if (ctx.connected(c) || ctx.send(c, payload)) ++log_->sent_after_failure;
    }
    iterating_ = false;
  }
  std::optional<State> state() const override { return std::nullopt; }

 private:
  std::shared_ptr<RelayLog> log_;
  std::set<NodeId> subscribers_;
  bool iterating_ = false;
};

}  // namespace

TEST_CASE("a reset caused by a send inside a callback reaches both ends as events after the callback", "[sim][faults]") {
  auto rec = std::make_shared<Recorder>();
  auto log = std::make_shared<RelayLog>();
  ModelInfo model = probe_model(rec, Duration::millis(50));
  model.make_server = [log](NodeId) { return std::make_unique<Relay>(log); };
  Scenario scenario = quiet_scenario(4, Duration::seconds(20));
  Schedule schedule = make_schedule(scenario, DataType::map, 1);
  schedule.operations.clear();
  // Every connection closes after 400 bytes: a relayed 8-byte message crosses some client's budget
  // in the middle of the relay's loop over its subscribers.
  schedule.faults.push_back(fault(FaultKind::limit_data, Duration::zero(), Duration::seconds(20),
                                  {schedule.client(0), schedule.client(1), schedule.client(2), schedule.client(3)}));
  schedule.faults.back().bytes = 400;
  normalise(schedule);
  const RunResult r = run_simulation(scenario, model, schedule, 1);
  REQUIRE(r.aborted.empty());
  REQUIRE_FALSE(log->nested);
  REQUIRE(log->sent_after_failure == 0);
  REQUIRE(log->failed_sends >= 20);
  // Each end hears each reset once, at the instant of the send that caused it.
  REQUIRE(log->heard_at.size() == r.metrics.connection_resets);
  REQUIRE(rec->disconnects.size() == r.metrics.connection_resets);
  for (Instant at : log->failed_at) REQUIRE(std::count(log->heard_at.begin(), log->heard_at.end(), at) >= 1);
}

TEST_CASE("a peer-to-peer strategy that never repairs a lost update fails when peers go offline", "[sim][faults]") {
  // offline-peers loses no datagram: only the offline faults keep writes from their peers.
  auto loaded = load_scenario(testing::source_path("scenarios/offline-peers.toml"));
  if (!loaded.ok()) FAIL(loaded.error().to_string());
  const Scenario scenario = loaded.value();
  REQUIRE(scenario.network.drop == 0);
  const ModelRegistry registry = shipped_models();
  for (const char* name : {"p2p-lww-map", "p2p-lww-map-no-gossip"}) {
    const ModelInfo* model = registry.find(name);
    REQUIRE(model != nullptr);
    std::uint32_t diverged = 0, failed = 0;
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      const RunResult r = run_simulation(scenario, *model, make_schedule(scenario, *model, seed), seed);
      REQUIRE(r.aborted.empty());
      failed += r.violations.empty() ? 0 : 1;
      diverged += std::any_of(r.violations.begin(), r.violations.end(),
                              [](const Violation& v) { return v.invariant == Invariant::convergence; }) ? 1 : 0;
    }
    INFO(name);
    if (model->correct()) REQUIRE(failed == 0);
    else REQUIRE(diverged == 10);
  }
}

TEST_CASE("a client crash ends its user's session even when the client is back before the next view sample",
          "[sim][faults]") {
  // Views are sampled every 100 ms. A broker-map client reloaded at 5.03 s for 20 ms shows nothing
  // until its instance's snapshot arrives, after the 5.1 s sample: the new session's first view.
  // Judged against the old session's last view, every field it had shown "vanished".
  Result<Scenario> scenario = parse_scenario(R"(
servers = 1
[network]
link = "stream"
latency = { min = "10ms", median = "30ms", p99 = "60ms" }
[persistence]
client = true
[workload]
clients = 3
rate = "6/s"
duration = "10s"
keys = 4
[[fault]]
kind = "crash"
target = "client:1"
at = "5030ms"
duration = "20ms"
[invariants]
check = "all"
settle = "20s"
)",
                                             "quick-reload.toml");
  REQUIRE(scenario.ok());
  const ModelRegistry registry = shipped_models();
  const ModelInfo& model = *registry.find("broker-map");
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const RunResult r = run_simulation(scenario.value(), model, make_schedule(scenario.value(), model, seed), seed);
    INFO("seed " << seed);
    REQUIRE(r.aborted.empty());
    REQUIRE(r.metrics.crashes == 1);
    for (const Violation& v : r.violations) FAIL_CHECK(to_string(v.invariant) << ": " << v.detail);
  }
}

TEST_CASE("every partition the swarm draws, and every shape a file names, splits the nodes into two sides",
          "[sim][faults]") {
  // A shape that leaves a side empty cuts nothing: isolate_servers without servers, a bridge over
  // two nodes. The swarm draws halves instead; the parser refuses such a fault in a file.
  for (std::uint32_t servers : {0u, 1u, 2u}) {
    for (std::uint32_t clients : {1u, 2u, 3u, 6u}) {
      if (servers + clients < 2) continue;
      Scenario scenario = quiet_scenario(clients, Duration::seconds(20));
      scenario.servers = servers;
      scenario.swarm.enabled = true;
      scenario.swarm.kinds = {FaultKind::partition};
      scenario.swarm.max_faults = 40;
      std::set<PartitionShape> shapes;
      for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        const Schedule schedule = make_schedule(scenario, DataType::map, seed);
        for (const ScheduledFault& f : schedule.faults) {
          INFO(servers << " servers, " << clients << " clients, seed " << seed);
          REQUIRE(f.kind == FaultKind::partition);
          REQUIRE_FALSE(f.side_a.empty());
          REQUIRE_FALSE(f.side_b.empty());
          std::set<NodeId> seen(f.side_a.begin(), f.side_a.end());
          for (NodeId n : f.side_b) REQUIRE(seen.insert(n).second);  // no node on both sides
          for (NodeId n : f.bridge) REQUIRE(seen.insert(n).second);  // the bridge on neither
        }
      }
    }
  }
  // Each shape a file may name, resolved on the smallest scenario the parser lets it run on.
  struct Case {
    const char* shape;
    const char* text;
  };
  for (const Case& c : {Case{"isolate", "servers = 0\n[workload]\nclients = 2\n"},
                        Case{"halves", "servers = 0\n[workload]\nclients = 2\n"},
                        Case{"bridge", "servers = 1\n[workload]\nclients = 2\n"},
                        Case{"isolate_servers", "servers = 1\n[workload]\nclients = 1\n"},
                        Case{"one_way", "servers = 1\n[workload]\nclients = 1\n"}}) {
    const std::string shape = c.shape;
    const bool targeted = shape == "isolate" || shape == "one_way";
    const std::string text = fmt::format("{}[[fault]]\nkind = \"partition\"\nshape = \"{}\"\nat = \"1s\"\nduration = \"2s\"\n{}",
                                         c.text, shape, targeted ? "target = \"client:0\"\n" : "");
    Result<Scenario> scenario = parse_scenario(text, "shape.toml");
    INFO(shape << ": " << (scenario ? std::string() : scenario.error().message));
    REQUIRE(scenario.ok());
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      const Schedule schedule = make_schedule(scenario.value(), DataType::map, seed);
      REQUIRE(schedule.faults.size() == 1);
      CHECK_FALSE(schedule.faults[0].side_a.empty());
      CHECK_FALSE(schedule.faults[0].side_b.empty());
      CHECK(schedule.faults[0].bridge.size() == (shape == "bridge" ? 1u : 0u));
    }
  }
}

TEST_CASE("a malicious or offline fault the swarm draws always targets a client", "[sim][faults]") {
  // Only clients turn hostile or go offline: a server drawn as the target would make a fault that
  // does nothing.
  const FaultKind kind = GENERATE(FaultKind::malicious, FaultKind::offline);
  Scenario scenario = quiet_scenario(4, Duration::seconds(20));
  scenario.servers = 2;
  scenario.swarm.enabled = true;
  scenario.swarm.kinds = {kind};
  scenario.swarm.max_faults = 20;
  std::size_t drawn = 0;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    const Schedule schedule = make_schedule(scenario, DataType::map, seed);
    for (const ScheduledFault& f : schedule.faults) {
      REQUIRE(f.kind == kind);
      REQUIRE(f.side_a.size() == 1);
      CHECK(f.side_a.front().value >= schedule.servers);  // a client
      ++drawn;
    }
  }
  CHECK(drawn > 100);
}

TEST_CASE("the shipped swarms draw crash points, and swarm draws from every fault kind but malicious", "[sim][faults]") {
  // A crash point meets the moment durability bugs need (a write stored, not yet applied or
  // acknowledged), which a crash at a drawn time rarely does: every shipped swarm draws them. And
  // swarm.toml, which says it draws from every kind, does: a new kind is added there, or this fails.
  for (const char* name : {"swarm", "load-balancer", "three-servers"}) {
    const Scenario scenario = syncstorm::testing::shipped_scenario(name);
    INFO(name);
    REQUIRE(scenario.swarm.enabled);
    const auto& kinds = scenario.swarm.kinds;
    CHECK(std::count(kinds.begin(), kinds.end(), FaultKind::crash_after_flush) == 1);
    std::size_t points = 0;
    for (std::uint64_t seed = 1; seed <= 100; ++seed) {
      for (const ScheduledFault& f : make_schedule(scenario, DataType::map, seed).faults) {
        if (f.kind == FaultKind::crash_after_flush) ++points;
      }
    }
    CHECK(points > 10);
  }
  const Scenario swarm = syncstorm::testing::shipped_scenario("swarm");
  for (FaultKind kind : kAllFaultKinds) {
    INFO(to_string(kind));
    const bool listed = std::count(swarm.swarm.kinds.begin(), swarm.swarm.kinds.end(), kind) == 1;
    CHECK(listed == (kind != FaultKind::malicious));
  }
}

TEST_CASE("a node two crash faults cover restarts when the last of them ends", "[sim][faults]") {
  Probe p;
  p.scenario.network.backoff.policy = BackoffPolicy::fixed;
  p.scenario.network.backoff.jitter = Jitter::none;
  p.scenario.network.backoff.base = Duration::millis(200);
  p.schedule.network = p.scenario.network;
  const NodeId server = p.schedule.server(0);
  p.schedule.faults.push_back(fault(FaultKind::crash, Duration::seconds(5), Duration::seconds(10), {server}));
  p.schedule.faults.push_back(fault(FaultKind::crash, Duration::seconds(6), Duration::seconds(1), {server}));
  p.run();
  // Down from 5 s to 15 s: the short crash's end at 7 s does not restart it.
  REQUIRE(p.result.metrics.crashes == 1);
  REQUIRE(p.received_from(p.schedule.client(0), Duration::millis(5'020), Duration::seconds(15)) == 0);
  REQUIRE(p.received_from(p.schedule.client(0), Duration::seconds(16), Duration::seconds(20)) > 0);
}

namespace {

/// The probe's server, storing and flushing what it receives (or only storing it).
class FlushingServer final : public Node {
 public:
  FlushingServer(std::shared_ptr<Recorder> rec, bool flush) : rec_(std::move(rec)), flush_(flush) {}
  void on_start(Context&) override {}
  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    rec_->receipts.push_back(Receipt{from, ctx.self(), r.u64(), ctx.local_clock()});
    ctx.store().put("last", std::string(payload));
    if (flush_) ctx.store().flush();
  }
  std::optional<State> state() const override { return std::nullopt; }

 private:
  std::shared_ptr<Recorder> rec_;
  bool flush_;
};

/// The times of the trace's events of kind `ev`, in microseconds.
std::vector<std::int64_t> event_times(const std::string& trace, const std::string& ev) {
  std::vector<std::int64_t> out;
  std::istringstream lines(trace);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"ev\":\"" + ev + "\"") == std::string::npos) continue;
    out.push_back(std::stoll(line.substr(line.find("\"t\":") + 4)));
  }
  return out;
}

/// A probe run of one client whose server flushes every message it receives (`flush`), under `faults`.
struct FlushProbe : Probe {
  std::string trace;

  FlushProbe(bool flush, std::vector<ScheduledFault> faults) : Probe(Duration::millis(50), 1) {
    scenario.persistence.server = true;
    schedule.faults = std::move(faults);
    serve_with([rec = rec, flush](NodeId) { return std::make_unique<FlushingServer>(rec, flush); });
    std::ostringstream out;
    run(&out);
    trace = out.str();
  }
};

}  // namespace

TEST_CASE("a crash point crashes its target right after its first flush in the window, and restarts it at the end",
          "[sim][faults]") {
  const NodeId server{0};
  const FlushProbe flushing(true, {fault(FaultKind::crash_after_flush, Duration::seconds(5), Duration::seconds(2), {server})});
  REQUIRE(flushing.result.metrics.crashes == 1);
  // The callback that flushed ran whole first: the crash comes in the same instant, after it.
  const std::int64_t flushed_at = flushing.first_receipt_from(Duration::seconds(5));
  REQUIRE(flushed_at > 5'000'000);
  CHECK(event_times(flushing.trace, "crash") == std::vector<std::int64_t>{flushed_at});
  CHECK(event_times(flushing.trace, "restart") == std::vector<std::int64_t>{7'000'000});

  // A target that flushes nothing in its window is not crashed.
  const FlushProbe storing(false, {fault(FaultKind::crash_after_flush, Duration::seconds(5), Duration::seconds(2), {server})});
  CHECK(storing.result.metrics.crashes == 0);
  CHECK(event_times(storing.trace, "crash").empty());

  // A crash fault still covering the node when the window closes keeps it down until its own end.
  const FlushProbe overlapped(true, {fault(FaultKind::crash_after_flush, Duration::seconds(5), Duration::seconds(2), {server}),
                                     fault(FaultKind::crash, Duration::seconds(6), Duration::seconds(4), {server})});
  CHECK(event_times(overlapped.trace, "restart") == std::vector<std::int64_t>{10'000'000});
  // And a crash point firing inside a crash fault's window cannot happen: the node is down, and
  // once the crash restarts it, its first flush in the window crashes it again.
  const FlushProbe after_restart(true, {fault(FaultKind::crash, Duration::seconds(4), Duration::seconds(2), {server}),
                                        fault(FaultKind::crash_after_flush, Duration::seconds(5), Duration::seconds(3), {server})});
  const std::vector<std::int64_t> crashes = event_times(after_restart.trace, "crash");
  REQUIRE(crashes.size() == 2);
  CHECK(crashes[0] == 4'000'000);
  CHECK(crashes[1] == after_restart.first_receipt_from(Duration::seconds(6)));
  CHECK(event_times(after_restart.trace, "restart") == std::vector<std::int64_t>{6'000'000, 8'000'000});
}

TEST_CASE("a client two offline periods cover is back when the last of them ends", "[sim][faults]") {
  Probe p;
  const NodeId client = p.schedule.client(0);
  p.schedule.faults.push_back(fault(FaultKind::offline, Duration::seconds(5), Duration::seconds(10), {client}));
  p.schedule.faults.push_back(fault(FaultKind::offline, Duration::seconds(6), Duration::seconds(2),
                                    {client, p.schedule.client(1)}));
  p.run();
  REQUIRE(p.received_from(client, Duration::millis(5'020), Duration::seconds(15)) == 0);
  REQUIRE(p.received_from(p.schedule.client(1), Duration::seconds(9), Duration::seconds(15)) > 0);
  REQUIRE(p.received_from(client, Duration::seconds(16), Duration::seconds(20)) > 0);
}

TEST_CASE("a slow close delays only the resets of its own target's connections", "[sim][faults]") {
  Probe p;
  p.scenario.network.backoff = BackoffOptions{BackoffPolicy::fixed, Duration::seconds(5), Duration::seconds(5), 1'000,
                                              Jitter::none, 0, true};
  p.schedule.network = p.scenario.network;
  p.schedule.faults.push_back(fault(FaultKind::slow_close, Duration::seconds(4), Duration::seconds(8), {p.schedule.client(0)}));
  p.schedule.faults.back().amount = Duration::millis(100);
  p.schedule.faults.push_back(fault(FaultKind::slow_close, Duration::seconds(4), Duration::seconds(8), {p.schedule.client(1)}));
  p.schedule.faults.back().amount = Duration::seconds(3);
  p.schedule.faults.push_back(fault(FaultKind::reset, Duration::seconds(5), Duration::millis(1), {p.schedule.client(0)}));
  p.run();
  // Client 0's half-open window is its own fault's 100 ms, not client 1's 3 s.
  REQUIRE(p.rec->server_disconnects.size() == 1);
  REQUIRE(p.rec->server_disconnects[0].first == p.schedule.client(0));
  REQUIRE(p.rec->server_disconnects[0].second == Instant::start() + Duration::millis(5'100));
}

TEST_CASE("limit_data counts the bytes that cross a connection from the fault's start", "[sim][faults]") {
  // 8-byte messages every 50 ms both ways (the server echoes): about 1,600 bytes cross client 0's
  // connection in the fault's first 5 s. It began long after the connection opened, which had
  // carried thousands of bytes by then: a budget counted from the connection's start would close it
  // at the fault's first message.
  auto rec = std::make_shared<Recorder>();
  const ModelInfo model = probe_model(rec, Duration::millis(50), false, true);
  const Scenario scenario = quiet_scenario(2, Duration::seconds(20));
  Schedule schedule = make_schedule(scenario, DataType::map, 1);
  schedule.operations.clear();
  schedule.faults.push_back(fault(FaultKind::limit_data, Duration::seconds(10), Duration::seconds(10), {schedule.client(0)}));
  schedule.faults.back().bytes = 2'000;
  normalise(schedule);
  const RunResult r = run_simulation(scenario, model, schedule, 1);
  REQUIRE(r.aborted.empty());
  REQUIRE(rec->disconnects.size() == 1);
  const Instant closed = rec->disconnects[0].second;
  REQUIRE(closed > Instant::start() + Duration::seconds(15));
  REQUIRE(closed < Instant::start() + Duration::seconds(17));
}

TEST_CASE("a duplicated datagram's copy pays the latency faults its original pays", "[sim][faults]") {
  auto rec = std::make_shared<Recorder>();
  const ModelInfo model = probe_model(rec, Duration::millis(50), true);
  Scenario scenario = quiet_scenario(2, Duration::seconds(20));
  scenario.servers = 0;
  Schedule schedule = make_schedule(scenario, DataType::map, 1);
  schedule.operations.clear();
  schedule.network.duplicate = 500'000;
  schedule.faults.push_back(fault(FaultKind::latency, Duration::seconds(5), Duration::seconds(5), {schedule.client(0)}));
  schedule.faults.back().amount = Duration::seconds(1);
  normalise(schedule);
  const RunResult r = run_simulation(scenario, model, schedule, 1);
  REQUIRE(r.aborted.empty());
  REQUIRE(r.metrics.messages_duplicated > 100);
  // Everything client 0 sent from 5 s on takes at least 1 s: nothing of it, copy or original,
  // arrives before 6 s, while what it sent before 5 s arrived by 5.01 s.
  std::size_t early = 0, late = 0;
  for (const Receipt& receipt : rec->receipts) {
    if (receipt.from != schedule.client(0)) continue;
    early += receipt.at > Instant::start() + Duration::millis(5'020) && receipt.at < Instant::start() + Duration::seconds(6);
    late += receipt.at > Instant::start() + Duration::seconds(6) && receipt.at < Instant::start() + Duration::seconds(11);
  }
  REQUIRE(early == 0);
  REQUIRE(late > 50);
}

TEST_CASE("a listed reset in a scenario without servers fits peers only: it loses their datagrams in flight", "[sim][faults]") {
  Result<Scenario> scenario = parse_scenario(R"(
servers = 0
[workload]
clients = 3
rate = "2/s"
duration = "10s"
[[fault]]
kind = "reset"
target = "clients"
at = "5s"
)",
                                             "peers-reset.toml");
  REQUIRE(scenario.ok());
  const ModelRegistry registry = shipped_models();
  const ModelInfo& peers = *registry.find("p2p-lww-map");
  CHECK(fits(scenario.value(), peers));
  CHECK_FALSE(inert_fault(scenario.value(), peers));
  // A client-server model's reset acts on connections to servers, and there are none.
  CHECK_FALSE(fault_acts(FaultKind::reset, 0, LinkKind::stream, Topology::client_server));
  CHECK_FALSE(fault_acts(FaultKind::reset, 0, LinkKind::datagram, Topology::client_server));
}

TEST_CASE("the swarm raises datagram loss, duplication and reordering only for the kinds it lists", "[sim][faults]") {
  Scenario scenario = quiet_scenario(3, Duration::seconds(20));
  scenario.swarm.enabled = true;
  scenario.swarm.kinds = {FaultKind::clock_jump, FaultKind::duplicate};
  std::uint32_t duplicating = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const Schedule s = make_schedule(scenario, DataType::map, seed);
    REQUIRE(s.network.drop == 0);
    REQUIRE(s.network.reorder == 0);
    duplicating += s.network.duplicate > 0 ? 1 : 0;
  }
  REQUIRE(duplicating >= 15);
}

TEST_CASE("swarm mode spends its faults only on kinds that act on a link of the model's runs", "[sim][faults]") {
  // A datagram loss fault on a model whose clients hold stream connections, or a connection fault
  // between peers without a server, runs and does nothing: a fault of the seed's budget spent on
  // nothing. Given the model, the swarm leaves such kinds out; without one it draws every kind.
  const ModelRegistry registry = shipped_models();
  const auto acts = [](const Schedule& s, const ScheduledFault& f, const Scenario& scenario, const ModelInfo& m) {
    return fault_acts(f.kind, s.servers, scenario.network.client_link, m.topology);
  };
  {
    const Scenario swarm = syncstorm::testing::shipped_scenario("swarm");
    REQUIRE(swarm.network.client_link == LinkKind::stream);
    const ModelInfo& model = *registry.find("lww-map");
    std::size_t inert_without_model = 0;
    std::size_t drawn = 0;
    for (std::uint64_t seed = 1; seed <= 200; ++seed) {
      INFO("seed " << seed);
      const Schedule for_model = make_schedule(swarm, model, seed);
      for (const ScheduledFault& f : for_model.faults) {
        CHECK(acts(for_model, f, swarm, model));
        ++drawn;
      }
      const Schedule for_none = make_schedule(swarm, DataType::map, seed);
      for (const ScheduledFault& f : for_none.faults) inert_without_model += acts(for_none, f, swarm, model) ? 0 : 1;
      CHECK(for_model.operations == for_none.operations);  // the users meet the same operations
    }
    CHECK(inert_without_model > 20);  // the draws the filter removes are there to remove
    CHECK(drawn > 200);
  }
  // Peers without a server: only the datagram kinds (and resets) act; a swarm of connection faults draws none.
  Scenario peers = quiet_scenario(3, Duration::seconds(20));
  peers.servers = 0;
  peers.swarm.enabled = true;
  peers.swarm.max_faults = 6;
  const ModelInfo& p2p = *registry.find("p2p-lww-map");
  REQUIRE(p2p.topology == Topology::peer_to_peer);
  peers.swarm.kinds = {FaultKind::down, FaultKind::drop, FaultKind::limit_data};
  std::size_t drops = 0;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    for (const ScheduledFault& f : make_schedule(peers, p2p, seed).faults) {
      REQUIRE(f.kind == FaultKind::drop);
      ++drops;
    }
  }
  CHECK(drops > 50);
  peers.swarm.kinds = {FaultKind::down, FaultKind::timeout};
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const Schedule s = make_schedule(peers, p2p, seed);
    CHECK(s.faults.empty());
    CHECK(s.operations == make_schedule(peers, DataType::map, seed).operations);
  }
}

TEST_CASE("a peer-to-peer model's servers carry none of its data: faults on them alone make a misfit and its swarms aim at peers",
          "[sim][faults]") {
  const ModelRegistry registry = shipped_models();
  const ModelInfo& p2p = *registry.find("p2p-lww-map");
  const ModelInfo& client_server = *registry.find("lww-map");
  REQUIRE(p2p.topology == Topology::peer_to_peer);
  // Connection faults act on clients' connections to servers, which carry none of a peer's data.
  for (FaultKind kind : {FaultKind::malicious, FaultKind::down, FaultKind::timeout, FaultKind::slow_close,
                         FaultKind::limit_data, FaultKind::bandwidth}) {
    INFO(to_string(kind));
    CHECK_FALSE(fault_acts(kind, 1, LinkKind::stream, Topology::peer_to_peer));
    CHECK(fault_acts(kind, 1, LinkKind::stream, Topology::client_server));
  }
  // A peer's reset loses the datagrams in flight to and from it (tests/sim/network_test.cpp).
  for (FaultKind kind : {FaultKind::reset, FaultKind::partition, FaultKind::crash, FaultKind::offline, FaultKind::latency,
                         FaultKind::drop}) {
    INFO(to_string(kind));
    CHECK(fault_acts(kind, 1, LinkKind::stream, Topology::peer_to_peer));
  }
  // A listed fault on servers alone (server-crash and article-hybrid-dashboard crash only their
  // server, reconnect-storm downs it) would run and do nothing to a peer: the scenario is a misfit,
  // and says which fault and why. The client-server model still fits them.
  for (const char* name : {"server-crash", "article-hybrid-dashboard", "reconnect-storm", "two-servers"}) {
    INFO(name);
    const Scenario scenario = shipped_scenario(name);
    CHECK(fits(scenario, client_server));
    REQUIRE_FALSE(fits(scenario, p2p));
    const std::optional<InputError> why = check_fit(scenario, p2p);
    REQUIRE(why);
    CHECK_THAT(why->key, Catch::StartsWith("fault["));
    CHECK_THAT(why->message, Catch::Contains("peer to peer") && Catch::Contains("would do nothing"));
  }
  // Faults on clients, partitions that split peers and resets of peers act.
  CHECK(fits(shipped_scenario("partition-heal"), p2p));
  CHECK(fits(shipped_scenario("flaky-mobile"), p2p));
  CHECK(fits(shipped_scenario("offline-peers"), p2p));
  // A swarm aims every fault that names a target at peers, never at a server alone.
  const Scenario swarm = shipped_scenario("swarm");
  REQUIRE(swarm.servers > 0);
  std::size_t aimed = 0;
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    INFO("seed " << seed);
    const Schedule s = make_schedule(swarm, p2p, seed);
    for (const ScheduledFault& f : s.faults) {
      if (f.kind == FaultKind::partition) {
        // Never the servers against the clients, which cuts no link between peers: both sides hold peers.
        const auto peer_on = [&](const std::vector<NodeId>& side) {
          return std::any_of(side.begin(), side.end(), [&](NodeId n) { return n.value >= s.servers; });
        };
        CHECK((peer_on(f.side_a) && peer_on(f.side_b)));
        continue;
      }
      for (NodeId n : f.side_a) CHECK(n.value >= s.servers);
      ++aimed;
    }
  }
  CHECK(aimed > 100);
}
