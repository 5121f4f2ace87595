// Every system and pitfall of the real-time state article, each as a shipped scenario file
// run over a handful of seeds: the finding a scenario's header promises is asserted here, so a
// change to a model or to the engine that erases the finding fails the suite.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include "models/model.hpp"
#include "sim/base/codec.hpp"
#include "sim/scenario/scenario_file.hpp"
#include "sim/scenario/schedule.hpp"
#include "sim/engine/simulation.hpp"
#include "tests/models/harness.hpp"
#include "tests/printers.hpp"
#include "tests/source_tree.hpp"

using namespace syncstorm;

namespace {

Scenario article_scenario(std::string_view file) {
  auto loaded = load_scenario(testing::source_path(fmt::format("scenarios/{}", file)));
  if (!loaded.ok()) FAIL(loaded.error().to_string());
  return loaded.value();
}

ModelInfo article_model(std::string_view name) {
  const ModelRegistry registry = shipped_models();
  const ModelInfo* info = registry.find(name);
  if (info == nullptr) FAIL(fmt::format("model {} is not registered", name));
  return *info;
}

/// What a model did over seeds 1..n of a scenario: summed figures and the runs that broke each
/// invariant.
struct Sweep {
  std::uint32_t runs = 0;
  std::map<Invariant, std::uint32_t> broken;  ///< runs with at least one violation of the invariant
  std::uint64_t server_load_peak = 0;         ///< summed over runs
  std::uint64_t storm_peak = 0;               ///< summed over runs: the peak from `storm_from` on
  std::int64_t all_reconnected_us = 0;        ///< summed over runs (-1 counts as 0)
  std::uint64_t bytes_sent = 0;               ///< summed over runs
  std::uint64_t messages_delivered = 0;       ///< summed over runs
  std::uint64_t connections = 0;              ///< connections established, summed over runs
  std::uint64_t rejected = 0;                 ///< operations rejected, summed over runs
  std::uint64_t metadata_bytes_max = 0;       ///< the largest over runs
  std::vector<std::int64_t> remote_latency_us;  ///< every sample of every run
  std::vector<std::string> aborted;

  std::uint32_t runs_breaking(Invariant invariant) const {
    auto it = broken.find(invariant);
    return it == broken.end() ? 0 : it->second;
  }
  std::uint32_t runs_breaking_any() const {
    std::uint32_t most = 0;
    for (const auto& [invariant, count] : broken) most = std::max(most, count);
    return most;
  }
};

/// Runs seeds 1..`seeds`. `storm_from` starts the window of the storm peak: the clients' first
/// connections at the start of a run make a peak of their own, which is not the storm's.
Sweep sweep(const Scenario& scenario, const ModelInfo& model, std::uint64_t seeds,
            Instant storm_from = Instant::start()) {
  Sweep s;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    const Schedule schedule = make_schedule(scenario, model, seed);
    const RunResult r = run_simulation(scenario, model, schedule, seed);
    ++s.runs;
    if (!r.aborted.empty()) s.aborted.push_back(r.aborted);
    std::map<Invariant, bool> seen;
    for (const Violation& v : r.violations) seen[v.invariant] = true;
    for (const auto& [invariant, yes] : seen) s.broken[invariant] += yes ? 1 : 0;
    s.server_load_peak += r.metrics.server_load_peak;
    const auto& load = r.metrics.server_load;
    const auto first = static_cast<std::size_t>(storm_from.us / Duration::millis(100).us);
    if (first < load.size()) s.storm_peak += *std::max_element(load.begin() + static_cast<std::ptrdiff_t>(first), load.end());
    s.all_reconnected_us += std::max<std::int64_t>(r.metrics.all_reconnected_us, 0);
    s.bytes_sent += r.metrics.bytes_sent;
    s.messages_delivered += r.metrics.messages_delivered;
    s.connections += r.metrics.connections_established;
    s.rejected += r.metrics.rejected;
    s.metadata_bytes_max = std::max(s.metadata_bytes_max, r.metrics.metadata_bytes_max);
    s.remote_latency_us.insert(s.remote_latency_us.end(), r.metrics.remote_latency_us.begin(),
                               r.metrics.remote_latency_us.end());
  }
  return s;
}

/// The q-th per-mille quantile of `samples` (nearest rank); 0 when there are none.
std::int64_t quantile(std::vector<std::int64_t> samples, std::uint32_t per_mille) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const std::size_t rank = (samples.size() - 1) * per_mille / 1000;
  return samples[rank];
}

// ---------------------------------------------------------------------------------------------
// 1. Reconnection storms.

struct BackoffCase {
  std::string name;
  BackoffOptions backoff;
};

/// The backoff a scenario file gets from `[backoff] preset = "<name>"`.
BackoffOptions preset_backoff(const std::string& name) {
  auto parsed = parse_scenario(fmt::format("[backoff]\npreset = \"{}\"\n", name), "preset.toml");
  if (!parsed.ok()) FAIL(parsed.error().to_string());
  return parsed.value().network.backoff;
}

std::vector<BackoffCase> backoff_cases() {
  BackoffOptions full;  // the defaults: exponential from 500 ms, x2, capped at 10 s, full jitter
  full.base = Duration::millis(500);
  full.max = Duration::seconds(10);
  full.multiplier_milli = 2'000;
  full.jitter = Jitter::full;
  full.jitter_first_attempt = true;
  BackoffOptions none = full;
  none.policy = BackoffPolicy::none;
  none.jitter = Jitter::none;
  BackoffOptions plain = full;
  plain.jitter = Jitter::none;
  BackoffOptions equal = full;
  equal.jitter = Jitter::equal;
  BackoffOptions decorrelated = full;
  decorrelated.jitter = Jitter::decorrelated;
  BackoffOptions first_at_once = full;
  first_at_once.jitter_first_attempt = false;
  // The presets exactly as the scenario format defines them.
  const BackoffOptions socketio = preset_backoff("socket.io");
  const BackoffOptions grpc = preset_backoff("grpc");
  return {{"no backoff", none},         {"exponential, no jitter", plain},
          {"full jitter", full},        {"equal jitter", equal},
          {"decorrelated jitter", decorrelated}, {"full jitter, first attempt at once", first_at_once},
          {"socket.io preset", socketio}, {"grpc preset", grpc}};
}

/// When the server of the storm scenarios goes down (their [[fault]] says 10 s).
constexpr Instant kStormStart{10'000'000};

Sweep storm(const BackoffOptions& backoff, std::uint64_t seeds) {
  Scenario scenario = article_scenario("article/article-reconnect-storm.toml");
  scenario.network.backoff = backoff;
  return sweep(scenario, article_model("outbox-map"), seeds, kStormStart);
}

}  // namespace

TEST_CASE("full jitter lowers the peak server load of a reconnect storm against no jitter",
          "[article][storm][slow]") {
  const auto cases = backoff_cases();
  const Sweep plain = storm(cases[1].backoff, 3);
  const Sweep full = storm(cases[2].backoff, 3);
  INFO("storm peak per 100 ms, summed over 3 seeds: no jitter " << plain.storm_peak << ", full jitter "
                                                                << full.storm_peak);
  REQUIRE(full.storm_peak < plain.storm_peak);
  REQUIRE(full.runs_breaking_any() == 0);
  REQUIRE(plain.runs_breaking_any() == 0);
}

TEST_CASE("reconnecting at once with no backoff loads the server more than full jitter",
          "[article][storm][slow]") {
  const auto cases = backoff_cases();
  const Sweep none = storm(cases[0].backoff, 3);
  const Sweep full = storm(cases[2].backoff, 3);
  REQUIRE(full.storm_peak < none.storm_peak);
}

TEST_CASE("the herd scenario file shows a higher peak than the full-jitter file", "[article][storm][slow]") {
  const ModelInfo model = article_model("outbox-map");
  const Sweep herd = sweep(article_scenario("article/article-reconnect-storm-herd.toml"), model, 3, kStormStart);
  const Sweep full = sweep(article_scenario("article/article-reconnect-storm.toml"), model, 3, kStormStart);
  REQUIRE(full.storm_peak < herd.storm_peak);
}

// ---------------------------------------------------------------------------------------------
// 3. Client persistence across a reload.

TEST_CASE("a persisted outbox survives a tab reload and loses nothing", "[article][persistence]") {
  const Sweep s = sweep(article_scenario("article-tab-reload.toml"), article_model("outbox-map"), 5);
  REQUIRE(s.aborted.empty());
  REQUIRE(s.runs_breaking_any() == 0);
}

TEST_CASE("an in-memory outbox loses unsent edits on a reload and is caught as a silent rollback",
          "[article][persistence]") {
  const Sweep s = sweep(article_scenario("article-tab-reload.toml"), article_model("outbox-map-memory"), 5);
  REQUIRE(s.runs_breaking(Invariant::silent_rollback) >= 4);
}

// ---------------------------------------------------------------------------------------------
// 2. Diff-based against full-state resync.

TEST_CASE("diff resync after reconnects sends fewer bytes than full-state resync and both stay correct",
          "[article][diff][slow]") {
  const Scenario scenario = article_scenario("article/article-diff-sync.toml");
  const Sweep diff = sweep(scenario, article_model("eventstore-map"), 2);
  const Sweep full = sweep(scenario, article_model("eventstore-map-full-resync"), 2);
  INFO("bytes over 2 seeds: diff " << diff.bytes_sent << ", full " << full.bytes_sent);
  REQUIRE(diff.runs_breaking_any() == 0);
  REQUIRE(full.runs_breaking_any() == 0);
  REQUIRE(diff.bytes_sent < full.bytes_sent);
}

TEST_CASE("the event-log-list pair shows the same saving of diff over full-state resync", "[article][diff][slow]") {
  const Scenario scenario = article_scenario("article/article-diff-sync.toml");
  // One seed: these list models are slower on this 2,000-item scenario (about 2 s a run).
  const Sweep diff = sweep(scenario, article_model("event-log-list"), 1);
  const Sweep full = sweep(scenario, article_model("event-log-list-full-resync"), 1);
  INFO("bytes over seed 1: diff " << diff.bytes_sent << ", full " << full.bytes_sent);
  REQUIRE(diff.runs_breaking_any() == 0);
  REQUIRE(full.runs_breaking_any() == 0);
  REQUIRE(diff.bytes_sent < full.bytes_sent);
}

// ---------------------------------------------------------------------------------------------
// 4. Event sourcing with a log store: growth, retention, a client older than the retained log.

TEST_CASE("an event log with retention stays within the metadata bound and loses nothing",
          "[article][eventlog]") {
  const Sweep s = sweep(article_scenario("article-event-log.toml"), article_model("eventstore-map"), 3);
  REQUIRE(s.aborted.empty());
  REQUIRE(s.runs_breaking_any() == 0);
}

TEST_CASE("an event log without retention is caught growing past the metadata bound", "[article][eventlog]") {
  const Sweep s = sweep(article_scenario("article-event-log.toml"), article_model("eventstore-map-unbounded"), 3);
  REQUIRE(s.runs_breaking(Invariant::bounded_metadata) == 3);
}

TEST_CASE("a client whose position is older than the retained log catches up from the snapshot",
          "[article][eventlog]") {
  const ModelInfo model = article_model("eventstore-map");
  testing::Cluster cluster(model, 1, 2);
  const NodeId late = cluster.client(1);
  cluster.user(1, OpKind::map_set, 9'999);
  cluster.deliver_all();
  cluster.disconnect(late);
  // More distinct fields than the log retains: a diff from the old position cannot be served.
  for (std::uint32_t key = 0; key < 600; ++key) {
    cluster.user(0, OpKind::map_set, key);
    cluster.deliver_all();
  }
  cluster.reconnect(late);
  cluster.deliver_all();
  REQUIRE(cluster.state(late) == cluster.state(cluster.server()));
  REQUIRE(cluster.state(late)->fields.size() == 601);
}

// ---------------------------------------------------------------------------------------------
// 5. Several server instances behind a broker.

TEST_CASE("instances fanning out through a durable broker log converge after a cut and a restart",
          "[article][broker]") {
  const Sweep s = sweep(article_scenario("article-broker-fanout.toml"), article_model("broker-map"), 3);
  REQUIRE(s.aborted.empty());
  REQUIRE(s.runs_breaking_any() == 0);
}

TEST_CASE("at-most-once pub/sub loses what an instance missed and the checkers report divergence",
          "[article][broker]") {
  const Sweep s =
      sweep(article_scenario("article-broker-fanout.toml"), article_model("broker-map-at-most-once"), 3);
  REQUIRE(s.runs_breaking(Invariant::convergence) >= 2);
}

// ---------------------------------------------------------------------------------------------
// 7. Optimistic updates with undo history.

TEST_CASE("rolling a rejected write back by its inverse keeps every replica correct", "[article][undo]") {
  const ModelInfo model = article_model("undo-map");
  const Scenario scenario = article_scenario("article-undo-rollback.toml");
  const Sweep s = sweep(scenario, model, 4);
  REQUIRE(s.runs_breaking_any() == 0);
  // The scenario must really exercise rollback: the server rejects writes in it.
  const Schedule schedule = make_schedule(scenario, model, 1);
  REQUIRE(run_simulation(scenario, model, schedule, 1).metrics.rejected > 0);
}

TEST_CASE("rolling a rejected write back to a snapshot wipes remote updates and is caught",
          "[article][undo]") {
  const Sweep s = sweep(article_scenario("article-undo-rollback.toml"), article_model("undo-map-snapshot"), 4);
  REQUIRE(s.runs_breaking(Invariant::convergence) >= 3);
}

// ---------------------------------------------------------------------------------------------
// 8. Malicious and malformed clients.

TEST_CASE("a validating server keeps every honest replica correct under a hostile client",
          "[article][malicious]") {
  const Sweep s = sweep(article_scenario("article-malicious-client.toml"), article_model("guarded-map"), 4);
  REQUIRE(s.aborted.empty());
  REQUIRE(s.runs_breaking_any() == 0);
}

TEST_CASE("a server that trusts its clients spreads forged values and the checkers report phantoms",
          "[article][malicious]") {
  const Sweep s =
      sweep(article_scenario("article-malicious-client.toml"), article_model("guarded-map-trusting"), 4);
  REQUIRE(s.runs_breaking(Invariant::phantom_or_double_applied) == 4);
}

TEST_CASE("under the engine's malicious fault a validating server keeps every honest replica correct",
          "[article][malicious]") {
  const Scenario scenario = article_scenario("article/article-malicious-fault.toml");
  const ModelInfo model = article_model("guarded-map");
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    INFO("seed " << seed);
    const RunResult r = run_simulation(scenario, model, make_schedule(scenario, model, seed), seed);
    REQUIRE(r.aborted.empty());
    // The fault really attacks: one hostile message every 100 ms for most of 28 s.
    REQUIRE(r.metrics.hostile_messages >= 200);
    REQUIRE(r.history.untrusted.size() == 1);
    for (const Violation& v : r.violations) FAIL_CHECK(format_violation(v, r.history));
    REQUIRE(r.violations.empty());
  }
}

TEST_CASE("under the engine's malicious fault a server that merges whatever decodes is corrupted and caught",
          "[article][malicious]") {
  // pn-counter's server merges any per-replica totals a client's message decodes to, for any
  // replica, without checking size or author: hostile bytes that happen to decode raise totals
  // nobody incremented, on every replica. (Not guarded-map-trusting: its own built-in attacker
  // would be caught with or without the engine's fault.)
  const Scenario scenario = article_scenario("article/article-malicious-fault.toml");
  const Sweep attacked = sweep(scenario, article_model("pn-counter"), 4);
  REQUIRE(attacked.aborted.empty());
  REQUIRE(attacked.runs_breaking(Invariant::phantom_or_double_applied) >= 3);
  // The same scenario without the malicious fault: the model is correct, so the fault is the cause.
  Scenario honest = scenario;
  std::erase_if(honest.faults, [](const FaultSpec& f) { return f.kind == FaultKind::malicious; });
  REQUIRE(sweep(honest, article_model("pn-counter"), 4).runs_breaking_any() == 0);
}

// ---------------------------------------------------------------------------------------------
// 6. Peer to peer over WebRTC data channels.

TEST_CASE("a peer-to-peer CRDT with anti-entropy converges over lossy duplicating reordering links",
          "[article][p2p]") {
  const Sweep s = sweep(article_scenario("article-p2p-webrtc.toml"), article_model("p2p-lww-map"), 4);
  REQUIRE(s.aborted.empty());
  REQUIRE(s.runs_breaking_any() == 0);
}

TEST_CASE("peer-to-peer deltas without anti-entropy diverge under loss", "[article][p2p]") {
  const Sweep s = sweep(article_scenario("article-p2p-webrtc.toml"), article_model("p2p-lww-map-no-gossip"), 4);
  REQUIRE(s.runs_breaking(Invariant::convergence) >= 3);
}

// ---------------------------------------------------------------------------------------------
// 9. Server-owned state refetched on reconnect.

TEST_CASE("refetching server-owned state is correct but shows other users' writes later than pushes",
          "[article][refetch]") {
  const Scenario scenario = article_scenario("article-refetch.toml");
  const Sweep refetch = sweep(scenario, article_model("refetch-map"), 3);
  const Sweep push = sweep(scenario, article_model("outbox-map"), 3);
  REQUIRE(refetch.runs_breaking_any() == 0);
  REQUIRE(push.runs_breaking_any() == 0);
  const std::int64_t refetch_p95 = quantile(refetch.remote_latency_us, 950);
  const std::int64_t push_p95 = quantile(push.remote_latency_us, 950);
  INFO("remote latency p95: refetch " << refetch_p95 << " us, push " << push_p95 << " us");
  REQUIRE(refetch_p95 > push_p95 * 5);
}

// ---------------------------------------------------------------------------------------------
// 10. Hybrid dashboard.

namespace {

/// Local latency (issued -> applied at its own user) of the operations on even or odd keys, all seeds.
std::vector<std::int64_t> local_latency_by_parity(const Scenario& scenario, const ModelInfo& model,
                                                  std::uint64_t seeds, bool even) {
  std::vector<std::int64_t> out;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    const RunResult r = run_simulation(scenario, model, make_schedule(scenario, model, seed), seed);
    for (const OpRecord& rec : r.history.ops) {
      if (!rec.issued || !rec.applied || (rec.op.key.value % 2 == 0) != even) continue;
      out.push_back((*rec.applied - rec.op.issued_at).us);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("a hybrid dashboard is correct, shows preferences at once and aggregates after the server",
          "[article][hybrid]") {
  const Scenario scenario = article_scenario("article-hybrid-dashboard.toml");
  const ModelInfo model = article_model("hybrid-dashboard");
  REQUIRE(sweep(scenario, model, 3).runs_breaking_any() == 0);
  const auto aggregates = local_latency_by_parity(scenario, model, 2, true);
  const auto preferences = local_latency_by_parity(scenario, model, 2, false);
  REQUIRE_FALSE(aggregates.empty());
  REQUIRE_FALSE(preferences.empty());
  REQUIRE(quantile(preferences, 1000) == 0);
  // A server round trip is at least twice the minimum one-way latency of 5 ms.
  REQUIRE(quantile(aggregates, 0) >= 10'000);
}

// ---------------------------------------------------------------------------------------------
// 11. Versioned events.

TEST_CASE("upcasting old-schema events keeps old and new clients converging", "[article][versioning]") {
  const Sweep s = sweep(article_scenario("article-versioned-events.toml"), article_model("versioned-map"), 4);
  REQUIRE(s.runs_breaking_any() == 0);
}

TEST_CASE("a server without upcasting leaves old-schema clients diverged", "[article][versioning]") {
  const Sweep s =
      sweep(article_scenario("article-versioned-events.toml"), article_model("versioned-map-no-upcast"), 4);
  REQUIRE(s.runs_breaking(Invariant::convergence) == 4);
}

// ---------------------------------------------------------------------------------------------
// Laws and unit checks of the article models, on the in-memory harness.

TEST_CASE("p2p-lww-map replicas agree whatever the order and duplication of delivery", "[article][p2p]") {
  const ModelInfo model = article_model("p2p-lww-map");
  rc::prop("shuffled, duplicated deliveries converge", [&] {
    testing::Cluster cluster(model, 0, 3);
    const auto writes = *rc::gen::container<std::vector<std::pair<std::uint32_t, std::uint32_t>>>(
        rc::gen::pair(rc::gen::inRange<std::uint32_t>(0, 3), rc::gen::inRange<std::uint32_t>(0, 4)));
    Rng order(*rc::gen::arbitrary<std::uint64_t>());
    for (const auto& [client, key] : writes) {
      cluster.user(client, OpKind::map_set, key);
      // Duplicate a random queued datagram, as an unreliable channel may.
      if (!cluster.queue.empty()) cluster.queue.push_back(cluster.queue[order.below(cluster.queue.size())]);
      cluster.deliver_shuffled(order, order.below(3));
    }
    cluster.deliver_shuffled(order);
    RC_ASSERT(cluster.state(cluster.client(0)) == cluster.state(cluster.client(1)));
    RC_ASSERT(cluster.state(cluster.client(1)) == cluster.state(cluster.client(2)));
  });
}

TEST_CASE("p2p-lww-map anti-entropy repairs datagrams that were all lost", "[article][p2p]") {
  testing::Cluster cluster(article_model("p2p-lww-map"), 0, 3);
  for (std::uint32_t key = 0; key < 5; ++key) cluster.user(key % 3, OpKind::map_set, key);
  cluster.queue.clear();  // every delta is lost
  for (int round = 0; round < 12; ++round) {
    cluster.fire_timers();
    cluster.deliver_all();
  }
  REQUIRE(cluster.state(cluster.client(0))->fields.size() == 5);
  REQUIRE(cluster.state(cluster.client(0)) == cluster.state(cluster.client(1)));
  REQUIRE(cluster.state(cluster.client(1)) == cluster.state(cluster.client(2)));
}

TEST_CASE("the validating guarded-map server ignores every hostile message kind", "[article][malicious]") {
  testing::Cluster cluster(article_model("guarded-map"), 1, 2);
  const Operation honest = cluster.user(1, OpKind::map_set, 3);
  cluster.deliver_all();
  const auto before = cluster.state(cluster.server());
  REQUIRE(before->fields.size() == 1);
  Operation forged = honest;
  forged.id = OpId{1ULL << 40};
  std::vector<std::string> attacks;
  attacks.push_back(std::string("\x01\xff\xff\xff\x7f garbage", 14));
  attacks.push_back(Writer().u8(1).bytes(forged.encode()).take().substr(0, 20));  // truncated
  Operation wrong_kind = forged;
  wrong_kind.kind = OpKind::list_add;
  attacks.push_back(Writer().u8(1).bytes(wrong_kind.encode()).take());
  Operation other_author = forged;
  other_author.client = cluster.client(0);
  attacks.push_back(Writer().u8(1).bytes(other_author.encode()).take());
  attacks.push_back(Writer().u8(1).bytes(forged.encode()).bytes(std::string(300'000, 'x')).take());
  Operation owned = honest;
  owned.key = KeyId{1'000'000};
  attacks.push_back(Writer().u8(1).bytes(owned.encode()).take());
  for (const std::string& attack : attacks) {
    cluster.context(cluster.client(1)).send(cluster.server(), attack);
    cluster.deliver_all();
    REQUIRE(cluster.state(cluster.server()) == before);
    REQUIRE(cluster.state(cluster.client(0)) == before);
  }
}

TEST_CASE("the trusting guarded-map server applies a forged author's write", "[article][malicious]") {
  testing::Cluster cluster(article_model("guarded-map-trusting"), 1, 2);
  Operation forged;
  forged.id = OpId{1ULL << 40};
  forged.client = cluster.client(0);
  forged.kind = OpKind::map_set;
  forged.key = KeyId{3};
  cluster.context(cluster.client(1)).send(cluster.server(), Writer().u8(1).bytes(forged.encode()).take());
  cluster.deliver_all();
  REQUIRE(cluster.state(cluster.client(0))->fields.size() == 1);
  REQUIRE(cluster.state(cluster.client(0))->fields.front().second == forged.id);
}

TEST_CASE("a broker-map instance older than the retained broker log catches up from the broker's replica",
          "[article][broker]") {
  testing::Cluster cluster(article_model("broker-map"), 2, 1);
  // More writes than the broker's log retains.
  for (std::uint32_t key = 0; key < 500; ++key) {
    cluster.user(0, OpKind::map_set, key);
    cluster.deliver_all();
  }
  REQUIRE(cluster.state(cluster.server(1)) == cluster.state(cluster.server(0)));
  cluster.crash_restart(cluster.server(1), false);  // it forgets everything and resumes from position 1
  REQUIRE(cluster.state(cluster.server(1))->fields.empty());
  cluster.deliver_all();
  REQUIRE(cluster.state(cluster.server(1)) == cluster.state(cluster.server(0)));
  REQUIRE(cluster.state(cluster.server(1))->fields.size() == 500);
}
