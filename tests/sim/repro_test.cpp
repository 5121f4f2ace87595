// Tests of repro files: every field survives a round trip, and every mistake in a hand-edited file
// is an input error naming the file, the line and the key.
#include <catch2/catch.hpp>

#include <string>

#include "sim/cli/commands.hpp"
#include "sim/sweep/repro.hpp"
#include "sim/engine/simulation.hpp"
#include "tests/printers.hpp"
#include "tests/sim/repro_of.hpp"

namespace syncstorm {
namespace {

/// A scenario that exercises every part of a schedule: skewed clocks, listed faults, swarm draws.
Scenario busy_scenario() {
  Scenario s;
  s.name = "busy";
  s.file = "scenarios/busy.toml";
  s.servers = 2;
  s.workload.clients = 3;
  s.workload.duration = Duration::seconds(5);
  s.clocks.skew_max = Duration::millis(300);
  s.clocks.drift_ppm_max = 50;
  s.persistence.client = true;
  s.persistence.lose_unflushed = true;
  s.invariants.settle = Duration::seconds(7);
  FaultSpec partition;
  partition.kind = FaultKind::partition;
  partition.shape = PartitionShape::bridge;
  partition.at = Instant{1'000'000};
  s.faults.push_back(partition);
  s.swarm.enabled = true;
  s.swarm.kinds = {FaultKind::latency, FaultKind::clock_jump, FaultKind::crash, FaultKind::limit_data};
  return s;
}

Repro busy_repro(std::uint64_t seed) {
  const Scenario s = busy_scenario();
  Repro r = testing::repro_of(s, "echo", seed, "convergence", make_schedule(s, DataType::list, seed));
  r.scenario_file = s.file;
  r.trace_hash = 0xfedcba9876543210ULL;
  r.invariants.enabled = {Invariant::convergence, Invariant::resurrection};
  r.original = size_of(r.schedule);
  return r;
}

/// The text of a valid repro with the first line that starts with `prefix` replaced by `line`.
std::string edited(const std::string& prefix, const std::string& line) {
  std::string text = format_repro(busy_repro(3));
  const auto at = text.find("\n" + prefix);
  REQUIRE(at != std::string::npos);
  const auto end = text.find('\n', at + 1);
  return text.replace(at + 1, end - at - 1, line);
}

TEST_CASE("A repro file keeps every field of the schedule and the run through a round trip", "[check]") {
  for (std::uint64_t seed : {1, 2, 3, 4, 5}) {
    const Repro original = busy_repro(seed);
    auto parsed = parse_repro(format_repro(original), "x.repro.toml");
    REQUIRE(parsed.ok());
    const Repro& back = parsed.value();
    // Schedule has no operator== (NetworkOptions has none); the parts that have one are compared, and
    // the network through the text of a second round.
    CHECK(back.schedule.operations == original.schedule.operations);
    CHECK(back.schedule.faults == original.schedule.faults);
    CHECK(back.schedule.clock_skew == original.schedule.clock_skew);
    CHECK(back.schedule.clock_drift_ppm == original.schedule.clock_drift_ppm);
    CHECK(back.schedule.workload_end == original.schedule.workload_end);
    CHECK(back.schedule.node_count() == original.schedule.node_count());
    CHECK(back.schedule.network.drop == original.schedule.network.drop);
    CHECK(back.schedule.network.reorder == original.schedule.network.reorder);
    CHECK(format_repro(back) == format_repro(original));
    CHECK(back.seed == original.seed);
    CHECK(back.trace_hash == original.trace_hash);
    CHECK(back.model == original.model);
    CHECK(back.invariant == original.invariant);
    CHECK(back.original == original.original);
    CHECK(back.invariants.enabled == original.invariants.enabled);
    CHECK(back.invariants.settle == original.invariants.settle);
    CHECK(back.persistence.lose_unflushed == original.persistence.lose_unflushed);
  }
}

TEST_CASE("A shrunk schedule's stream numbers survive a round trip and decide the nodes' draws", "[check]") {
  Repro original = busy_repro(2);
  original.schedule.streams = {0, 1, 3, 4, 5};  // as if client 2 (node 2) had been removed
  auto parsed = parse_repro(format_repro(original), "x.repro.toml");
  REQUIRE(parsed.ok());
  CHECK(parsed.value().schedule.streams == original.schedule.streams);
  CHECK(original.schedule.stream_of(2) == 3);
  Repro plain = busy_repro(2);
  CHECK(format_repro(plain).find("streams") == std::string::npos);  // identity: not written
  CHECK(plain.schedule.stream_of(4) == 4);
  // The numbers reach the run: other streams give other network draws, so another trace.
  const ModelInfo echo = shipped_models().all().front();
  REQUIRE(echo.name == "echo");
  const Scenario s = busy_scenario();
  const RunResult a = run_simulation(s, echo, plain.schedule, 2);
  const RunResult b = run_simulation(s, echo, original.schedule, 2);
  Schedule identity = plain.schedule;
  identity.streams = {0, 1, 2, 3, 4};
  const RunResult c = run_simulation(s, echo, identity, 2);
  CHECK(a.trace_hash != b.trace_hash);
  CHECK(a.trace_hash == c.trace_hash);
}

TEST_CASE("A hand-edited repro file with a mistake gives an input error naming file, line and key", "[check]") {
  struct Case {
    std::string prefix;
    std::string line;
    std::string key;
  };
  const Case cases[] = {
      {"seed = ", "seed = \"twelve\"", "seed"},
      {"seed = ", "seeds = 12", "seeds"},  // an unknown key is named before the key it replaced goes missing
      {"seed = ", "# no seed", "seed"},
      {"model = ", "model = 7", "model"},
      {"trace_hash = ", "trace_hash = \"xyz\"", "trace_hash"},
      {"invariant = ", "invariant = \"tidiness\"", "invariant"},
      {"format = ", "format = 99", "format"},
      {"servers = ", "servers = -1", "schedule.servers"},
      {"client_link = ", "client_link = \"carrier-pigeon\"", "network.client_link"},
      {"min_us = ", "min_us = 1.5", "network.latency.min_us"},
      {"policy = ", "policy = \"sometimes\"", "network.backoff.policy"},
      {"clock_skew_us = ", "clock_skew_us = [1, 2]", "schedule.clock_skew_us"},
      {"clock_drift_ppm = ", "clock_drift_ppm = [0, 0, 0, 0, 0]\nstreams = [0, 1]", "schedule.streams"},
      {"clock_drift_ppm = ", "clock_drift_ppm = [0, 0, 0, 0, 0]\nstreams = [0, 1, -2, 3, 4]", "schedule.streams"},
      {"kind = \"", "kind = \"teleport\"", "operation[0].kind"},
      {"at_us = ", "at_us = 1\ncolour = \"red\"", "operation[0].colour"},
  };
  for (const Case& c : cases) {
    INFO(c.line);
    auto parsed = parse_repro(edited(c.prefix, c.line), "bad.repro.toml");
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().file == "bad.repro.toml");
    CHECK(parsed.error().key == c.key);
    CHECK(parsed.error().line > 0);
    CHECK_FALSE(parsed.error().message.empty());
  }
}

TEST_CASE("A hand-edited repro file's mistakes are told in the scenario loader's words", "[check]") {
  auto misspelt = parse_repro(edited("seed = ", "seeds = 12"), "bad.repro.toml");
  REQUIRE_FALSE(misspelt.ok());
  CHECK_THAT(misspelt.error().message, Catch::StartsWith("unknown key (did you mean 'seed'?); accepted here: format, "));
  auto missing = parse_repro(edited("seed = ", "# no seed"), "bad.repro.toml");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message == "missing key");
  CHECK(missing.error().line == 1);  // the table that lacks it: the top level
  auto wrong_type = parse_repro(edited("servers = ", "servers = \"two\""), "bad.repro.toml");
  REQUIRE_FALSE(wrong_type.ok());
  CHECK(wrong_type.error().message == "expected a whole number, got a string");
  auto kind = parse_repro(edited("kind = \"", "kind = \"teleport\""), "bad.repro.toml");
  REQUIRE_FALSE(kind.ok());
  CHECK_THAT(kind.error().message, Catch::StartsWith("unknown value \"teleport\": expected one of set, add, "));
  auto invariant = parse_repro(edited("enabled = ", "enabled = [\"convergence\", \"tidiness\"]"), "bad.repro.toml");
  REQUIRE_FALSE(invariant.ok());
  CHECK(invariant.error().key == "invariants.enabled");
  CHECK_THAT(invariant.error().message, Catch::StartsWith("unknown value \"tidiness\": expected names from convergence, "));
  auto syntax = parse_repro("format = 1\nseed = = 3\n", "broken.repro.toml");
  REQUIRE_FALSE(syntax.ok());
  CHECK_THAT(syntax.error().message, Catch::StartsWith("invalid TOML: "));
}

TEST_CASE("A corrupt repro file gives an input error with the line of the syntax error", "[check]") {
  auto parsed = parse_repro("format = 1\nseed = = 3\n", "broken.repro.toml");
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().file == "broken.repro.toml");
  CHECK(parsed.error().line == 2);
  CHECK_FALSE(load_repro("/nonexistent/folder/x.repro.toml").ok());
}

TEST_CASE("A repro whose operations are out of order or name a missing node is rejected", "[check]") {
  std::string text = format_repro(busy_repro(3));
  const auto first = text.find("\nid = 1\n");
  REQUIRE(first != std::string::npos);
  text.replace(first, 8, "\nid = 2\n");
  CHECK_FALSE(parse_repro(text, "x.repro.toml").ok());
  auto far = parse_repro(edited("side_a = ", "side_a = [99]"), "x.repro.toml");
  REQUIRE_FALSE(far.ok());
  CHECK(far.error().key.ends_with("side_a"));
}

TEST_CASE("Repro files are told from scenario files by their name", "[check]") {
  CHECK(is_repro_path("corpus/a__b__convergence__seed3.repro.toml"));
  CHECK_FALSE(is_repro_path("scenarios/quiet.toml"));
}

TEST_CASE("a replay command quotes a model named by a command line, so it pastes into a shell whole", "[repro]") {
  CHECK(replay_command("quiet", "echo", 3) == "syncstorm replay quiet --model echo --seed 3");
  CHECK(replay_command("quiet", "external:node a.js --flush-later", 3) ==
        "syncstorm replay quiet --model 'external:node a.js --flush-later' --seed 3");
  CHECK(replay_command("quiet", "external:node it's.js", 1) ==
        "syncstorm replay quiet --model 'external:node it'\\''s.js' --seed 1");
}

}  // namespace
}  // namespace syncstorm
