// Limits (sim/scenario/limits.hpp): every size a scenario file, a repro file or a flag can ask for
// is refused at load time, naming the file, line and key or the flag, and the command exits 2;
// a run that reaches the engine's event limit names that limit and how to raise it.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "sim/engine/simulation.hpp"
#include "sim/scenario/limits.hpp"
#include "sim/scenario/scenario_file.hpp"
#include "sim/scenario/schedule.hpp"
#include "sim/sweep/repro.hpp"
#include "tests/printers.hpp"
#include "tests/sim/probe_model.hpp"
#include "tests/sim/repro_of.hpp"
#include "tests/scratch_dir.hpp"

using namespace syncstorm;

namespace {

namespace fs = std::filesystem;


struct Outcome {
  int code = -1;
  std::string output;  ///< stdout and stderr together
};

/// Runs the syncstorm binary with `args` (after `env`, e.g. "PATH=/x"), in the source tree.
Outcome run_cli(const std::string& args, const std::string& tag, const std::string& env = "") {
  const fs::path out = testing::scratch_dir("limits-test-cli-" + tag) / "output.txt";
  const std::string command = fmt::format("cd {} && {} {} {} > {} 2>&1", SYNCSTORM_SOURCE_DIR, env, SYNCSTORM_BINARY, args,
                                          out.string());
  const int status = std::system(command.c_str());
  std::ifstream in(out);
  std::ostringstream text;
  text << in.rdbuf();
  return Outcome{WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

InputError scenario_error(const std::string& text) {
  Result<Scenario> r = parse_scenario(text, "big.toml");
  REQUIRE_FALSE(r.ok());
  return r.error();
}

struct Oversize {
  std::string what;
  std::string text;
  std::string key;
  std::string fragment;
};

}  // namespace

TEST_CASE("every size a scenario file asks for beyond its limit is refused at its key", "[scenario][limits]") {
  std::string many_faults;
  for (std::uint32_t i = 0; i <= limits::kFaultsMax; ++i) many_faults += "[[fault]]\nkind = \"reset\"\nat = \"1s\"\ntarget = \"clients\"\n";
  const std::vector<Oversize> cases = {
      {"a workload of a hundred million hours", "[workload]\nduration = \"100000000h\"\n", "workload.duration", "kDurationMax"},
      {"a settle period beyond a week", "[invariants]\nsettle = \"200h\"\n", "invariants.settle", "kDurationMax"},
      {"a latency beyond a week", "[network]\nlatency = \"169h\"\n", "network.latency", "kDurationMax"},
      {"a fault starting after a week", "[[fault]]\nkind = \"reset\"\nat = \"200h\"\ntarget = \"clients\"\n", "fault[0].at",
       "kDurationMax"},
      {"a clock skew beyond a week", "[clocks]\nskew = \"169h\"\n", "clocks.skew", "kDurationMax"},
      {"a run whose parts add up to more than a week", "[workload]\nduration = \"100h\"\n[invariants]\nsettle = \"100h\"\n",
       "invariants.settle", "kDurationMax"},
      {"a fault whose end and settle pass a week", "[[fault]]\nkind = \"crash\"\nat = \"100h\"\nduration = \"100h\"\ntarget = \"clients\"\n",
       "fault[0].duration", "kDurationMax"},
      {"billions of operations from many clients", "[workload]\nclients = 1000000\nduration = \"1h\"\nrate = \"1/s\"\n",
       "workload.duration", "kOperationsMax"},
      {"operations from a high rate", "[workload]\nrate = \"1000000/s\"\n", "workload.rate", "kOperationsMax"},
      {"operations from a short think time", "[workload]\nthink_time = \"1us\"\n", "workload.think_time", "kOperationsMax"},
      {"a bandwidth beyond a terabyte", "[network]\nbandwidth = \"2000GB/s\"\n", "network.bandwidth", "kBytesMax"},
      {"a metadata bound beyond a terabyte", "[invariants]\nmetadata_max = 2000000000000\n", "invariants.metadata_max", "kBytesMax"},
      {"a fault size beyond a terabyte",
       "[[fault]]\nkind = \"limit_data\"\nat = \"1s\"\nduration = \"1s\"\nbytes = \"1001GB\"\ntarget = \"clients\"\n",
       "fault[0].bytes", "kBytesMax"},
      {"more clients than the limit", "[workload]\nclients = 1000001\n", "workload.clients", "expected 1 to 1000000"},
      {"more servers than the limit", "servers = 65\n", "servers", "expected 0 to 64"},
      {"more keys than the limit", "[workload]\nkeys = 1000001\n", "workload.keys", "expected 1 to 1000000"},
      {"more swarm faults than the limit", "[swarm]\nenabled = true\nkinds = [\"reset\"]\nmax_faults = 1001\n", "swarm.max_faults",
       "expected 1 to 1000"},
      {"more faults than the limit", many_faults, fmt::format("fault[{}].kind", limits::kFaultsMax), "kFaultsMax"},
  };
  for (const Oversize& c : cases) {
    DYNAMIC_SECTION(c.what) {
      const InputError e = scenario_error(c.text);
      CHECK(e.file == "big.toml");
      CHECK(e.key == c.key);
      CHECK(e.line > 0);
      CHECK_THAT(e.message, Catch::Contains(c.fragment));
    }
  }
}

TEST_CASE("sizes just inside the limits still load", "[scenario][limits]") {
  CHECK(parse_scenario("[workload]\nduration = \"167h\"\nrate = \"1/h\"\n[invariants]\nsettle = \"1h\"\n", "ok.toml").ok());
  CHECK(parse_scenario("[workload]\nclients = 1000000\nduration = \"5s\"\nrate = \"1/s\"\n", "ok.toml").ok());
  CHECK(parse_scenario("[network]\nbandwidth = \"1000GB/s\"\n", "ok.toml").ok());
}

TEST_CASE("the run that used to exhaust memory drawing its schedule exits 2 at load time", "[scenario][limits]") {
  const fs::path dir = testing::scratch_dir("limits-test-huge-duration");
  std::ofstream(dir / "huge.toml") << "[workload]\nduration = \"100000000h\"\n";
  const Outcome o = run_cli("run " + (dir / "huge.toml").string() + " --model lww-map --seed 1", "huge-duration");
  CHECK(o.code == 2);
  CHECK_THAT(o.output, Catch::Contains("huge.toml:2:") && Catch::Contains("workload.duration") && Catch::Contains("kDurationMax"));
}

TEST_CASE("a scenario file above its size limit is refused before it is read", "[scenario][limits]") {
  const fs::path file = testing::scratch_dir("limits-test-scenario-size") / "large.toml";
  std::ofstream{file}.close();
  fs::resize_file(file, limits::kScenarioFileBytesMax + 1);  // sparse: costs no disk
  const Result<Scenario> r = load_scenario(file.string());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().file == file.string());
  CHECK_THAT(r.error().message, Catch::Contains("kScenarioFileBytesMax"));
}

namespace {

/// A small valid repro's text (of `model`, whose data type is `type`), to break one value at a time.
std::string repro_text(DataType type = DataType::map, const std::string& model = "lww-map") {
  Result<Scenario> s = parse_scenario("[workload]\nclients = 2\nduration = \"2s\"\n", "small.toml");
  REQUIRE(s.ok());
  const Repro r = testing::repro_of(s.value(), model, 3, "convergence", make_schedule(s.value(), type, 3));
  REQUIRE_FALSE(r.schedule.operations.empty());
  return format_repro(r);
}

/// `text` with the first `key = ...` line after the header `section` replaced by `key = value`.
std::string with(std::string text, const std::string& section, const std::string& key, const std::string& value) {
  const std::size_t table = text.find("\n" + section + "\n");
  REQUIRE(table != std::string::npos);
  const std::size_t at = text.find("\n" + key + " = ", table);
  REQUIRE(at != std::string::npos);
  const std::size_t end = text.find('\n', at + 1);
  return text.replace(at + 1, end - at - 1, key + " = " + value);
}

}  // namespace

TEST_CASE("every size a repro file asks for beyond its limit is refused at its key", "[repro][limits]") {
  const std::string text = repro_text();
  REQUIRE(parse_repro(text, "r.repro.toml").ok());
  struct Case {
    std::string section, key, value, where;
  };
  const std::vector<Case> cases = {
      {"[schedule]", "clients", "2000000", "schedule.clients"},
      {"[schedule]", "servers", "65", "schedule.servers"},
      {"[schedule]", "workload_end_us", "700000000000", "schedule.workload_end_us"},
      {"[schedule]", "settle_us", "0", "schedule.settle_us"},
      {"[invariants]", "settle_us", "700000000000", "invariants.settle_us"},
      {"[invariants]", "metadata_bytes_max", "2000000000000", "invariants.metadata_bytes_max"},
      {"[[operation]]", "at_us", "-5", "operation[0].at_us"},
      {"[[operation]]", "key", "1000000", "operation[0].key"},
      {"[network]", "bandwidth_bytes_per_s", "2000000000000", "network.bandwidth_bytes_per_s"},
      {"[network]", "drop_ppm", "1000000", "network.drop_ppm"},
      {"[network]", "connect_timeout_us", "0", "network.connect_timeout_us"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.section << " " << c.key << " = " << c.value) {
      const Result<Repro> r = parse_repro(with(text, c.section, c.key, c.value), "r.repro.toml");
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().key == c.where);
      CHECK(r.error().line > 0);
    }
  }
}

TEST_CASE("a counter operation's amount beyond its limit is refused at its key", "[repro][limits]") {
  // Amounts reach the counter models' sums: an unbounded one could overflow them.
  const std::string text = repro_text(DataType::counter, "pn-counter");
  REQUIRE(parse_repro(text, "r.repro.toml").ok());
  for (const std::string value : {"1000001", "-1000001", "-9223372036854775808"}) {
    DYNAMIC_SECTION("amount = " << value) {
      const Result<Repro> bad = parse_repro(with(text, "[[operation]]", "amount", value), "r.repro.toml");
      REQUIRE_FALSE(bad.ok());
      CHECK(bad.error().key == "operation[0].amount");
      CHECK(bad.error().line > 0);
    }
  }
  CHECK(parse_repro(with(text, "[[operation]]", "amount", "-1000000"), "r.repro.toml").ok());
}

TEST_CASE("a repro file above its size limit is refused before it is read", "[repro][limits]") {
  const fs::path file = testing::scratch_dir("limits-test-repro-size") / "large.repro.toml";
  std::ofstream{file}.close();
  fs::resize_file(file, limits::kReproFileBytesMax + 1);  // sparse: costs no disk
  const Result<Repro> r = load_repro(file.string());
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("kReproFileBytesMax"));
  CHECK(run_cli("replay " + file.string(), "repro-size").code == 2);
}

TEST_CASE("every numeric flag refuses a negative, a zero where it means nothing, and a value past its limit", "[cli][limits]") {
  // Each: the arguments, and the flag the message must name.
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"run quiet -m lww-map --seed -1", "--seed"},
      {"run quiet -m lww-map --seed 9223372036854775808", "--seed"},
      {"run quiet -m lww-map --seed 0x10", "--seed"},
      {"run quiet -m lww-map --seed +3", "--seed"},
      {"replay quiet -m lww-map --seed -1", "--seed"},
      {"check quiet -m lww-map --seeds 0", "--seeds"},
      {"check quiet -m lww-map --seeds -5", "--seeds"},
      {"check quiet -m lww-map --seeds 1000001", "--seeds"},
      {"check quiet -m lww-map --jobs 0", "--jobs"},
      {"check quiet -m lww-map --jobs -1", "--jobs"},
      {"check quiet -m lww-map --jobs 257", "--jobs"},
      {"check quiet -m lww-map --run-timeout -1", "--run-timeout"},
      {"check quiet -m lww-map --run-timeout 86401", "--run-timeout"},
      {"check quiet -m lww-map --shrink-runs 0", "--shrink-runs"},
      {"check quiet -m lww-map --shrink-runs -1", "--shrink-runs"},
      {"check quiet -m lww-map --shrink-time -1", "--shrink-time"},
      {"check quiet -m lww-map --shrink-time 3600001", "--shrink-time"},
      {"check quiet -m lww-map --seed-range 1:2000000", "--seed-range"},
      {"check quiet -m lww-map --seed-range 1:9223372036854775808", "--seed-range"},
      {"check quiet -m lww-map --seed-range -1:3", "--seed-range"},
      {"check quiet -m lww-map --verify-determinism=-1", "--verify-determinism"},
      {"check quiet -m lww-map --time-budget -1s", "--time-budget"},
      {"check quiet -m lww-map --seeds 4 --shard 0/2", "--shard"},
      {"compare quiet -m lww-map --seeds 0", "--seeds"},
      {"compare quiet -m lww-map --seeds -1", "--seeds"},
      {"compare quiet -m lww-map --seeds 10001", "--seeds"},
      {"compare quiet -m lww-map --first-seed -1", "--first-seed"},
      {"compare quiet -m lww-map --first-seed 9223372036854775807 --seeds 2", "--first-seed"},
      {"compare quiet -m lww-map --jobs 0", "--jobs"},
      {"compare quiet -m lww-map --storm-seeds 0", "--storm-seeds"},
      {"compare quiet -m lww-map --storm-seeds -3", "--storm-seeds"},
  };
  int i = 0;
  for (const auto& [args, flag] : refused) {
    DYNAMIC_SECTION(args) {
      const Outcome o = run_cli(args, "flags-" + std::to_string(i));
      INFO(o.output);
      CHECK(o.code == 2);
      CHECK_THAT(o.output, Catch::Contains(flag));
      CHECK_THAT(o.output, !Catch::Contains("verdict") && !Catch::Contains("trace hash"));
    }
    ++i;
  }
}

TEST_CASE("numeric flags read decimal digits as decimal, leading zeros included", "[cli][limits]") {
  const Outcome o = run_cli("run quiet -m lww-map --seed 010", "flags-decimal");
  CHECK(o.code == 0);
  CHECK_THAT(o.output, Catch::Contains("seed        10\n"));
  CHECK(run_cli("run quiet -m lww-map --seed 9223372036854775807", "flags-largest").code == 0);
}

TEST_CASE("a run that reaches the engine's event limit names the limit and how to raise it", "[sim][limits][slow]") {
  // Probe clients that set a 1 us timer forever: a model that never goes quiet.
  auto rec = std::make_shared<testing::Recorder>();
  const ModelInfo model = testing::probe_model(rec, Duration::micros(1));
  const Scenario scenario = testing::quiet_scenario(2, Duration::seconds(30));
  const Schedule schedule = make_schedule(scenario, DataType::map, 1);
  const RunResult r = run_simulation(scenario, model, schedule, 1);
  CHECK(r.metrics.events == limits::kEventsMax);
  CHECK_THAT(r.aborted, Catch::Contains("event limit") && Catch::Contains("limits::kEventsMax") &&
                            Catch::Contains("sim/scenario/limits.hpp"));
}
