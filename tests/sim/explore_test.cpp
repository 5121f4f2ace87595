// Tests of the exploration strategies (check --explore): the priority strategy's plan and the
// legality of what it schedules, its record in repros and replay commands, the same bytes on any
// number of jobs, and the default staying exactly the random strategy.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/wait.h>

#include "sim/cli/commands.hpp"
#include "sim/engine/priority.hpp"
#include "sim/engine/simulation.hpp"
#include "sim/sweep/check.hpp"
#include "sim/sweep/repro.hpp"
#include "tests/printers.hpp"
#include "tests/shipped_scenario.hpp"
#include "tests/programs.hpp"

namespace syncstorm {
namespace {

using testing::shipped_scenario;

using testing::syncstorm_cli;

/// The first seed of 1..`last` whose priority run breaks `model`'s own invariant on `scenario`.
std::optional<std::uint64_t> first_priority_failure(const Scenario& scenario, const ModelInfo& model, std::uint64_t last) {
  for (std::uint64_t seed = 1; seed <= last; ++seed) {
    const RunResult r = run_simulation(scenario, model, make_schedule(scenario, model, seed, Exploration::priority), seed);
    for (const Violation& v : r.violations) {
      if (v.invariant == *model.breaks) return seed;
    }
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("The default strategy is random and draws exactly the schedule it always drew", "[explore]") {
  const Scenario scenario = shipped_scenario("flaky-mobile");
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const Schedule plain = make_schedule(scenario, DataType::map, seed);
    CHECK(plain.explore == Exploration::random);
    CHECK(plain == make_schedule(scenario, DataType::map, seed, Exploration::random));
    // The priority strategy keeps the users' operations and the scenario's faults (common random
    // numbers: the two strategies meet the same users), and only adds its bursts.
    const Schedule priority = make_schedule(scenario, DataType::map, seed, Exploration::priority);
    CHECK(priority.explore == Exploration::priority);
    CHECK(priority.operations == plain.operations);
    CHECK(priority.faults.size() > plain.faults.size());
    CHECK(priority.faults.size() <= plain.faults.size() + 2 * 3);
  }
  // A scenario without faults promises a calm network: no bursts.
  const Scenario quiet = shipped_scenario("quiet");
  CHECK(make_schedule(quiet, DataType::map, 3, Exploration::priority).faults == make_schedule(quiet, DataType::map, 3).faults);
}

TEST_CASE("Priority bursts isolate a peer-to-peer writer: its datagram links have no connection to reset", "[explore]") {
  const ModelRegistry models = shipped_models();
  const ModelInfo& peer = *models.find("p2p-lww-map");
  const ModelInfo& client = *models.find("lww-map");
  REQUIRE(peer.topology == Topology::peer_to_peer);
  const Scenario peers = shipped_scenario("offline-peers");
  REQUIRE(peers.servers == 0);
  const Duration in_flight = max(peers.network.peer_latency.p99 * 2, Duration::millis(1));
  std::size_t bursts = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    INFO("seed " << seed);
    const Schedule random = make_schedule(peers, peer, seed);
    const Schedule priority = make_schedule(peers, peer, seed, Exploration::priority);
    for (const ScheduledFault& f : priority.faults) {
      CHECK(fault_acts(f.kind, priority.servers, peers.network.client_link, peer.topology));
      if (std::find(random.faults.begin(), random.faults.end(), f) != random.faults.end()) continue;
      // A burst: the writer alone on one side, for two 99th-percentile peer latencies.
      CHECK(f.kind == FaultKind::partition);
      CHECK(f.side_a.size() == 1);
      CHECK(f.side_a.size() + f.side_b.size() == priority.node_count());
      CHECK(f.duration == in_flight);
      ++bursts;
    }
  }
  CHECK(bursts >= 20);
  // A client-server model's bursts are still resets of its connections.
  const Scenario flaky = shipped_scenario("flaky-mobile");
  std::size_t resets = 0;
  for (const ScheduledFault& f : make_schedule(flaky, client, 7, Exploration::priority).faults) resets += f.kind == FaultKind::reset;
  CHECK(resets >= 1);
  // The baseline that never gossips loses a write whose datagrams a burst cut: on a scenario where
  // its random runs break nothing in 300 seeds, the first priority seeds do.
  const ModelInfo& no_gossip = *models.find("p2p-lww-map-no-gossip");
  const Scenario skew = shipped_scenario("clock-skew");
  REQUIRE(fits(skew, no_gossip));
  CHECK(first_priority_failure(skew, no_gossip, 20).has_value());
}

TEST_CASE("Priority bursts crash a peer-to-peer writer where clients persist and never its signalling server", "[explore]") {
  const ModelRegistry models = shipped_models();
  const ModelInfo& peer = *models.find("p2p-lww-map");
  const ModelInfo& client = *models.find("lww-map");
  const auto burst_crashes = [](const Scenario& scenario, const ModelInfo& model, std::uint64_t seed) {
    const Schedule random = make_schedule(scenario, model, seed);
    const Schedule priority = make_schedule(scenario, model, seed, Exploration::priority);
    std::vector<ScheduledFault> crashes;
    for (const ScheduledFault& f : priority.faults) {
      const bool crash = f.kind == FaultKind::crash || f.kind == FaultKind::crash_after_flush;
      if (crash && std::find(random.faults.begin(), random.faults.end(), f) == random.faults.end()) crashes.push_back(f);
    }
    return std::pair{priority.servers, crashes};
  };
  // three-servers crashes nodes and its clients persist: a peer's bursts crash the writing peer, a
  // client-server model's a server, as before.
  const Scenario persistent = shipped_scenario("three-servers");
  REQUIRE(persistent.persistence.client);
  REQUIRE(persistent.servers > 0);
  REQUIRE(fits(persistent, peer));
  REQUIRE(fits(persistent, client));
  std::size_t peer_crashes = 0, server_crashes = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    INFO("seed " << seed);
    const auto [servers, crashes] = burst_crashes(persistent, peer, seed);
    for (const ScheduledFault& f : crashes) {
      REQUIRE(f.side_a.size() == 1);
      CHECK(f.side_a[0].value >= servers);
      ++peer_crashes;
    }
    const auto [client_servers, client_crashes] = burst_crashes(persistent, client, seed);
    for (const ScheduledFault& f : client_crashes) {
      REQUIRE(f.side_a.size() == 1);
      CHECK(f.side_a[0].value < client_servers);
      ++server_crashes;
    }
  }
  CHECK(peer_crashes >= 5);
  CHECK(server_crashes >= 5);
  // Here clients do not persist: a crashed peer would lose unsent edits by the scenario's design,
  // so a peer's bursts crash nothing.
  const Result<Scenario> parsed = parse_scenario(R"(
servers = 1
[workload]
clients = 4
rate = "2/s"
duration = "20s"
[[fault]]
kind = "partition"
target = "client:0"
at = "2s"
duration = "3s"
[[fault]]
kind = "crash"
target = "client:1"
at = "8s"
duration = "2s"
)",
                                                 "volatile-peers.toml");
  REQUIRE(parsed.ok());
  const Scenario& volatile_clients = parsed.value();
  REQUIRE_FALSE(volatile_clients.persistence.client);
  REQUIRE(fits(volatile_clients, peer));
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    INFO("seed " << seed);
    CHECK(burst_crashes(volatile_clients, peer, seed).second.empty());
  }
}

TEST_CASE("A priority plan ranks every node once and drops the highest at each change point", "[explore]") {
  const Schedule schedule = make_schedule(shipped_scenario("flaky-mobile"), DataType::map, 7, Exploration::priority);
  const PriorityPlan plan = PriorityPlan::draw(schedule, 7);
  const std::uint32_t n = schedule.node_count();
  REQUIRE(plan.change_points().size() == PriorityPlan::kChangePoints);
  std::vector<Instant> moments{Instant::start()};
  for (Instant at : plan.change_points()) moments.push_back(at);
  for (std::size_t k = 0; k < moments.size(); ++k) {
    std::vector<std::uint32_t> ranks;
    for (std::uint32_t node = 0; node < n; ++node) ranks.push_back(plan.rank(node, moments[k]));
    std::sort(ranks.begin(), ranks.end());
    for (std::uint32_t r = 0; r < n; ++r) CHECK(ranks[r] == r);  // a permutation
    if (k == 0) continue;
    for (std::uint32_t node = 0; node < n; ++node) {
      if (plan.rank(node, Instant{moments[k].us - 1}) == 0) CHECK(plan.rank(node, moments[k]) == n - 1);
    }
  }
  // Delays stay in their band of [low, high]: the top rank near low, the bottom near high.
  Rng rng(11);
  const Duration low = Duration::millis(5), high = Duration::millis(150);
  for (std::uint32_t node = 0; node < n; ++node) {
    const std::uint32_t rank = plan.rank(node, Instant::start());
    for (int i = 0; i < 50; ++i) {
      const Duration d = plan.delay(node, Instant::start(), low, high, rng);
      CHECK(d >= low + (high - low) * rank / n);
      CHECK(d <= low + (high - low) * (rank + 1) / n);
    }
  }
  // The same seed gives the same plan.
  const PriorityPlan again = PriorityPlan::draw(schedule, 7);
  CHECK(again.change_points() == plan.change_points());
}

TEST_CASE("Priority runs keep every stream FIFO and every delay inside the scenario's latency range", "[explore]") {
  const Scenario scenario = shipped_scenario("quiet");
  const ModelRegistry models = shipped_models();
  const ModelInfo& model = *models.find("lww-map");
  REQUIRE(scenario.network.client_link == LinkKind::stream);
  REQUIRE(scenario.network.bandwidth_bytes_per_s == 0);  // no queueing: the delay is the latency alone
  std::uint64_t delivered = 0;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const Schedule schedule = make_schedule(scenario, model, seed, Exploration::priority);
    std::ostringstream trace;
    RunOptions options;
    options.trace_out = &trace;
    run_simulation(scenario, model, schedule, seed, options);
    std::map<std::uint64_t, std::int64_t> sent_at;
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> last_delivered;  // (from, to) -> message id
    std::istringstream lines(trace.str());
    for (std::string line; std::getline(lines, line);) {
      const auto e = nlohmann::json::parse(line);
      if (e["ev"] == "send") sent_at[e["msg"].get<std::uint64_t>()] = e["t"].get<std::int64_t>();
      if (e["ev"] != "deliver") continue;
      const auto id = e["msg"].get<std::uint64_t>();
      const auto to = e["node"].get<std::uint32_t>(), from = e["peer"].get<std::uint32_t>();
      const bool servers = from < schedule.servers && to < schedule.servers;
      const LatencyOptions& l = servers ? schedule.network.server_latency : schedule.network.latency;
      const std::int64_t delay = e["t"].get<std::int64_t>() - sent_at.at(id);
      INFO("seed " << seed << ": " << line);
      CHECK(delay >= l.min.us);
      CHECK(delay <= l.p99.us);
      // Message ids grow with every send: on a stream, each (from, to) delivers them in order.
      std::uint64_t& last = last_delivered[{from, to}];
      CHECK(id > last);
      last = id;
      ++delivered;
    }
  }
  CHECK(delivered > 100);
}

TEST_CASE("A priority failure shrinks to a repro that records the strategy and replays exactly", "[explore]") {
  const Scenario scenario = shipped_scenario("flaky-mobile");
  const ModelRegistry models = shipped_models();
  const ModelInfo& model = *models.find("counter-no-dedup");
  const auto seed = first_priority_failure(scenario, model, 60);
  REQUIRE(seed.has_value());
  const Schedule schedule = make_schedule(scenario, model, *seed, Exploration::priority);
  const RunResult original = run_simulation(scenario, model, schedule, *seed);
  const ShrinkResult shrunk =
      shrink_failure(scenario, model, schedule, *seed, std::string(to_string(*model.breaks)), ShrinkLimits{300, 0});
  CHECK(shrunk.repro.schedule.explore == Exploration::priority);
  const std::string text = format_repro(shrunk.repro);
  CHECK(text.find("explore = \"priority\"") != std::string::npos);
  auto parsed = parse_repro(text, "shrunk.repro.toml");
  REQUIRE(parsed.ok());
  CHECK(parsed.value().schedule == shrunk.repro.schedule);
  CHECK(replay_repro(parsed.value(), model).trace_hash == shrunk.repro.trace_hash);

  // The command line reproduces the original run: its replay line names the strategy.
  const auto [code, out] = syncstorm_cli(fmt::format("run flaky-mobile --model counter-no-dedup --seed {} --explore priority", *seed));
  CHECK(code == 1);
  CHECK(out.find(fmt::format("trace hash  {:016x}", original.trace_hash)) != std::string::npos);
  CHECK(out.find(fmt::format("--seed {} --explore priority", *seed)) != std::string::npos);
  CHECK(replay_command("flaky-mobile", "counter-no-dedup", 3) == "syncstorm replay flaky-mobile --model counter-no-dedup --seed 3");
  // A repro written for the random strategy (or before strategies existed) has no explore key.
  Repro plain = shrunk.repro;
  plain.schedule.explore = Exploration::random;
  CHECK(format_repro(plain).find("explore =") == std::string::npos);
  // A strategy name that does not exist is an error naming the key.
  std::string bad = text;
  bad.replace(bad.find("explore = \"priority\""), 20, "explore = \"sideways\"");
  auto rejected = parse_repro(bad, "bad.repro.toml");
  REQUIRE_FALSE(rejected.ok());
  CHECK(rejected.error().key.find("explore") != std::string::npos);
}

TEST_CASE("A priority check gives the same JSON bytes on one job and on three", "[explore]") {
  const ModelRegistry models = shipped_models();
  const std::vector<CheckTarget> targets{{shipped_scenario("flaky-mobile"), models.find("counter-no-dedup"), Exploration::priority},
                                         {shipped_scenario("partition-heal"), models.find("lww-map"), Exploration::priority}};
  CheckOptions options;
  options.seeds = SeedRange{1, 20};
  options.progress = false;
  options.verify_percent = 10;
  options.shrink = ShrinkLimits{100, 0};  // no wall-clock limit: the shrink must not depend on speed
  options.jobs = 1;
  const std::string one = check_json(run_check(targets, {}, options));
  options.jobs = 3;
  const std::string three = check_json(run_check(targets, {}, options));
  CHECK(one == three);
  const auto doc = nlohmann::json::parse(one);
  CHECK(doc["results"][0]["explore"] == "priority");
  REQUIRE(doc["results"][0]["failing_seeds"].get<int>() > 0);
  CHECK(doc["results"][0]["failures"][0]["replay"].get<std::string>().ends_with("--explore priority"));
  CHECK(doc["results"][1]["failing_seeds"] == 0);  // a correct model stays correct under the strategy
}

TEST_CASE("A bad --explore value exits 2 and names the flag", "[explore]") {
  for (const std::string command : {"check quiet --seeds 1 --explore sideways", "run quiet --model echo --seed 1 --explore sideways",
                                    "replay quiet --model echo --seed 1 --explore sideways"}) {
    const auto [code, out] = syncstorm_cli(command);
    INFO(command << "\n" << out);
    CHECK(code == 2);
    CHECK(out.find("--explore") != std::string::npos);
    CHECK(out.find("sideways") != std::string::npos);
  }
  CHECK(syncstorm_cli("check quiet --model echo --seeds 2 --no-progress --explore priority").first == 0);
}

}  // namespace syncstorm
