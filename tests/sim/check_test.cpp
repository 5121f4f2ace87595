// Tests of `syncstorm check`: the sweep, shards and merge, shrinking to repro files, the corpus,
// the determinism re-runs and the JUnit output.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/wait.h>

#include "models/model.hpp"
#include "reports/junit.hpp"
#include "sim/scenario/limits.hpp"
#include "sim/scenario/scenario_file.hpp"
#include "sim/sweep/check.hpp"
#include "sim/base/codec.hpp"
#include "sim/cli/commands.hpp"
#include "sim/sweep/repro.hpp"
#include "tests/printers.hpp"
#include "tests/programs.hpp"
#include "tests/shipped_scenario.hpp"
#include "tests/sim/repro_of.hpp"
#include "tests/source_tree.hpp"
#include "tests/scratch_dir.hpp"

namespace syncstorm {
namespace {

// A deliberately broken strategy, the canary of these tests: like echo, but a client sends each
// operation only once and never again after a reconnect, so writes made while offline stay on the
// client forever and the replicas never converge.
enum Tag : std::uint8_t { kOp = 1, kAck = 2, kState = 3 };

std::string encode_fields(const std::map<KeyId, OpId>& fields) {
  Writer w;
  w.u8(kState).u32(static_cast<std::uint32_t>(fields.size()));
  for (const auto& [key, value] : fields) w.u32(key.value).u64(value.value);
  return w.take();
}

State map_state(const std::map<KeyId, OpId>& fields) {
  State s;
  s.fields.assign(fields.begin(), fields.end());
  return s;
}

class ForgetfulClient : public Node {
 public:
  void on_start(Context&) override {}
  void on_user_operation(Context& ctx, const Operation& op) override {
    shown_[op.key] = op.id;
    pending_[op.id] = op.key;
    ctx.report(op.id, Lifecycle::applied);
    if (auto server = ctx.connected_server()) ctx.send(*server, Writer().u8(kOp).bytes(op.encode()).take());
  }
  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      const OpId id{r.u64()};
      if (r.ok() && pending_.erase(id) > 0) ctx.report(id, Lifecycle::acknowledged);
      return;
    }
    std::map<KeyId, OpId> server;
    const std::uint32_t n = r.u32();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      const KeyId key{r.u32()};
      server[key] = OpId{r.u64()};
    }
    if (!r.ok()) return;
    shown_ = std::move(server);
    for (const auto& [id, key] : pending_) shown_[key] = id;
  }
  std::optional<State> state() const override { return map_state(shown_); }

 private:
  std::map<KeyId, OpId> shown_;
  std::map<OpId, KeyId> pending_;
};

class ForgetfulServer final : public Node {
 public:
  void on_start(Context&) override {}
  void on_user_operation(Context&, const Operation&) override {}
  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    if (r.u8() != kOp) return;
    auto op = Operation::decode(r.bytes());
    if (!r.ok() || !op) return;
    fields_[op->key] = op->id;
    ctx.send(from, Writer().u8(kAck).u64(op->id.value).take());
    for (NodeId client : ctx.clients()) {
      if (ctx.connected(client)) ctx.send(client, encode_fields(fields_));
    }
  }
  void on_connected(Context& ctx, NodeId peer) override { ctx.send(peer, encode_fields(fields_)); }
  std::optional<State> state() const override { return map_state(fields_); }

 private:
  std::map<KeyId, OpId> fields_;
};

ModelInfo forgetful_model() {
  ModelInfo m;
  m.name = "forgetful-test";
  m.description = "test canary: never resends after a reconnect";
  m.data_type = DataType::map;
  m.rule = SupersedeRule::server_order;
  m.breaks = Invariant::convergence;
  m.make_client = [](NodeId) { return std::make_unique<ForgetfulClient>(); };
  m.make_server = [](NodeId) { return std::make_unique<ForgetfulServer>(); };
  return m;
}

// A second canary, for the determinism self-check: a hidden global counter (exactly what the rules
// forbid in models/) changes the size of a message from one run to the next.
std::atomic<std::uint64_t> g_leak{0};

class LeakyClient final : public ForgetfulClient {
 public:
  void on_user_operation(Context& ctx, const Operation& op) override {
    ForgetfulClient::on_user_operation(ctx, op);
    const std::string noise(1 + g_leak.fetch_add(1) % 5, 'x');
    if (auto server = ctx.connected_server()) ctx.send(*server, noise);
  }
};

ModelInfo leaky_model() {
  ModelInfo m = forgetful_model();
  m.name = "leaky-test";
  m.make_client = [](NodeId) { return std::make_unique<LeakyClient>(); };
  return m;
}

/// Four users on one server; one of them goes offline for a while and keeps editing.
Scenario offline_scenario() {
  Scenario s;
  s.name = "offline-test";
  s.servers = 1;
  s.data_type = DataType::map;
  s.workload.clients = 4;
  s.workload.duration = Duration::seconds(8);
  s.workload.think_time_mean = Duration::millis(700);
  s.workload.keys = 4;
  s.invariants.settle = Duration::seconds(5);
  FaultSpec offline;
  offline.kind = FaultKind::offline;
  offline.at = Instant{Duration::seconds(2).us};
  offline.duration = Duration::seconds(3);
  offline.target = Target{Target::Kind::random_client, 0};
  s.faults.push_back(offline);
  return s;
}

struct Fixture {
  ModelRegistry models = shipped_models();
  ModelInfo forgetful = forgetful_model();
  Scenario scenario = offline_scenario();

  std::vector<CheckTarget> targets() const {
    return {CheckTarget{scenario, models.find("echo")}, CheckTarget{scenario, &forgetful}};
  }
};

CheckOptions quick_options(unsigned jobs) {
  CheckOptions o;
  o.seeds = SeedRange{1, 6};
  o.jobs = jobs;
  o.progress = false;
  o.verify_percent = 50;
  o.shrink = ShrinkLimits{300, 0};
  return o;
}


TEST_CASE("A sweep on one job and on two jobs writes byte-identical JSON", "[check]") {
  const Fixture f;
  const CheckReport one = run_check(f.targets(), {}, quick_options(1));
  const CheckReport two = run_check(f.targets(), {}, quick_options(2));
  REQUIRE(one.targets.at(1).failing_seeds > 0);
  REQUIRE(check_json(one) == check_json(two));
}

/// Every task of a batch in exactly one chunk, no chunk empty or longer than kChunkSeeds.
void check_cover(const std::vector<TaskRange>& chunks, std::size_t targets, std::uint64_t count) {
  std::vector<int> seen(targets * count, 0);
  for (const TaskRange& c : chunks) {
    REQUIRE(c.first < c.last);
    REQUIRE(c.last <= seen.size());
    CHECK(c.last - c.first <= kChunkSeeds);
    for (std::size_t i = c.first; i < c.last; ++i) ++seen[i];
  }
  CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
}

TEST_CASE("Fail-fast ends the sweep at its first failing seed, the same seed on any number of jobs", "[check]") {
  // A model that fails now and then (an outbox kept in memory loses writes when a tab dies), beside
  // a correct one: the sweep must run past a seed it passes to the first it fails.
  const ModelRegistry models = shipped_models();
  const Scenario swarm = syncstorm::testing::shipped_scenario("swarm");
  REQUIRE(models.find("outbox-map-memory") != nullptr);
  const std::vector<CheckTarget> targets{CheckTarget{swarm, models.find("lww-map")}, CheckTarget{swarm, models.find("outbox-map-memory")}};
  CheckOptions full = quick_options(2);
  full.seeds = SeedRange{1, 200};
  full.verify_percent = 0;
  full.shrink_enabled = false;
  const CheckReport all = run_check(targets, {}, full);
  REQUIRE(all.targets.at(0).failures.empty());
  std::set<std::uint64_t> failing;
  for (const SeedFailure& failure : all.targets.at(1).failures) failing.insert(failure.seed);
  std::uint64_t passing = 1;
  while (passing <= 200 && failing.count(passing) > 0) ++passing;
  const auto first = failing.upper_bound(passing);
  REQUIRE(first != failing.end());
  INFO("from passing seed " << passing << " to failing seed " << *first);

  std::string json;
  for (const unsigned jobs : {1u, 5u}) {  // batches of 64 and of 80 seeds
    CheckOptions options = quick_options(jobs);
    options.seeds = SeedRange{passing, passing + 199};
    options.verify_percent = 0;
    options.fail_fast = true;
    options.repro_dir = "";
    const CheckReport report = run_check(targets, {}, options);
    CHECK(report.fail_fast_stopped);
    CHECK(report.covered == SeedRange{passing, *first});
    CHECK(report.targets.at(0).seeds_run == *first - passing + 1);
    REQUIRE_FALSE(report.targets.at(1).failures.empty());
    for (const SeedFailure& failure : report.targets[1].failures) CHECK(failure.seed == *first);
    CHECK(report.targets[1].shrunk.size() >= 1);  // shrunk and reported as usual
    // Seeds chosen by a failure measure no rate: none is given, nor seeds to trust a fix.
    CHECK(report.targets[1].stopped_at_failure);
    CHECK(findability(report.targets[1]).empty());
    CHECK(check_junit(report).find("clean seeds to trust a fix") == std::string::npos);
    if (json.empty()) json = check_json(report);
    else CHECK(check_json(report) == json);
  }
  CHECK(json.find("\"fail_fast_stopped\": true") != std::string::npos);
  // Merged with a shard that ran every seed, the whole gives no rate either.
  const auto dir = testing::scratch_dir("check-test-fail-fast-merge");
  std::ofstream(dir / "stopped.json") << json;
  std::ofstream(dir / "whole.json") << check_json(all);
  bool failed = false;
  auto merged = merge_check_json({(dir / "stopped.json").string(), (dir / "whole.json").string()}, failed);
  REQUIRE(merged);
  CHECK(failed);
  const auto merged_doc = nlohmann::json::parse(merged.value());
  CHECK(merged_doc["fail_fast_stopped"] == true);
  for (const auto& r : merged_doc["results"]) CHECK(r["findability"].empty());
  // On the command line: how to go on, unless the failing seed was the range's last.
  const auto [code, text] = syncstorm::testing::syncstorm_cli(
      fmt::format("check swarm -m outbox-map-memory --seed-range {}:{} --fail-fast --no-shrink --no-progress", passing, *first));
  CHECK(code == 1);
  CHECK_THAT(text, Catch::Contains(fmt::format("covered seeds {}..{}; no seed of the range is left", passing, *first)));
  CHECK_THAT(text, Catch::Contains("no failure rate: --fail-fast stopped the sweep"));
  const auto [more_code, more] = syncstorm::testing::syncstorm_cli(
      fmt::format("check swarm -m outbox-map-memory --seed-range {}:{} --fail-fast --no-shrink --no-progress", passing, *first + 5));
  CHECK(more_code == 1);
  CHECK_THAT(more, Catch::Contains(fmt::format("continue with --seed-range {}:{}", *first + 1, *first + 5)));
}

TEST_CASE("A batch of many seeds a target is cut into chunks of one target, seed-major", "[check]") {
  const auto chunks = batch_chunks(3, 40);
  check_cover(chunks, 3, 40);
  REQUIRE(chunks.size() == 9);  // 16 + 16 + 8 seeds of each of the 3 targets
  for (const TaskRange& c : chunks) CHECK(c.first / 40 == (c.last - 1) / 40);
  // The first chunk of every target before any second one.
  CHECK(chunks[0].first == 0);
  CHECK(chunks[1].first == 40);
  CHECK(chunks[2].first == 80);
  CHECK(chunks[3].first == 16);
}

TEST_CASE("A batch of few seeds a target puts several targets in a chunk, leaving four chunks", "[check]") {
  // 16 targets of 2 seeds: 8 targets would fit a chunk; 4 a chunk leave 4 chunks for the jobs.
  const auto sixteen = batch_chunks(16, 2);
  check_cover(sixteen, 16, 2);
  CHECK(sixteen.size() == 4);
  // 8 targets of one seed: 2 a chunk. 40 of one seed: 10 a chunk.
  CHECK(batch_chunks(8, 1).size() == 4);
  check_cover(batch_chunks(40, 1), 40, 1);
  CHECK(batch_chunks(40, 1).size() == 4);
  // 40 targets of 9 seeds: only one target fits a chunk.
  CHECK(batch_chunks(40, 9).size() == 40);
  // Fewer targets than four chunks: one a chunk, as before.
  CHECK(batch_chunks(3, 1).size() == 3);
  CHECK(batch_chunks(0, 5).empty());
}

TEST_CASE("A sweep of few seeds over many scenarios gives each seed the verdict and hash it gives alone", "[check]") {
  // Eight targets of two seeds run as four chunks of four targets; each seed's hash must still be
  // the one a sweep of that target alone gives (the chunking is where runs happen, never what they
  // compute).
  const Fixture f;
  std::vector<CheckTarget> many;
  for (int i = 0; i < 4; ++i) {
    for (const CheckTarget& t : f.targets()) many.push_back(t);
  }
  CheckOptions options = quick_options(2);
  options.seeds = SeedRange{1, 2};
  options.verify_percent = 0;
  options.shrink_enabled = false;
  const CheckReport together = run_check(many, {}, options);
  REQUIRE(together.targets.size() == many.size());
  for (std::size_t t = 0; t < many.size(); ++t) {
    const CheckReport alone = run_check({many[t]}, {}, options);
    INFO("target " << t);
    CHECK(together.targets[t].hashes == alone.targets.at(0).hashes);
    CHECK(together.targets[t].failing_seeds == alone.targets.at(0).failing_seeds);
  }
}

TEST_CASE("Clean seeds to trust a fix: the least n with (1 - rate)^n at most 5%", "[check]") {
  CHECK(clean_seeds_to_trust(0, 1'000) == 0);
  CHECK(clean_seeds_to_trust(1'000, 1'000) == 1);
  CHECK(clean_seeds_to_trust(1, 2) == 5);          // 0.5^4 = 6.25%, 0.5^5 = 3.1%
  CHECK(clean_seeds_to_trust(3, 1'000) == 998);    // ln 0.05 / ln 0.997 = 997.1
  CHECK(clean_seeds_to_trust(1, 1'000'000) == 2'995'731);
  const Findability f{"convergence", 3, 1'000, clean_seeds_to_trust(3, 1'000)};
  CHECK(findability_line(f) == "convergence failed 3 of 1000 seeds (0.3%); trust a fix after 998 clean seeds (95% confidence)");
}

TEST_CASE("Findability counts each failing invariant's seeds over the seeds run", "[check]") {
  const Fixture f;
  const CheckReport report = run_check(f.targets(), {}, quick_options(2));
  const TargetResult& canary = report.targets.at(1);
  REQUIRE(canary.failing_seeds > 0);
  const std::vector<Findability> found = findability(canary);
  REQUIRE_FALSE(found.empty());
  for (const Findability& x : found) {
    std::uint64_t seeds = 0;
    for (const SeedFailure& failure : canary.failures) seeds += failure.invariant == x.invariant ? 1 : 0;
    CHECK(x.failing_seeds == seeds);
    CHECK(x.failing_seeds <= canary.failing_seeds);
    CHECK(x.seeds_run == canary.seeds_run);
    CHECK(x.clean_seeds_to_trust == clean_seeds_to_trust(seeds, canary.seeds_run));
  }
  CHECK(findability(report.targets.at(0)).empty());
}

TEST_CASE("The correct model passes the sweep the canary fails", "[check]") {
  const Fixture f;
  const CheckReport report = run_check(f.targets(), {}, quick_options(2));
  CHECK_FALSE(report.targets.at(0).failed());
  CHECK(report.targets.at(1).failed());
  CHECK(report.failed());
}

TEST_CASE("Shards 1..N of a seed range cover it exactly once", "[check]") {
  for (const SeedRange range : {SeedRange{1, 1}, SeedRange{1, 10}, SeedRange{7, 1'000}, SeedRange{5, 5'000'000'000}}) {
    for (std::uint32_t n : {1u, 2u, 3u, 7u, 16u}) {
      std::uint64_t expected_next = range.first;
      std::uint64_t total = 0;
      for (std::uint32_t k = 1; k <= n; ++k) {
        const SeedRange part = shard_range(range, Shard{k, n});
        if (part.size() == 0) continue;
        CHECK(part.first == expected_next);
        expected_next = part.last + 1;
        total += part.size();
      }
      CHECK(total == range.size());
      CHECK(expected_next == range.last + 1);
    }
  }
}

TEST_CASE("Merging the JSON of shards gives the verdict and failures of one whole run", "[check]") {
  const Fixture f;
  const auto dir = testing::scratch_dir("check-test-merge");
  CheckOptions whole = quick_options(2);
  whole.verify_percent = 0;
  whole.shrink_enabled = false;
  const CheckReport full = run_check(f.targets(), {}, whole);
  std::vector<std::string> files;
  for (std::uint32_t k = 1; k <= 3; ++k) {
    CheckOptions part = whole;
    part.seeds = shard_range(whole.seeds, Shard{k, 3});
    const std::string path = (dir / fmt::format("shard{}.json", k)).string();
    std::ofstream(path) << check_json(run_check(f.targets(), {}, part));
    files.push_back(path);
  }
  bool failed = false;
  auto merged = merge_check_json(files, failed);
  REQUIRE(merged.ok());
  const auto doc = nlohmann::json::parse(merged.value());
  const auto single = nlohmann::json::parse(check_json(full));
  CHECK(failed == full.failed());
  CHECK(doc["covered"] == single["covered"]);
  for (std::size_t t = 0; t < 2; ++t) {
    CHECK(doc["results"][t]["seeds_run"] == single["results"][t]["seeds_run"]);
    CHECK(doc["results"][t]["failures"] == single["results"][t]["failures"]);
    CHECK(doc["results"][t]["findability"] == single["results"][t]["findability"]);
  }
}

TEST_CASE("Merge rejects a file that is not a check summary", "[check]") {
  const auto dir = testing::scratch_dir("check-test-merge-bad");
  const std::string path = (dir / "bad.json").string();
  std::ofstream(path) << "{\"hello\": 1}";
  bool failed = false;
  const auto merged = merge_check_json({path}, failed);
  REQUIRE_FALSE(merged.ok());
  CHECK(merged.error().file == path);
}

TEST_CASE("A buggy model's failure shrinks to a repro that replays to the same invariant and hash", "[check]") {
  const Fixture f;
  const auto dir = testing::scratch_dir("check-test-shrink");
  CheckOptions options = quick_options(2);
  options.seeds = SeedRange{1, 3};
  options.repro_dir = dir.string();
  const CheckReport report = run_check({CheckTarget{f.scenario, &f.forgetful}}, {}, options);
  REQUIRE(report.targets.at(0).shrunk.size() >= 1);
  const ShrinkResult& shrunk = report.targets[0].shrunk[0];
  CHECK(shrunk.after.operations <= shrunk.before.operations);
  CHECK(shrunk.after.clients <= shrunk.before.clients);
  CHECK(shrunk.after.operations <= 12);
  CHECK(shrunk.after.clients <= 3);
  REQUIRE_FALSE(shrunk.repro_path.empty());
  auto repro = load_repro(shrunk.repro_path);
  REQUIRE(repro.ok());
  const RunResult replay = replay_repro(repro.value(), f.forgetful);
  CHECK(shows(replay, shrunk.invariant));
  CHECK(replay.trace_hash == shrunk.trace_hash);
  CHECK(repro.value().trace_hash == shrunk.trace_hash);
}

TEST_CASE("A repro that cannot be written is said so in the report, never lost in silence", "[check]") {
  const Fixture f;
  const auto dir = testing::scratch_dir("check-test-shrink-unwritable");
  const auto file = dir / "a-file";
  std::ofstream(file) << "not a folder\n";
  CheckOptions options = quick_options(2);
  options.seeds = SeedRange{1, 3};
  options.repro_dir = file.string();  // a file where the repro folder should be
  const CheckReport report = run_check({CheckTarget{f.scenario, &f.forgetful}}, {}, options);
  REQUIRE(report.targets.at(0).shrunk.size() >= 1);
  const ShrinkResult& shrunk = report.targets[0].shrunk[0];
  CHECK(shrunk.repro_path.empty());
  CHECK_THAT(shrunk.repro_error, Catch::Contains("cannot write the repro file"));
  CHECK_THAT(check_junit(report), Catch::Contains("no repro file: "));
}

TEST_CASE("Every shipped buggy baseline shrinks to at most 3 clients and 12 operations and replays exactly", "[check][slow]") {
  // Each baseline's first failure of its own invariant on the shipped scenarios (seeds outer, as the
  // canary test searches). A bounded-metadata failure is the one exception: the log must
  // outgrow the scenario's bound (12 KB, about 500 events), so its repro keeps hundreds of writes.
  const ModelRegistry models = shipped_models();
  auto scenarios = shipped_scenarios();
  REQUIRE(scenarios.ok());
  std::vector<std::string> shrunk_models, unfailed;
  for (const ModelInfo& model : models.all()) {
    if (model.correct() || model.external || model.bug_suite) continue;  // the bug suite: tests/models/bugs/
    const std::string verdict(to_string(*model.breaks));
    INFO(model.name << " breaks " << verdict);
    std::optional<std::pair<Scenario, std::uint64_t>> first;
    for (std::uint64_t seed = 1; seed <= 20 && !first; ++seed) {
      for (const Scenario& scenario : scenarios.value()) {
        if (!fits(scenario, model)) continue;
        const RunResult r = run_simulation(scenario, model, make_schedule(scenario, model, seed), seed);
        if (shows(r, verdict)) {
          first.emplace(scenario, seed);
          break;
        }
      }
    }
    if (!first) {
      unfailed.push_back(model.name);
      continue;
    }
    const auto& [scenario, seed] = *first;
    const bool needs_volume = *model.breaks == Invariant::bounded_metadata;
    const ShrinkLimits limits{needs_volume ? 100u : 2'000u, 0};
    const ShrinkResult shrunk =
        shrink_failure(scenario, model, make_schedule(scenario, model, seed), seed, verdict, limits);
    INFO("on " << scenario.name << " seed " << seed << ": " << shrunk.after.clients << " clients, "
               << shrunk.after.operations << " operations after " << shrunk.runs << " runs");
    CHECK(shrunk.after.clients <= shrunk.before.clients);
    CHECK(shrunk.after.operations <= shrunk.before.operations);
    if (!needs_volume) {
      CHECK(shrunk.after.clients <= 3);
      CHECK(shrunk.after.operations <= 12);
    }
    const RunResult replay = replay_repro(shrunk.repro, model);
    CHECK(shows(replay, shrunk.invariant));
    CHECK(replay.trace_hash == shrunk.trace_hash);
    shrunk_models.push_back(model.name);
  }
  INFO("shrunk: " << fmt::format("{}", fmt::join(shrunk_models, ", ")));
  CHECK_FALSE(shrunk_models.empty());
  CHECK(unfailed == std::vector<std::string>{});  // baselines that showed no failure in 20 seeds
}

TEST_CASE("A corpus repro that still fails fails the check, and one that is fixed passes", "[check]") {
  const Fixture f;
  const Schedule schedule = make_schedule(f.scenario, DataType::map, 2);
  const ShrinkResult shrunk = shrink_failure(f.scenario, f.forgetful, schedule, 2, "convergence", ShrinkLimits{300, 0});
  REQUIRE(shows(replay_repro(shrunk.repro, f.forgetful), "convergence"));
  CheckOptions options = quick_options(1);
  options.seeds = SeedRange{1, 0};
  const std::vector<CorpusEntry> still_broken{{"a.repro.toml", shrunk.repro, &f.forgetful}};
  CHECK(run_check({}, still_broken, options).failed());
  // The same situation against the correct strategy: the "fix" makes the repro pass.
  const std::vector<CorpusEntry> fixed{{"a.repro.toml", shrunk.repro, f.models.find("echo")}};
  CHECK_FALSE(run_check({}, fixed, options).failed());
}

TEST_CASE("A time budget covers a prefix of the range and says where it stopped", "[check]") {
  const Fixture f;
  CheckOptions options = quick_options(2);
  options.seeds = SeedRange{10, 1'000'000};
  options.time_budget_ms = 300;
  options.verify_percent = 0;
  options.shrink_enabled = false;
  const CheckReport report = run_check({CheckTarget{f.scenario, f.models.find("echo")}}, {}, options);
  CHECK(report.budget_stopped);
  CHECK(report.covered.first == 10);
  CHECK(report.targets[0].seeds_run == report.covered.size());
}

TEST_CASE("The determinism self-check catches hidden global state and names the first divergent event", "[check]") {
  const Fixture f;
  const ModelInfo leaky = leaky_model();
  CheckOptions options = quick_options(1);
  options.seeds = SeedRange{1, 2};
  options.verify_percent = 100;
  options.shrink_enabled = false;
  const CheckReport report = run_check({CheckTarget{f.scenario, &leaky}}, {}, options);
  REQUIRE(report.targets.at(0).verified == 2);
  REQUIRE_FALSE(report.targets[0].divergences.empty());
  const Divergence& d = report.targets[0].divergences[0];
  CHECK(d.first_hash != d.second_hash);
  CHECK(d.line > 0);
  CHECK(d.first_event != d.second_event);
  CHECK(report.failed());
}

TEST_CASE("The determinism self-check passes a deterministic model", "[check]") {
  const Fixture f;
  CheckOptions options = quick_options(2);
  options.verify_percent = 100;
  options.shrink_enabled = false;
  const CheckReport report = run_check({CheckTarget{f.scenario, f.models.find("echo")}}, {}, options);
  CHECK(report.targets.at(0).verified == 6);
  CHECK(report.targets[0].divergences.empty());
}

TEST_CASE("The first divergence of two traces names the first differing line", "[check]") {
  const Divergence same = first_divergence("a\nb\n", "a\nb\n");
  CHECK(same.line == 0);
  const Divergence differ = first_divergence("a\nb\nc\n", "a\nx\nc\n");
  CHECK(differ.line == 2);
  CHECK(differ.first_event == "b");
  CHECK(differ.second_event == "x");
  const Divergence shorter = first_divergence("a\n", "a\nb\n");
  CHECK(shorter.line == 2);
}

TEST_CASE("Seed ranges, shards and time budgets reject malformed flags", "[check]") {
  CHECK(parse_seed_range("3:9").ok());
  CHECK_FALSE(parse_seed_range("9:3").ok());
  CHECK_FALSE(parse_seed_range("0:3").ok());
  CHECK_FALSE(parse_seed_range("3-9").ok());
  CHECK(parse_shard("2/4").ok());
  CHECK_FALSE(parse_shard("5/4").ok());
  CHECK_FALSE(parse_shard("0/4").ok());
  CHECK(parse_time_budget_ms("10m").value() == 600'000);
  CHECK(parse_time_budget_ms("90s").value() == 90'000);
  CHECK_FALSE(parse_time_budget_ms("ten").ok());
  // The bounds of sim/scenario/limits.hpp, at and one past each.
  const std::string most = std::to_string(limits::kShardsMax);
  CHECK(parse_shard(most + "/" + most).ok());
  CHECK_FALSE(parse_shard("1/" + std::to_string(limits::kShardsMax + 1)).ok());
  CHECK(parse_time_budget_ms(std::to_string(limits::kTimeBudgetCountMax) + "h").ok());
  CHECK_FALSE(parse_time_budget_ms(std::to_string(limits::kTimeBudgetCountMax + 1) + "ms").ok());
}

TEST_CASE("JUnit output is well-formed XML with the attributes CI systems read and the replay command", "[check]") {
  namespace pt = boost::property_tree;
  const Fixture f;
  CheckOptions options = quick_options(2);
  options.repro_dir = testing::scratch_dir("check-test-junit").string();
  const CheckReport report = run_check(f.targets(), {}, options);
  std::istringstream xml(check_junit(report));
  pt::ptree doc;
  REQUIRE_NOTHROW(pt::read_xml(xml, doc));
  const pt::ptree& root = doc.get_child("testsuites");
  CHECK(root.get<int>("<xmlattr>.tests") == 2);
  CHECK(root.get<int>("<xmlattr>.failures") == 1);
  int suites = 0;
  int failures = 0;
  for (const auto& [tag, suite] : root) {
    if (tag != "testsuite") continue;
    ++suites;
    CHECK(suite.get<std::string>("<xmlattr>.name") == "offline-test");
    CHECK(suite.get<int>("<xmlattr>.tests") == 2);
    CHECK(suite.get_optional<double>("<xmlattr>.time"));
    for (const auto& [case_tag, test] : suite) {
      if (case_tag != "testcase") continue;
      CHECK_FALSE(test.get<std::string>("<xmlattr>.name").empty());
      CHECK(test.get<std::string>("<xmlattr>.classname") == "syncstorm.offline-test");
      if (auto failure = test.get_child_optional("failure")) {
        ++failures;
        CHECK(failure->data().find("syncstorm replay") != std::string::npos);
        CHECK(failure->data().find("trust a fix after ") != std::string::npos);
        CHECK(failure->data().find("(95% confidence)") != std::string::npos);
        CHECK_FALSE(failure->get<std::string>("<xmlattr>.message").empty());
      }
    }
  }
  CHECK(suites == 1);
  CHECK(failures == 1);
  // The failing case's findability, as properties of its suite.
  int properties = 0;
  for (const auto& [tag, suite] : root) {
    if (tag != "testsuite") continue;
    for (const auto& [property_tag, property] : suite.get_child("properties")) {
      if (property_tag != "property") continue;
      ++properties;
      CHECK_THAT(property.get<std::string>("<xmlattr>.name"),
                 Catch::EndsWith(" failing seeds") || Catch::EndsWith(" clean seeds to trust a fix"));
      CHECK_FALSE(property.get<std::string>("<xmlattr>.value").empty());
    }
  }
  CHECK(properties >= 2);
}

/// Runs the syncstorm binary with `args`; returns its exit code.
int syncstorm_cli(const std::string& args) {
  const int status = std::system((std::string(SYNCSTORM_BINARY) + " " + args + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_CASE("The check, merge and replay commands exit 2 on bad input", "[check]") {
  const auto dir = testing::scratch_dir("check-test-cli-bad");
  CHECK(syncstorm_cli("check --shard 5/4") == 2);
  CHECK(syncstorm_cli("check --seed-range 9:3") == 2);
  CHECK(syncstorm_cli("check --seeds 3 --seed-range 1:3") == 2);
  CHECK(syncstorm_cli("check --verify-determinism 500") == 2);
  CHECK(syncstorm_cli("check --model no-such-model") == 2);
  const std::string repro = (dir / "bad.repro.toml").string();
  std::ofstream(repro) << "format = 1\nseed = = 2\n";
  CHECK(syncstorm_cli("replay " + repro) == 2);
  CHECK(syncstorm_cli("check " + repro) == 2);
  const std::string json = (dir / "bad.json").string();
  std::ofstream(json) << "[1, 2";
  CHECK(syncstorm_cli("merge " + json) == 2);
}

TEST_CASE("An output path that cannot be written is refused before any run", "[check]") {
  const auto dir = testing::scratch_dir("check-test-cli-outputs");
  const std::string missing = (dir / "no-such-folder" / "out").string();
  const std::string file = (dir / "a-file").string();
  std::ofstream(file) << "not a folder\n";
  // A million seeds: were the sweep to run first, the test would time out.
  for (const std::string& args : {"check quiet -m lww-map --seeds 1000000 --json " + missing + ".json",
                                  "check quiet -m lww-map --seeds 1000000 --junit " + missing + ".xml",
                                  "check quiet -m lww-map --seeds 1000000 --junit " + dir.string(),
                                  "run quiet -m lww-map --seed 1 --trace " + dir.string(),
                                  "replay quiet -m lww-map --seed 1 --diagram " + missing + ".svg",
                                  "merge " + missing + ".in.json --json " + missing + ".json",
                                  "compare --seeds 10000 --out " + file + "/report",
                                  "check quiet -m lww-map --seeds 1000000 --corpus " + file,
                                  "replay " + syncstorm::testing::source_path(
                                      "tests/fuzz/corpus/repro/clock-skew__lww-map-wallclock__lost-acknowledged-write__seed1.repro.toml") +
                                      " --trace " + dir.string()}) {
    INFO(args);
    const auto [code, text] = syncstorm::testing::syncstorm_cli(args);
    CHECK(code == 2);
    CHECK_THAT(text, Catch::Contains("does not exist") || Catch::Contains("is a folder") || Catch::Contains("cannot make the folder"));
    CHECK_THAT(text, !Catch::Contains("covered seeds") && !Catch::Contains("trace hash") && !Catch::Contains("runs/s"));
  }
}

TEST_CASE("list --json names the shipped scenarios each model fits", "[check]") {
  const auto [code, text] = syncstorm::testing::syncstorm_cli("list --json");
  REQUIRE(code == 0);
  const auto listing = nlohmann::json::parse(text);
  std::map<std::string, std::set<std::string>> listed;
  for (const auto& m : listing.at("models")) {
    for (const auto& s : m.at("fits")) listed[m.at("name").get<std::string>()].insert(s.get<std::string>());
  }
  // Each rule of fits(): the data type, the topology, a scenario's own list of models.
  CHECK(listed["or-set-list"].count("partition-heal") == 1);      // any data type
  CHECK(listed["lww-map"].count("clock-skew") == 1);
  CHECK(listed["or-set-list"].count("clock-skew") == 0);          // a map scenario, a list model
  CHECK(listed["p2p-lww-map"].count("offline-peers") == 1);       // peer to peer: no server needed
  CHECK(listed["lww-map"].count("offline-peers") == 0);           // a client-server model, no server
  CHECK(listed["broker-map"].count("article-broker-fanout") == 1);
  CHECK(listed["lww-map"].count("article-broker-fanout") == 0);   // the scenario names its models
  CHECK(listed["lww-map"].count("datagram-relay") == 1);          // declares datagram links
  CHECK(listed["or-set-list"].count("datagram-relay") == 1);      // declares them too
  CHECK(listed["outbox-map"].count("datagram-relay") == 0);       // written for WebSockets
  CHECK(listed["server-authoritative"].count("two-servers") == 1); // its servers replicate
  CHECK(listed["outbox-map"].count("two-servers") == 0);          // written around one server
  // And every model and scenario, against fits() itself.
  const ModelRegistry models = shipped_models();
  auto scenarios = shipped_scenarios();
  REQUIRE(scenarios);
  for (const ModelInfo& m : models.all()) {
    std::set<std::string> expected;
    for (const Scenario& s : scenarios.value()) {
      if (fits(s, m)) expected.insert(s.name);
    }
    INFO(m.name);
    CHECK(listed[m.name] == expected);
  }
}

TEST_CASE("list --json prints each model's promises of order across keys, and only those it makes", "[check]") {
  const auto [code, text] = syncstorm::testing::syncstorm_cli("list --json");
  REQUIRE(code == 0);
  std::map<std::string, nlohmann::json> by_name;
  const auto listing = nlohmann::json::parse(text);
  for (const auto& m : listing.at("models")) by_name[m.at("name").get<std::string>()] = m;
  const auto promise = [&](const std::string& model, const char* key) {
    const nlohmann::json& m = by_name.at(model);
    return m.contains(key) ? m.at(key).get<std::string>() : std::string("none");
  };
  CHECK(promise("outbox-map", "writes_follow_reads") == "promised");
  CHECK(promise("outbox-map", "writes_in_order") == "promised");
  CHECK(promise("hybrid-dashboard", "writes_follow_reads") == "promised");
  CHECK(promise("hybrid-dashboard", "writes_in_order") == "none");  // lazy preferences
  CHECK(promise("or-set-list", "writes_in_order") == "promised");  // over datagrams too (Op::after)
  CHECK(promise("server-authoritative", "writes_in_order") == "promised");  // numbered writes, over datagrams too
  CHECK(promise("lww-map", "writes_follow_reads") == "none");
  CHECK(promise("lww-map", "writes_in_order") == "none");
  // The shipped adapters' promises come from the model table, which their describe answers match.
  CHECK(promise("sharedb-map", "writes_follow_reads") == "promised");
  CHECK(promise("yjs-list", "writes_in_order") == "promised");
  CHECK(promise("yjs-ws-list", "writes_follow_reads") == "none");
  // So does how a model's metadata may grow, printed when it is not the strictest.
  CHECK(promise("broker-map", "metadata_growth") == "server-keeps-writes");
  CHECK(promise("automerge-map", "metadata_growth") == "keeps-every-change");
  CHECK(promise("lww-map", "metadata_growth") == "none");
}

TEST_CASE("list --model prints one model's declaration and why it does not fit each scenario it does not", "[check]") {
  const auto [code, text] = syncstorm::testing::syncstorm_cli("list --model or-set-list");
  INFO(text);
  REQUIRE(code == 0);
  CHECK_THAT(text, Catch::Contains("model or-set-list"));
  CHECK_THAT(text, Catch::Contains("add-wins"));
  CHECK_THAT(text, Catch::Contains("writes in order      promised"));
  CHECK_THAT(text, Catch::Contains("partition-heal"));
  // clock-skew pins a map: the reason is check's own.
  CHECK_THAT(text, Catch::Contains("clock-skew") && Catch::Contains("pins data type map"));
  CHECK_THAT(text, !Catch::Contains("scenarios:") && !Catch::Contains("fault kinds:") && !Catch::Contains("lww-map"));

  // JSON: the same shape as the whole list, with the named models only.
  const auto [json_code, json_text] = syncstorm::testing::syncstorm_cli("list -m or-set-list -m lww-map --json");
  REQUIRE(json_code == 0);
  const auto listing = nlohmann::json::parse(json_text);
  REQUIRE(listing.at("models").size() == 2);
  CHECK(listing.at("models").at(0).at("name") == "or-set-list");
  CHECK(listing.at("models").at(1).at("name") == "lww-map");
  CHECK(!listing.at("scenarios").empty());

  const auto [bad_code, bad_text] = syncstorm::testing::syncstorm_cli("list --model no-such-model");
  CHECK(bad_code == 2);
  CHECK_THAT(bad_text, Catch::Contains("--model") && Catch::Contains("unknown model 'no-such-model'"));
}

TEST_CASE("A promise made over streams only is judged on stream runs and not on datagram runs", "[check]") {
  const ModelRegistry registry = shipped_models();
  ModelInfo model = *registry.find("server-authoritative");
  model.writes_in_order = OrderPromise::over_streams;
  model.writes_follow_reads = OrderPromise::over_streams;
  for (const auto& [name, judged] : {std::pair{"datagram-relay", false}, std::pair{"flaky-mobile", true}}) {
    auto scenario = resolve_scenario(name);
    REQUIRE(scenario.ok());
    const RunResult r = run_simulation(scenario.value(), model, make_schedule(scenario.value(), model, 1), 1);
    CHECK(r.history.writes_in_order == judged);
    CHECK(r.history.writes_follow_reads == judged);
    model.writes_in_order = OrderPromise::promised;  // and a promise made everywhere is judged everywhere
    const RunResult everywhere = run_simulation(scenario.value(), model, make_schedule(scenario.value(), model, 1), 1);
    CHECK(everywhere.history.writes_in_order);
    model.writes_in_order = OrderPromise::over_streams;
  }
}

TEST_CASE("A model written for stream links is refused on a datagram scenario, with the reason", "[check]") {
  // Its verdicts there would be about a transport it never promised to handle: `run` names the
  // scenario's key, `check` says why the model fits none of the scenarios checked.
  for (const char* args : {"run datagram-relay -m outbox-map --seed 1", "check datagram-relay -m outbox-map --seeds 1"}) {
    INFO(args);
    const auto [code, text] = syncstorm::testing::syncstorm_cli(args);
    CHECK(code == 2);
    CHECK_THAT(text, Catch::Contains("written for stream (WebSocket) links") && Catch::Contains("link = \"datagram\""));
  }
  CHECK(syncstorm::testing::syncstorm_cli("run datagram-relay -m lww-map --seed 1").first == 0);
}

TEST_CASE("A model written around one server is refused on a scenario with several, with the reason", "[check]") {
  for (const char* args : {"run two-servers -m outbox-map --seed 1", "check two-servers -m outbox-map --seeds 1"}) {
    INFO(args);
    const auto [code, text] = syncstorm::testing::syncstorm_cli(args);
    CHECK(code == 2);
    CHECK_THAT(text, Catch::Contains("written around one server") && Catch::Contains("servers") &&
                         Catch::Contains("multi_server"));
  }
  CHECK(syncstorm::testing::syncstorm_cli("run two-servers -m server-authoritative --seed 1").first == 0);
}

TEST_CASE("check with no pair that fits says why for the first scenario, with its key", "[check]") {
  // A named model that fits none says why (offline-peers has no servers). With no model named, the
  // reason given is that of the first correct model sharing the scenario's data type: here the
  // fixture's drop fault, which its stream links would ignore.
  const auto [code, text] = syncstorm::testing::syncstorm_cli("check offline-peers -m lww-map --seeds 1 --no-progress");
  CHECK(code == 2);
  CHECK_THAT(text, Catch::Contains("fits none of the scenarios checked") && Catch::Contains("needs at least one server"));
  const auto [all_code, all_text] = syncstorm::testing::syncstorm_cli(
      "check " + syncstorm::testing::source_path("tests/sim/fixtures/no-pair-fits.toml") + " --seeds 1 --no-progress");
  CHECK(all_code == 2);
  CHECK_THAT(all_text, Catch::Contains("nothing to check: no scenario x model pair fits; with model") &&
                           Catch::Contains("fault[0].kind") && Catch::Contains("would do nothing"));
}

TEST_CASE("A listed fault that would act on no link of a run refuses the pair, naming the fault", "[check]") {
  // drop, duplicate and reorder act on datagram links; bandwidth, down, timeout, slow_close and
  // limit_data on clients' stream connections. Run where the links are the other kind, they did
  // nothing, and the scenario's name promised what the run never saw.
  const ModelRegistry models = shipped_models();
  const auto scenario_with = [](const char* link, std::uint32_t servers, const char* fault) {
    Result<Scenario> s = parse_scenario(fmt::format("servers = {}\n[network]\nlink = \"{}\"\n[workload]\nclients = 3\n"
                                                    "[[fault]]\nat = \"1s\"\ntarget = \"client:0\"\n{}",
                                                    servers, link, fault),
                                        "links.toml");
    INFO((s ? std::string() : s.error().message));
    REQUIRE(s.ok());
    return s.value();
  };
  const char* drop = "kind = \"drop\"\nduration = \"2s\"\nrate = 0.5\n";
  const char* timeout = "kind = \"timeout\"\nduration = \"2s\"\namount = \"1s\"\n";
  const Scenario drop_on_streams = scenario_with("stream", 1, drop);
  const std::optional<InputError> why = check_fit(drop_on_streams, *models.find("echo"));
  REQUIRE(why);
  CHECK(why->key == "fault[0].kind");
  CHECK(why->line == 6);  // the [[fault]] entry
  CHECK_THAT(why->message, Catch::Contains("acts on datagram links") && Catch::Contains("would do nothing"));
  CHECK(fits(drop_on_streams, *models.find("p2p-lww-map")));  // its peer links are datagrams
  CHECK(fits(scenario_with("datagram", 1, drop), *models.find("or-set-list")));

  const Scenario timeout_on_datagrams = scenario_with("datagram", 1, timeout);
  const std::optional<InputError> no_streams = check_fit(timeout_on_datagrams, *models.find("or-set-list"));
  REQUIRE(no_streams);
  CHECK(no_streams->key == "fault[0].kind");
  CHECK_THAT(no_streams->message, Catch::Contains("stream connections") && Catch::Contains("link = \"datagram\""));
  CHECK_FALSE(fits(scenario_with("stream", 0, timeout), *models.find("p2p-lww-map")));  // no servers, no streams
  CHECK(fits(scenario_with("stream", 1, timeout), *models.find("or-set-list")));
}

namespace {

/// The gate sweeps every shipped scenario a correct model fits: a declaration no shipped scenario
/// exercises would be a promise nothing holds the model to. Checks that every correct in-process
/// client-server model that `declares` fits a shipped scenario that `exercises` it, and returns
/// how many declare.
template <typename Declares, typename Exercises>
int check_declarations_met(Declares declares, Exercises exercises) {
  const ModelRegistry models = shipped_models();
  auto scenarios = shipped_scenarios();
  REQUIRE(scenarios);
  int declared = 0;
  for (const ModelInfo& m : models.all()) {
    if (!declares(m) || !m.correct() || m.external || m.topology != Topology::client_server) continue;
    ++declared;
    INFO(m.name);
    CHECK(std::any_of(scenarios.value().begin(), scenarios.value().end(),
                      [&](const Scenario& s) { return exercises(s) && fits(s, m); }));
  }
  return declared;
}

}  // namespace

TEST_CASE("Every correct model that declares several servers meets a shipped scenario with several in the gate",
          "[check]") {
  const int declared = check_declarations_met([](const ModelInfo& m) { return m.multi_server; },
                                              [](const Scenario& s) { return s.servers > 1; });
  CHECK(declared >= 2);
}

TEST_CASE("Every correct model that declares datagram links meets a shipped datagram scenario in the gate",
          "[check]") {
  const int declared = check_declarations_met([](const ModelInfo& m) { return m.datagram_links; },
                                              [](const Scenario& s) { return s.network.client_link == LinkKind::datagram; });
  CHECK(declared >= 2);
}

TEST_CASE("Merge and a repro replay exit 1 on a failure and 0 without one", "[check]") {
  const Fixture f;
  const auto dir = testing::scratch_dir("check-test-cli-verdict");
  CheckOptions options = quick_options(2);
  options.verify_percent = 0;
  options.shrink_enabled = false;
  const std::string pass = (dir / "pass.json").string();
  const std::string fail = (dir / "fail.json").string();
  std::ofstream(pass) << check_json(run_check({f.targets()[0]}, {}, options));
  std::ofstream(fail) << check_json(run_check({f.targets()[1]}, {}, options));
  CHECK(syncstorm_cli("merge " + pass) == 0);
  CHECK(syncstorm_cli("merge " + pass + " " + fail) == 1);
  // A repro of the echo model that holds: replay and check both pass it.
  const Repro repro = testing::repro_of(f.scenario, "echo", 4, "convergence", make_schedule(f.scenario, DataType::map, 4));
  const std::string file = (dir / "echo.repro.toml").string();
  REQUIRE(save_repro(repro, file).ok());
  CHECK(syncstorm_cli("replay " + file) == 0);
  CHECK(syncstorm_cli("check --no-progress " + file) == 0);
  // Its schedule against another map model (a fixed version, say); never a flag silently ignored.
  CHECK(syncstorm_cli("replay " + file + " --model lww-map") == 0);
  CHECK(syncstorm_cli("replay " + file + " --model pn-counter") == 2);  // counter operations it does not have
  CHECK(syncstorm_cli("replay " + file + " --model no-such-model") == 2);
  CHECK(syncstorm_cli("replay " + file + " --seed 3") == 2);
  // Its pictures are drawn as a seed's are (timeline_test.cpp has the page of a failing repro).
  CHECK(syncstorm_cli("replay " + file + " --diagram " + (dir / "d.svg").string()) == 0);
  std::stringstream svg;
  svg << std::ifstream(dir / "d.svg").rdbuf();
  CHECK(svg.str().find("<svg") != std::string::npos);
  CHECK(syncstorm_cli("replay " + file + " --diagram " + (dir / "no-such-folder" / "d.svg").string()) == 2);
}

TEST_CASE("JUnit output validates against the JUnit schema CI systems read (xmllint)", "[check]") {
  // tests/sim/junit.xsd is the JUnit structure Jenkins, GitLab and the GitHub Actions report actions
  // read; ./setup.sh installs xmllint (libxml2-utils).
  REQUIRE(std::system("command -v xmllint > /dev/null 2>&1") == 0);
  const std::string schema = testing::source_path("tests/sim/junit.xsd");
  const Fixture f;
  CheckOptions options = quick_options(2);
  options.repro_dir = testing::scratch_dir("check-test-junit-schema").string();
  const CheckReport report = run_check(f.targets(), {}, options);  // one passing and one failing case
  const auto dir = testing::scratch_dir("check-test-junit-xsd");
  const auto validates = [&](const std::string& name, const std::string& xml) {
    const std::string file = (dir / name).string();
    std::ofstream(file, std::ios::binary) << xml;
    const std::string command = "xmllint --noout --schema '" + schema + "' '" + file + "' > /dev/null 2>&1";
    return std::system(command.c_str()) == 0;
  };
  const std::string junit = check_junit(report);
  REQUIRE(junit.find("<failure") != std::string::npos);
  REQUIRE(validates("check.xml", junit));  // first: a schema that does not parse fails here
  // The schema can fail: a testcase without its name and a negative count are rejected.
  std::string nameless = junit;
  const auto at = nameless.find("<testcase name=");
  REQUIRE(at != std::string::npos);
  nameless.replace(at, 15, "<testcase label=");
  CHECK_FALSE(validates("nameless.xml", nameless));
  std::string negative = junit;
  const auto tests = negative.find(" tests=\"");
  REQUIRE(tests != std::string::npos);
  negative.insert(tests + 8, "-");
  CHECK_FALSE(validates("negative.xml", negative));
}

// Models that crash, for the sweep's crash isolation: the client of `inner` crashes when it is
// handed the operation issued at `at` (the first operation of one chosen seed, so exactly that
// seed's run crashes), or, for the shrinker's test, as soon as a run has fewer clients than `clients`.
// A hang is a run that never returns, for the time limit.
enum class CrashKind { segfault, abort, exception, hang };

struct CrashPlan {
  CrashKind kind = CrashKind::segfault;
  std::optional<Instant> at;
  std::size_t clients = 0;
};

[[noreturn]] void crash(CrashKind kind) {
  switch (kind) {
    case CrashKind::segfault: std::raise(SIGSEGV); break;
    case CrashKind::abort: std::abort();
    case CrashKind::exception: throw std::runtime_error("key out of range");
    case CrashKind::hang:
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  std::abort();  // raise() returns only when the signal is blocked or ignored
}

class CrashingNode final : public Node {
 public:
  CrashingNode(std::unique_ptr<Node> inner, CrashPlan plan) : inner_(std::move(inner)), plan_(plan) {}
  void on_start(Context& ctx) override {
    if (ctx.clients().size() < plan_.clients) crash(plan_.kind);
    inner_->on_start(ctx);
  }
  void on_user_operation(Context& ctx, const Operation& op) override {
    if (plan_.at && op.issued_at == *plan_.at) crash(plan_.kind);
    inner_->on_user_operation(ctx, op);
  }
  void on_message(Context& ctx, NodeId from, std::string_view payload) override { inner_->on_message(ctx, from, payload); }
  void on_timer(Context& ctx, std::uint64_t tag) override { inner_->on_timer(ctx, tag); }
  void on_connected(Context& ctx, NodeId peer) override { inner_->on_connected(ctx, peer); }
  void on_disconnected(Context& ctx, NodeId peer) override { inner_->on_disconnected(ctx, peer); }
  std::optional<State> state() const override { return inner_->state(); }
  std::uint64_t metadata_bytes() const override { return inner_->metadata_bytes(); }

 private:
  std::unique_ptr<Node> inner_;
  CrashPlan plan_;
};

ModelInfo crashing_model(const ModelInfo& inner, CrashPlan plan) {
  ModelInfo m = inner;
  m.name = "crashing-test";
  m.make_client = [make = inner.make_client, plan](NodeId id) { return std::make_unique<CrashingNode>(make(id), plan); };
  return m;
}

constexpr std::uint64_t kCrashSeed = 4;

/// The crash cause each flavour must report.
std::string expected_cause(CrashKind kind) {
  switch (kind) {
    case CrashKind::segfault: return "killed by signal 11 (SIGSEGV)";
    case CrashKind::abort: return "killed by signal 6 (SIGABRT)";
    case CrashKind::exception: return "uncaught exception: key out of range";
    case CrashKind::hang: return "";
  }
  return "";
}

TEST_CASE("A model that crashes on one seed is a finding of that seed, and the sweep goes on", "[check][crash]") {
  const Fixture f;
  const ModelInfo& echo = *f.models.find("echo");
  const Instant at = make_schedule(f.scenario, DataType::map, kCrashSeed).operations.at(0).issued_at;
  // The same model without the crash: what every other seed must still give.
  const ModelInfo calm = crashing_model(echo, CrashPlan{});
  CheckOptions options = quick_options(2);
  options.seeds = SeedRange{1, 8};
  options.verify_percent = 100;
  options.repro_dir = testing::scratch_dir("check-test-crash").string();
  const CheckReport baseline = run_check({CheckTarget{f.scenario, &calm}}, {}, options);
  REQUIRE_FALSE(baseline.failed());
  for (const CrashKind kind : {CrashKind::segfault, CrashKind::abort, CrashKind::exception}) {
    const std::string cause = expected_cause(kind);
    INFO(cause);
    const ModelInfo crashing = crashing_model(echo, CrashPlan{kind, at, 0});
    const std::vector<CheckTarget> targets{CheckTarget{f.scenario, &crashing}, CheckTarget{f.scenario, &f.forgetful}};
    const CheckReport report = run_check(targets, {}, options);
    const TargetResult& t = report.targets.at(0);
    CHECK(report.covered == options.seeds);
    CHECK(t.seeds_run == 8);
    REQUIRE(t.failures.size() == 1);
    CHECK(t.failing_seeds == 1);
    CHECK(t.failures[0].seed == kCrashSeed);
    CHECK(t.failures[0].invariant == kCrashedVerdict);
    CHECK(t.failures[0].report == "the model crashed on this seed: " + cause);
    CHECK(t.shrunk.empty());
    // The other seeds ran as they run without the crash, before it and after it (in a new child).
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
      if (seed != kCrashSeed) CHECK(t.hashes.at(seed - 1) == baseline.targets[0].hashes.at(seed - 1));
    }
    // The determinism re-runs crash the same way, which is no divergence; the next target is untouched.
    CHECK(t.verified == 8);
    CHECK(t.divergences.empty());
    CHECK(report.targets.at(1).failed());
    CHECK(report.targets[1].shrunk.size() >= 1);
    // The JSON summary names the seed, the crash and its replay command, identically on one job.
    const auto json = nlohmann::json::parse(check_json(report));
    const auto& failure = json["results"][0]["failures"][0];
    CHECK(failure["seed"] == kCrashSeed);
    CHECK(failure["invariant"] == "crashed");
    CHECK(failure["crash"] == "the model crashed on this seed: " + cause);
    CHECK(failure["replay"] == "syncstorm replay offline-test --model crashing-test --seed 4");
    CHECK(json["verdict"] == "fail");
    CheckOptions one_job = options;
    one_job.jobs = 1;
    CHECK(check_json(run_check(targets, {}, one_job)) == check_json(report));
    // So does the JUnit file.
    const std::string junit = check_junit(report);
    CHECK(junit.find("crashed (first at seed 4") != std::string::npos);
    CHECK(junit.find(xml_escape(cause)) != std::string::npos);
    CHECK(junit.find("replay: syncstorm replay offline-test --model crashing-test --seed 4") != std::string::npos);
  }
}

TEST_CASE("The JUnit file of a sweep with a crash validates against the JUnit schema", "[check][crash]") {
  REQUIRE(std::system("command -v xmllint > /dev/null 2>&1") == 0);
  const Fixture f;
  const Instant at = make_schedule(f.scenario, DataType::map, kCrashSeed).operations.at(0).issued_at;
  const ModelInfo crashing = crashing_model(*f.models.find("echo"), CrashPlan{CrashKind::segfault, at, 0});
  CheckOptions options = quick_options(2);
  options.repro_dir = testing::scratch_dir("check-test-crash-junit").string();
  const CheckReport report = run_check({CheckTarget{f.scenario, &crashing}}, {}, options);
  const std::string junit = check_junit(report);
  REQUIRE(junit.find("crashed (first at seed 4") != std::string::npos);
  const std::string file = (testing::scratch_dir("check-test-crash-xsd") / "check.xml").string();
  std::ofstream(file, std::ios::binary) << junit;
  const std::string schema = testing::source_path("tests/sim/junit.xsd");
  CHECK(std::system(("xmllint --noout --schema '" + schema + "' '" + file + "' > /dev/null 2>&1").c_str()) == 0);
}

TEST_CASE("A corpus repro that crashes the model is a failing replay, and the check goes on", "[check][crash]") {
  const Fixture f;
  const Schedule schedule = make_schedule(f.scenario, DataType::map, kCrashSeed);
  const ModelInfo crashing = crashing_model(*f.models.find("echo"), CrashPlan{CrashKind::abort, schedule.operations.at(0).issued_at, 0});
  Repro repro = shrink_failure(f.scenario, f.forgetful, make_schedule(f.scenario, DataType::map, 2), 2, "convergence",
                               ShrinkLimits{50, 0}).repro;
  repro.seed = kCrashSeed;
  repro.schedule = schedule;
  CheckOptions options = quick_options(1);
  options.seeds = SeedRange{1, 2};
  const CheckReport report = run_check({CheckTarget{f.scenario, f.models.find("echo")}}, {{"crash.repro.toml", repro, &crashing}}, options);
  REQUIRE(report.corpus.size() == 1);
  CHECK(report.corpus[0].failing == std::vector<std::string>{"crashed"});
  CHECK(report.corpus[0].report == "the model crashed on this seed: killed by signal 6 (SIGABRT)");
  CHECK(report.targets.at(0).seeds_run == 2);
  CHECK(report.failed());
}

TEST_CASE("A shrink that crashes the model keeps the failure with its whole schedule", "[check][crash]") {
  const Fixture f;
  // Fails convergence with its four clients and aborts as soon as the shrinker removes one.
  const ModelInfo fragile = crashing_model(f.forgetful, CrashPlan{CrashKind::abort, std::nullopt, 4});
  CheckOptions options = quick_options(2);
  options.seeds = SeedRange{1, 3};
  options.verify_percent = 0;
  options.repro_dir = testing::scratch_dir("check-test-crash-shrink").string();
  const CheckReport report = run_check({CheckTarget{f.scenario, &fragile}}, {}, options);
  const TargetResult& t = report.targets.at(0);
  REQUIRE_FALSE(t.shrunk.empty());
  for (const ShrinkResult& r : t.shrunk) {
    INFO(r.invariant);
    CHECK(r.stopped == "crashed: killed by signal 6 (SIGABRT)");
    CHECK(r.after == r.before);
    REQUIRE_FALSE(r.repro_path.empty());
    auto repro = load_repro(r.repro_path);
    REQUIRE(repro.ok());
    const RunResult replay = replay_repro(repro.value(), fragile);
    CHECK(shows(replay, r.invariant));
    CHECK(replay.trace_hash == r.trace_hash);
  }
}

TEST_CASE("A model that hangs on one seed is killed after the run time limit and is a finding of that seed", "[check][crash]") {
  const Fixture f;
  const Instant at = make_schedule(f.scenario, DataType::map, kCrashSeed).operations.at(0).issued_at;
  const ModelInfo hanging = crashing_model(*f.models.find("echo"), CrashPlan{CrashKind::hang, at, 0});
  CheckOptions options = quick_options(2);
  options.verify_percent = 0;
  options.run_timeout_ms = 3'000;
  const CheckReport report = run_check({CheckTarget{f.scenario, &hanging}}, {}, options);
  const TargetResult& t = report.targets.at(0);
  CHECK(t.seeds_run == 6);
  REQUIRE(t.failures.size() == 1);
  CHECK(t.failures[0].seed == kCrashSeed);
  CHECK(t.failures[0].invariant == kHungVerdict);
  CHECK(t.failures[0].report == "the model did not finish this seed: no result after 3000 ms: the run was killed (hung)");
  const auto json = nlohmann::json::parse(check_json(report));
  CHECK(json["results"][0]["failures"][0]["crash"] == t.failures[0].report);
  CHECK(json["results"][0]["failures"][0]["replay"] == "syncstorm replay offline-test --model crashing-test --seed 4");
}

TEST_CASE("XML escaping leaves no markup characters in text", "[check]") {
  CHECK(xml_escape("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
}

TEST_CASE("A repro written in a project names its scenario file relative to it, and --no-shrink writes none", "[check]") {
  // A repro is committed with the project (syncstorm-corpus/): a machine's folders in it would be
  // wrong on every other clone.
  const auto dir = testing::scratch_dir("check-test-repro-relative");
  std::filesystem::create_directories(dir / "scenarios");
  std::filesystem::copy_file(testing::source_path("scenarios/clock-skew.toml"), dir / "scenarios" / "skew.toml");
  const std::string in_dir = "cd " + dir.string() + " && " + SYNCSTORM_BINARY;
  const auto run = [&](const std::string& args, const std::string& output) {
    const int status = std::system((in_dir + " " + args + " > " + output + " 2>&1").c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  const auto text_of = [](const std::filesystem::path& file) {
    std::ifstream in(file);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
  REQUIRE(run("check scenarios/skew.toml -m lww-map-wallclock --seeds 1 --no-progress --corpus corpus", "out.txt") == 1);
  std::vector<std::filesystem::path> repros;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "corpus")) repros.push_back(entry.path());
  REQUIRE(repros.size() == 1);
  const std::string repro = text_of(repros.front());
  CHECK_THAT(repro, Catch::Contains("scenario_file = \"scenarios/skew.toml\"\n"));
  CHECK_THAT(repro, !Catch::Contains(dir.string()));

  REQUIRE(run("check scenarios/skew.toml -m lww-map-wallclock --seeds 1 --no-progress --no-shrink", "plain.txt") == 1);
  const std::string header = text_of(dir / "plain.txt");
  CHECK_THAT(header, Catch::Contains("no shrinking, no repro files (--no-shrink)"));
  CHECK_THAT(header, !Catch::Contains("new repros go to"));
  for (const auto& entry : std::filesystem::directory_iterator(dir)) CHECK_FALSE(is_repro_path(entry.path().string()));
}

}  // namespace
}  // namespace syncstorm
