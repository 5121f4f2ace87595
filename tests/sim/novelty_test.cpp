// Tests of the novelty exploration strategy (check --explore novelty): its corpus and coverage
// signal, its mutations, the same bytes on any number of jobs, the replay of a bred failure from its
// command and from its repro, and merge refusing shards swept with different strategies.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/wait.h>

#include "sim/cli/commands.hpp"
#include "sim/engine/simulation.hpp"
#include "sim/sweep/check.hpp"
#include "sim/sweep/novelty.hpp"
#include "sim/sweep/repro.hpp"
#include "tests/printers.hpp"
#include "tests/shipped_scenario.hpp"
#include "tests/programs.hpp"
#include "tests/scratch_dir.hpp"

namespace syncstorm {
namespace {

using testing::shipped_scenario;

using testing::syncstorm_cli;


CheckOptions options_for(std::uint64_t last, unsigned jobs) {
  CheckOptions o;
  o.seeds = SeedRange{1, last};
  o.jobs = jobs;
  o.progress = false;
  o.verify_percent = 5;
  o.shrink = ShrinkLimits{100, 0};  // no wall-clock limit: the shrink must not depend on speed
  return o;
}

}  // namespace

TEST_CASE("The novelty strategy is a value of --explore, and --lineage a list of seeds", "[novelty]") {
  auto parsed = parse_exploration("novelty");
  REQUIRE(parsed.ok());
  CHECK(parsed.value() == Exploration::novelty);
  auto lineage = parse_lineage("5,23");
  REQUIRE(lineage.ok());
  CHECK(lineage.value() == std::vector<std::uint64_t>{5, 23});
  for (const char* bad : {"", "5,", ",5", "5,,2", "x", "-1", "1,2,3,4,5,6,7,8"}) {
    INFO(bad);
    auto rejected = parse_lineage(bad);
    REQUIRE_FALSE(rejected.ok());
    CHECK(rejected.error().key == "--lineage");
  }
  CHECK(syncstorm_cli("check quiet --model echo --seeds 2 --no-progress --explore novelty").first == 0);
  for (const std::string command : {"run quiet --model echo --seed 3 --lineage 1,2", "run quiet --model echo --seed 3 --explore novelty --lineage 1,x",
                                    "replay quiet --model echo --seed 3 --explore priority --lineage 1"}) {
    const auto [code, out] = syncstorm_cli(command);
    INFO(command << "\n" << out);
    CHECK(code == 2);
    CHECK(out.find("--lineage") != std::string::npos);
  }
}

TEST_CASE("A lineage of one seed is the random schedule and each later seed mutates it within the same nodes and window", "[novelty]") {
  const Scenario scenario = shipped_scenario("flaky-mobile");
  const ModelRegistry models = shipped_models();
  const ModelInfo& model = *models.find("lww-map");
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Schedule root = novelty_schedule(scenario, model, {seed});
    CHECK(root.explore == Exploration::novelty);
    root.explore = Exploration::random;
    CHECK(root == make_schedule(scenario, model, seed));
  }
  const Schedule parent = novelty_schedule(scenario, model, {7});
  REQUIRE_FALSE(parent.faults.empty());
  int changed = 0;
  for (std::uint64_t seed = 100; seed < 140; ++seed) {
    const Schedule child = novelty_schedule(scenario, model, {7, seed});
    CHECK(child == mutate(scenario, model, parent, seed));  // a pure function of the lineage
    CHECK(child.servers == parent.servers);
    CHECK(child.clients == parent.clients);
    CHECK(child.workload_end == parent.workload_end);
    CHECK(child.clock_skew == parent.clock_skew);
    for (const ScheduledFault& f : child.faults) CHECK(f.start.us >= 0);
    for (std::size_t i = 0; i < child.operations.size(); ++i) CHECK(child.operations[i].id.value == i + 1);
    changed += child.faults != parent.faults || child.operations != parent.operations ? 1 : 0;
  }
  CHECK(changed >= 30);  // a mutation that changes nothing is rare (an operation splice of equal users)
}

TEST_CASE("The corpus keeps a run only when it reached a new feature, and breeds most later seeds from it", "[novelty]") {
  NoveltyCorpus corpus;
  CHECK(corpus.plan(9) == Lineage{9});  // an empty corpus can only plan roots
  CHECK(corpus.add({1}, {10, 20}));
  CHECK_FALSE(corpus.add({2}, {20, 10}));  // nothing new
  CHECK(corpus.add({3}, {20, 30}));
  CHECK(corpus.size() == 2);
  CHECK(corpus.features_seen() == 3);
  int bred = 0;
  for (std::uint64_t seed = 100; seed < 200; ++seed) {
    const Lineage planned = corpus.plan(seed);
    CHECK(planned == corpus.plan(seed));
    CHECK(planned.back() == seed);
    if (planned.size() == 2) {
      CHECK((planned.front() == 1 || planned.front() == 3));
      ++bred;
    } else {
      CHECK(planned.size() == 1);
    }
  }
  CHECK(bred > 60);  // one in kFreshOneIn is fresh
  CHECK(bred < 90);
  // A member whose lineage is as long as allowed has no children.
  NoveltyCorpus deep;
  deep.add(Lineage(kLineageMax, 4), {1});
  for (std::uint64_t seed = 1; seed < 20; ++seed) CHECK(deep.plan(seed).size() == 1);
}

TEST_CASE("The coverage signal is a sorted set that tells a calm run from one with faults in flight", "[novelty]") {
  const ModelRegistry models = shipped_models();
  const ModelInfo& model = *models.find("outbox-map");
  const Scenario faulty = shipped_scenario("flaky-mobile");
  const Scenario calm = shipped_scenario("quiet");
  const Schedule a = novelty_schedule(faulty, model, {3});
  const std::vector<std::uint64_t> features = novelty_features(a, run_simulation(faulty, model, a, 3));
  REQUIRE_FALSE(features.empty());
  CHECK(std::is_sorted(features.begin(), features.end()));
  CHECK(std::adjacent_find(features.begin(), features.end()) == features.end());
  CHECK(features == novelty_features(a, run_simulation(faulty, model, a, 3)));
  const Schedule b = novelty_schedule(calm, model, {3});
  const std::vector<std::uint64_t> quiet = novelty_features(b, run_simulation(calm, model, b, 3));
  NoveltyCorpus corpus;
  REQUIRE(corpus.add({1}, quiet));
  CHECK(corpus.add({2}, features));  // the faulty run reaches something the calm one did not
}

TEST_CASE("A novelty check gives the same JSON bytes on one job and on three, and breeds its later seeds", "[novelty]") {
  const ModelRegistry models = shipped_models();
  const std::vector<CheckTarget> targets{{shipped_scenario("flaky-mobile"), models.find("counter-no-dedup"), Exploration::novelty},
                                         {shipped_scenario("partition-heal"), models.find("lww-map"), Exploration::novelty}};
  const CheckOptions options = options_for(100, 1);
  CheckOptions three = options;
  three.jobs = 3;
  const std::string one_json = check_json(run_check(targets, {}, options));
  const std::string three_json = check_json(run_check(targets, {}, three));
  CHECK(one_json == three_json);
  const auto doc = nlohmann::json::parse(one_json);
  CHECK(doc["results"][0]["explore"] == "novelty");
  CHECK(doc["results"][1]["failing_seeds"] == 0);  // a correct model stays correct under the strategy
  int bred = 0;
  for (const auto& f : doc["results"][0]["failures"]) {
    const auto lineage = f["lineage"].get<std::vector<std::uint64_t>>();
    REQUIRE_FALSE(lineage.empty());
    CHECK(lineage.back() == f["seed"].get<std::uint64_t>());
    if (lineage.size() > 1) {
      ++bred;
      CHECK(f["seed"].get<std::uint64_t>() > novelty_generation_size(0));  // the first generation has no corpus
      CHECK(f["replay"].get<std::string>().find("--explore novelty --lineage ") != std::string::npos);
    }
  }
  CHECK(bred > 0);
}

TEST_CASE("A failure bred by novelty replays from its command and from its repro", "[novelty]") {
  const ModelRegistry models = shipped_models();
  const ModelInfo& model = *models.find("counter-no-dedup");
  const std::vector<CheckTarget> targets{{shipped_scenario("flaky-mobile"), &model, Exploration::novelty}};
  CheckOptions options = options_for(60, 2);
  options.repro_dir = testing::scratch_dir("novelty-test-repros").string();
  const CheckReport report = run_check(targets, {}, options);
  const TargetResult& t = report.targets.at(0);
  const auto bred = std::find_if(t.failures.begin(), t.failures.end(), [](const SeedFailure& f) { return f.lineage.size() > 1; });
  REQUIRE(bred != t.failures.end());
  // The command the check prints runs the bred schedule again: same trace hash, same failure.
  const std::string command = replay_command(t.replay_scenario, t.model, bred->seed, t.explore, bred->lineage);
  const auto [code, out] = syncstorm_cli(command.substr(std::string("syncstorm ").size()));
  INFO(command << "\n" << out);
  CHECK(code == 1);
  CHECK(out.find(fmt::format("trace hash  {:016x}", bred->trace_hash)) != std::string::npos);
  CHECK(out.find(fmt::format("--lineage {}", fmt::join(bred->lineage.begin(), bred->lineage.end() - 1, ","))) != std::string::npos);
  // Without its lineage the seed is a root: another schedule, another run.
  const auto root = syncstorm_cli(fmt::format("run flaky-mobile --model counter-no-dedup --seed {} --explore novelty", bred->seed));
  CHECK(root.second.find(fmt::format("trace hash  {:016x}", bred->trace_hash)) == std::string::npos);
  // The shrunk repro holds its schedule explicitly and replays to the hash it recorded.
  REQUIRE_FALSE(t.shrunk.empty());
  const ShrinkResult& shrunk = t.shrunk.front();
  REQUIRE_FALSE(shrunk.repro_path.empty());
  auto loaded = load_repro(shrunk.repro_path);
  REQUIRE(loaded.ok());
  CHECK(loaded.value().schedule.explore == Exploration::novelty);
  CHECK(replay_repro(loaded.value(), model).trace_hash == shrunk.repro.trace_hash);
  // And so does an unshrunk bred schedule written out as a repro.
  Repro whole = shrunk.repro;
  whole.seed = bred->seed;
  whole.schedule = novelty_schedule(targets[0].scenario, model, bred->lineage);
  auto reread = parse_repro(format_repro(whole), "bred.repro.toml");
  REQUIRE(reread.ok());
  CHECK(replay_repro(reread.value(), model).trace_hash == bred->trace_hash);
  const auto [repro_code, repro_out] = syncstorm_cli(fmt::format("replay {} --lineage 1", shrunk.repro_path));
  CHECK(repro_code == 2);
  CHECK(repro_out.find("--lineage") != std::string::npos);
}

TEST_CASE("Merge refuses shard summaries swept with different --explore strategies, naming the files", "[novelty]") {
  const ModelRegistry models = shipped_models();
  const auto dir = testing::scratch_dir("novelty-test-merge");
  CheckOptions options = options_for(4, 1);
  options.verify_percent = 0;
  options.shrink_enabled = false;
  const std::string random = (dir / "random.json").string();
  const std::string novelty = (dir / "novelty.json").string();
  const std::string novelty_too = (dir / "novelty-too.json").string();
  std::ofstream(random) << check_json(run_check({{shipped_scenario("quiet"), models.find("echo"), Exploration::random}}, {}, options));
  std::ofstream(novelty) << check_json(run_check({{shipped_scenario("quiet"), models.find("echo"), Exploration::novelty}}, {}, options));
  options.seeds = SeedRange{5, 8};
  std::ofstream(novelty_too) << check_json(run_check({{shipped_scenario("quiet"), models.find("echo"), Exploration::novelty}}, {}, options));
  bool failed = false;
  auto refused = merge_check_json({random, novelty}, failed);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().file == novelty);
  CHECK(refused.error().message.find(random) != std::string::npos);
  CHECK(refused.error().message.find("novelty") != std::string::npos);
  const auto [code, out] = syncstorm_cli("merge " + random + " " + novelty);
  INFO(out);
  CHECK(code == 2);
  CHECK(out.find("random.json") != std::string::npos);
  CHECK(out.find("novelty.json") != std::string::npos);
  // Shards of one strategy still merge.
  CHECK(merge_check_json({novelty, novelty_too}, failed).ok());
  CHECK(syncstorm_cli("merge " + novelty + " " + novelty_too).first == 0);
}

}  // namespace syncstorm
