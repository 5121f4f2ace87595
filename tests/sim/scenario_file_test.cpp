// Scenario files: every mistake is an InputError naming line, column and key; every shipped file loads.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include "sim/scenario/scenario_file.hpp"
#include "tests/printers.hpp"
#include "tests/source_tree.hpp"

using namespace syncstorm;

namespace {

/// One mistake: a file, the key the error must name, its line, and a fragment of the message.
struct Mistake {
  std::string what;
  std::string text;
  std::string key;
  std::uint32_t line;
  std::string fragment;
};

Scenario parse_ok(const std::string& text) {
  Result<Scenario> r = parse_scenario(text, "test.toml");
  if (!r) FAIL(r.error().to_string());
  return r.value();
}

InputError parse_error(const std::string& text) {
  Result<Scenario> r = parse_scenario(text, "test.toml");
  REQUIRE_FALSE(r.ok());
  return r.error();
}

}  // namespace

TEST_CASE("each listed mistake fails with its key, line and reason", "[scenario]") {
  const std::vector<Mistake> mistakes = {
      {"unknown key at top level", "servers = 1\nserverz = 2\n", "serverz", 2, "unknown key (did you mean 'servers'?)"},
      {"unknown key in a table", "[network]\nlink = \"stream\"\nlatancy = \"5ms\"\n", "network.latancy", 3,
       "did you mean 'latency'"},
      {"key in the wrong table", "[workload]\ndrop = 0.1\n", "workload.drop", 2, "it belongs in [network]"},
      {"string where a number is expected", "[workload]\nclients = \"five\"\n", "workload.clients", 2,
       "expected a whole number, got a string"},
      {"number where a duration is expected", "[workload]\nduration = 30\n", "workload.duration", 2,
       "expected a duration string"},
      {"bad duration unit", "[workload]\nduration = \"30sec\"\n", "workload.duration", 2,
       "unknown duration unit \"sec\""},
      {"negative duration", "[network]\nreorder_delay = \"-5ms\"\n", "network.reorder_delay", 2,
       "negative duration is not allowed"},
      {"probability above one", "[network]\ndrop = 1.5\n", "network.drop", 2, "out of range"},
      {"percentage above one hundred", "[network]\nduplicate = \"150%\"\n", "network.duplicate", 2,
       "expected a probability"},
      {"zero clients", "[workload]\nclients = 0\n", "workload.clients", 2, "out of range: expected 1 to 1000000"},
      {"too many clients", "[workload]\nclients = 1000001\n", "workload.clients", 2, "out of range"},
      {"too many servers", "servers = 65\n", "servers", 1, "expected 0 to 64"},
      {"unknown link", "[network]\nlink = \"tcp\"\n", "network.link", 2, "expected one of stream, datagram"},
      {"unknown jitter", "[backoff]\njitter = \"ful\"\n", "backoff.jitter", 2,
       "expected one of none, full, equal, decorrelated, proportional"},
      {"unknown policy", "[backoff]\npolicy = \"linear\"\n", "backoff.policy", 2, "none, fixed, exponential"},
      {"unknown fault kind", "[[fault]]\nkind = \"meteor\"\nat = \"1s\"\n", "fault[0].kind", 2,
       "unknown value \"meteor\": expected one of partition, crash"},
      {"unknown shape", "[[fault]]\nkind = \"partition\"\nshape = \"triangle\"\n", "fault[0].shape", 3,
       "isolate, halves, isolate_servers, bridge, one_way"},
      {"unknown target", "[[fault]]\nkind = \"reset\"\nat = \"1s\"\ntarget = \"everyone\"\n", "fault[0].target", 4,
       "unknown target \"everyone\""},
      {"unknown distribution", "[workload]\ndistribution = \"zipf\"\n", "workload.distribution", 2, "uniform, hot"},
      {"unknown invariant", "[invariants]\ncheck = [\"convergence\", \"liveness\"]\n", "invariants.check", 2,
       "unknown value \"liveness\""},
      {"unknown data type", "data_type = \"graph\"\n", "data_type", 1, "map, list, counter, text"},
      {"latency min above median", "[network]\nlatency = { min = \"50ms\", median = \"30ms\", p99 = \"90ms\" }\n",
       "network.latency.min", 2, "min is above median"},
      {"latency median above p99", "[network]\nlatency = { min = \"5ms\", median = \"30ms\", p99 = \"20ms\" }\n",
       "network.latency.p99", 2, "p99 is below median"},
      {"target beyond the clients", "[workload]\nclients = 3\n[[fault]]\nkind = \"crash\"\nat = \"1s\"\n"
       "duration = \"2s\"\ntarget = \"client:3\"\n", "fault[0].target", 7, "client:3 does not exist"},
      {"target beyond the servers", "[[fault]]\nkind = \"crash\"\nat = \"1s\"\nduration = \"2s\"\ntarget = \"server:1\"\n",
       "fault[0].target", 5, "server:1 does not exist"},
      {"latency fault without amount", "[[fault]]\nkind = \"latency\"\nat = \"1s\"\nduration = \"5s\"\ntarget = \"all\"\n",
       "fault[0].amount", 1, "a latency fault needs amount"},
      {"drop fault without rate", "[[fault]]\nkind = \"drop\"\nat = \"1s\"\nduration = \"5s\"\ntarget = \"all\"\n",
       "fault[0].rate", 1, "a drop fault needs rate"},
      {"target on a bridge partition", "[[fault]]\nkind = \"partition\"\nshape = \"bridge\"\nat = \"1s\"\n"
       "duration = \"2s\"\ntarget = \"client:0\"\n", "fault[0].target", 6, "does not apply to a bridge partition"},
      {"partition of every client with no servers", "servers = 0\n[[fault]]\nkind = \"partition\"\nat = \"1s\"\n"
       "duration = \"2s\"\ntarget = \"clients\"\n", "fault[0].target", 6, "the other side would be empty"},
      {"partition of the only node", "servers = 0\n[workload]\nclients = 1\n[[fault]]\nkind = \"partition\"\n"
       "at = \"1s\"\nduration = \"2s\"\ntarget = \"client:0\"\n", "fault[0].target", 8, "needs two nodes"},
      {"isolate_servers with no servers", "servers = 0\n[[fault]]\nkind = \"partition\"\nshape = \"isolate_servers\"\n"
       "at = \"1s\"\nduration = \"2s\"\n", "fault[0].shape", 4, "needs servers, and this scenario has none"},
      {"bridge with two nodes", "[workload]\nclients = 1\n[[fault]]\nkind = \"partition\"\nshape = \"bridge\"\n"
       "at = \"1s\"\nduration = \"2s\"\n", "fault[0].shape", 5, "three nodes, and this scenario has 2"},
      {"partitions in a one-node swarm", "servers = 0\n[workload]\nclients = 1\n[swarm]\nenabled = true\n"
       "kinds = [\"partition\", \"crash\"]\n", "swarm.kinds", 6, "needs two nodes"},
      {"malicious fault with no servers", "servers = 0\n[[fault]]\nkind = \"malicious\"\nat = \"1s\"\nduration = \"3s\"\n"
       "amount = \"100ms\"\nbytes = \"1KB\"\ntarget = \"client:0\"\n", "fault[0].kind", 3, "and this scenario has none"},
      {"malicious swarm with no servers", "servers = 0\n[swarm]\nenabled = true\nkinds = [\"malicious\", \"crash\"]\n",
       "swarm.kinds", 4, "and this scenario has none"},
      {"shape on a crash", "[[fault]]\nkind = \"crash\"\nat = \"1s\"\nshape = \"halves\"\n", "fault[0].shape", 4,
       "does not apply to a crash fault"},
      {"negative start", "[[fault]]\nkind = \"reset\"\nat = \"-1s\"\ntarget = \"all\"\n", "fault[0].at", 3,
       "cannot start before the run"},
      {"swarm with no kinds", "[swarm]\nenabled = true\n", "swarm.kinds", 1, "no fault kinds"},
      {"bound longer than settle", "[invariants]\nsettle = \"10s\"\nconvergence_bound = \"20s\"\n",
       "invariants.convergence_bound", 3, "longer than settle"},
      {"metadata growth below one", "[invariants]\nmetadata_growth = 0.5\n", "invariants.metadata_growth", 2,
       "0.5 is out of range: expected 1 to 1000"},
      {"metadata growth as a string", "[invariants]\nmetadata_growth = \"150%\"\n", "invariants.metadata_growth", 2,
       "expected a number, got a string"},
      {"negative metadata growth floor", "[invariants]\nsettle = \"20s\"\nmetadata_growth_min = -1\n",
       "invariants.metadata_growth_min", 3, "a size cannot be negative"},
      {"metadata growth floor in an unknown unit", "[invariants]\nmetadata_growth_min = \"4 pages\"\n",
       "invariants.metadata_growth_min", 2, "unknown size unit"},
      {"shares above one", "[workload]\nremove_share = 0.6\nupdate_share = \"50%\"\n", "workload.update_share", 3,
       "above 1"},
      {"offline min above max", "[workload]\noffline_clients = 0.5\noffline = { min = \"30s\", max = \"20s\" }\n",
       "workload.offline.min", 3, "offline min is above max"},
      {"more hot keys than keys", "[workload]\nkeys = 3\ndistribution = \"hot\"\nhot_keys = 4\n", "workload.hot_keys", 4,
       "hot_keys (4) is above keys (3)"},
      {"crash of every node", "[[fault]]\nkind = \"crash\"\nat = \"1s\"\nduration = \"1s\"\ntarget = \"all\"\n",
       "fault[0].target", 5, "nothing to converge"},
      {"crash point of every node", "[[fault]]\nkind = \"crash_after_flush\"\nat = \"1s\"\nduration = \"1s\"\ntarget = \"all\"\n",
       "fault[0].target", 5, "nothing to converge"},
      {"crash point with no window", "[[fault]]\nkind = \"crash_after_flush\"\nat = \"1s\"\nduration = \"0s\"\ntarget = \"server:0\"\n",
       "fault[0].duration", 4, "must be longer than zero"},
      {"fault given as a table", "[fault]\nkind = \"crash\"\n", "fault", 1, "expected [[fault]] entries"},
      {"randomization without proportional jitter", "[backoff]\njitter = \"full\"\nrandomization = 0.3\n",
       "backoff.randomization", 3, "applies only to jitter = \"proportional\""},
      {"backoff base above max", "[backoff]\nbase = \"10s\"\nmax = \"1s\"\n", "backoff.max", 3, "max is below base"},
      {"offline fault on a server", "[[fault]]\nkind = \"offline\"\nat = \"1s\"\nduration = \"3s\"\ntarget = \"server:0\"\n",
       "fault[0].target", 5, "only clients go offline"},
      {"malicious fault on a server", "[[fault]]\nkind = \"malicious\"\nat = \"1s\"\nduration = \"3s\"\namount = \"100ms\"\n"
       "bytes = \"1KB\"\ntarget = \"server:0\"\n", "fault[0].target", 7, "turns one client hostile: target client:N"},
      {"malicious fault on every client", "[[fault]]\nkind = \"malicious\"\nat = \"1s\"\nduration = \"3s\"\namount = \"100ms\"\n"
       "bytes = \"1KB\"\ntarget = \"clients\"\n", "fault[0].target", 7, "or random_client"},
      {"malicious fault without a gap", "[[fault]]\nkind = \"malicious\"\nat = \"1s\"\nduration = \"3s\"\nbytes = \"1KB\"\n"
       "target = \"client:0\"\n", "fault[0].amount", 1, "a malicious fault needs amount (the gap between hostile messages"},
      {"malicious fault with a zero gap", "[[fault]]\nkind = \"malicious\"\nat = \"1s\"\nduration = \"3s\"\namount = \"0\"\n"
       "bytes = \"1KB\"\ntarget = \"client:0\"\n", "fault[0].amount", 5, "zero"},
      {"malicious messages beyond the bound", "[[fault]]\nkind = \"malicious\"\nat = \"1s\"\nduration = \"3s\"\n"
       "amount = \"100ms\"\nbytes = \"20MB\"\ntarget = \"client:0\"\n", "fault[0].bytes", 6, "from 64B to 16MB, got 20000000B"},
      {"malicious messages too small", "[[fault]]\nkind = \"malicious\"\nat = \"1s\"\nduration = \"3s\"\n"
       "amount = \"100ms\"\nbytes = \"10B\"\ntarget = \"client:0\"\n", "fault[0].bytes", 6, "from 64B to 16MB"},
      {"malicious fault with a rate", "[[fault]]\nkind = \"malicious\"\nat = \"1s\"\nduration = \"3s\"\n"
       "amount = \"100ms\"\nbytes = \"1KB\"\nrate = 0.5\ntarget = \"client:0\"\n", "fault[0].rate", 7, "does not apply to a malicious fault"},
      {"rate with no unit", "[workload]\nrate = \"2\"\n", "workload.rate", 2, "expected a rate like \"2/s\""},
      {"boolean given as a string", "[persistence]\nclient = \"yes\"\n", "persistence.client", 2,
       "expected true or false, got a string"},
  };
  REQUIRE(mistakes.size() >= 15);
  for (const Mistake& m : mistakes) {
    DYNAMIC_SECTION(m.what) {
      InputError e = parse_error(m.text);
      CHECK(e.file == "test.toml");
      CHECK(e.key == m.key);
      CHECK(e.line == m.line);
      CHECK(e.column > 0);
      CHECK_THAT(e.message, Catch::Contains(m.fragment));
    }
  }
}

TEST_CASE("every unknown key of a file is named in one message, fault keys included", "[scenario]") {
  InputError e = parse_error(
      "servers = 1\n"
      "[[fault]]\n"
      "kind = \"latency\"\n"
      "at = \"1s\"\n"
      "amout = \"200ms\"\n"
      "[workload]\n"
      "clientz = 3\n");
  CHECK(e.key == "fault[0].amout");
  CHECK(e.line == 5);
  CHECK(e.column == 1);
  CHECK_THAT(e.message, Catch::Contains("did you mean 'amount'"));
  CHECK_THAT(e.message, Catch::Contains("1 more unknown key: workload.clientz (line 7)"));
}

TEST_CASE("an unknown key in a later fault is named with that fault's index", "[scenario]") {
  InputError e = parse_error(
      "[[fault]]\nkind = \"reset\"\nat = \"1s\"\ntarget = \"all\"\n"
      "[[fault]]\nkind = \"reset\"\nat = \"2s\"\ntarget = \"all\"\nwhen = \"3s\"\n");
  CHECK(e.key == "fault[1].when");
  CHECK(e.line == 9);
  CHECK_THAT(e.message, Catch::Contains("accepted here: kind, at, duration, target"));
}

TEST_CASE("a syntax error names the line and column of the mistake", "[scenario]") {
  InputError e = parse_error("servers = 1\n[network\nlink = \"stream\"\n");
  CHECK(e.line == 2);
  CHECK(e.column > 0);
  CHECK(e.key.empty());
  CHECK_THAT(e.message, Catch::StartsWith("invalid TOML"));
}

TEST_CASE("a missing file is an input error, not an exception", "[scenario]") {
  Result<Scenario> r = load_scenario("/nonexistent/nowhere.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().file == "/nonexistent/nowhere.toml");
  CHECK(r.error().message == "no such file");
}

TEST_CASE("an input error prints as file:line:column: key: message, a flag's as command line: flag: message", "[scenario]") {
  InputError e{"a.toml", 3, 7, "network.drop", "out of range"};
  CHECK(e.to_string() == "a.toml:3:7: key 'network.drop': out of range");
  InputError no_key{"a.toml", 0, 0, "", "no such file"};
  CHECK(no_key.to_string() == "a.toml: no such file");
  InputError flag{"", 0, 0, "--shard", "expected K/N with 1 <= K <= N, got \"3/2\""};
  CHECK(flag.to_string() == "command line: flag '--shard': expected K/N with 1 <= K <= N, got \"3/2\"");
}

TEST_CASE("durations, sizes and rates parse in every unit", "[scenario]") {
  CHECK(parse_duration("500us").value() == Duration::micros(500));
  CHECK(parse_duration("40ms").value() == Duration::millis(40));
  CHECK(parse_duration("30s").value() == Duration::seconds(30));
  CHECK(parse_duration("2m").value() == Duration::seconds(120));
  CHECK(parse_duration("1h").value() == Duration::seconds(3600));
  CHECK(parse_duration("1.5s").value() == Duration::millis(1500));
  CHECK(parse_duration("-2s").value() == Duration::seconds(-2));
  CHECK(parse_duration("0").value() == Duration::zero());
  CHECK_FALSE(parse_duration("0.5us").ok());
  CHECK_FALSE(parse_duration("40").ok());
  CHECK_FALSE(parse_duration("ms").ok());
  CHECK_FALSE(parse_duration("40 ms").ok());

  CHECK(parse_bytes("64B").value() == 64);
  CHECK(parse_bytes("10KB").value() == 10'000);
  CHECK(parse_bytes("1MB").value() == 1'000'000);
  CHECK(parse_bytes("2GB").value() == 2'000'000'000);
  CHECK(parse_bytes("1.5KB").value() == 1'500);
  CHECK(parse_bytes("4096").value() == 4096);
  CHECK_FALSE(parse_bytes("10KiB").ok());

  CHECK(parse_ok("[workload]\nrate = \"2/s\"\n").workload.think_time_mean == Duration::millis(500));
  CHECK(parse_ok("[workload]\nrate = \"30/m\"\n").workload.think_time_mean == Duration::seconds(2));
  CHECK(parse_ok("[workload]\nrate = \"0.5/s\"\n").workload.think_time_mean == Duration::seconds(2));
  CHECK(parse_ok("[workload]\nthink_time = \"250ms\"\n").workload.think_time_mean == Duration::millis(250));
  CHECK(parse_ok("[network]\nbandwidth = \"1MB/s\"\n").network.bandwidth_bytes_per_s == 1'000'000);
  CHECK(parse_ok("[network]\nbandwidth = \"unlimited\"\n").network.bandwidth_bytes_per_s == 0);
}

TEST_CASE("durations written in any unit read back as the same microseconds", "[scenario]") {
  rc::prop("n units parse to n times the unit", [] {
    const std::int64_t n = *rc::gen::inRange<std::int64_t>(0, 1'000'000);
    using Unit = std::pair<const char*, std::int64_t>;
    const Unit unit = *rc::gen::element(Unit{"us", 1}, Unit{"ms", 1'000}, Unit{"s", 1'000'000},
                                        Unit{"m", 60'000'000}, Unit{"h", 3'600'000'000});
    Result<Duration> d = parse_duration(fmt::format("{}{}", n, unit.first));
    RC_ASSERT(d.ok());
    RC_ASSERT(d.value().us == n * unit.second);
  });
}

TEST_CASE("probabilities accept a fraction or a percentage and are stored in ppm", "[scenario]") {
  Scenario s = parse_ok("[network]\ndrop = 0.25\nduplicate = \"5%\"\nreorder = \"0.5%\"\n");
  CHECK(s.network.drop == 250'000);
  CHECK(s.network.duplicate == 50'000);
  CHECK(s.network.reorder == 5'000);
  CHECK(parse_ok("[network]\ndrop = 0\n").network.drop == 0);
}

TEST_CASE("a backoff preset applies and keys beside it override it", "[scenario]") {
  Scenario s = parse_ok("[backoff]\npreset = \"socket.io\"\nmax = \"30s\"\n");
  const BackoffOptions& b = s.network.backoff;
  CHECK(b.policy == BackoffPolicy::exponential);
  CHECK(b.base == Duration::seconds(1));
  CHECK(b.max == Duration::seconds(30));
  CHECK(b.multiplier_milli == 2'000);
  CHECK(b.jitter == Jitter::proportional);
  CHECK(b.randomization == 500'000);

  Scenario g = parse_ok("[backoff]\npreset = \"grpc\"\nrandomization = \"10%\"\n");
  CHECK(g.network.backoff.multiplier_milli == 1'600);
  CHECK(g.network.backoff.max == Duration::seconds(120));
  CHECK(g.network.backoff.randomization == 100'000);

  InputError e = parse_error("[backoff]\npreset = \"okhttp\"\n");
  CHECK(e.key == "backoff.preset");
  CHECK_THAT(e.message, Catch::Contains("socket.io, grpc"));
}

TEST_CASE("a latency given as one duration is a fixed delay, and peer links follow it", "[scenario]") {
  Scenario s = parse_ok("[network]\nlatency = \"40ms\"\n");
  CHECK(s.network.latency.min == Duration::millis(40));
  CHECK(s.network.latency.p99 == Duration::millis(40));
  CHECK(s.network.peer_latency.median == Duration::millis(40));
  CHECK(s.network.server_latency.median == NetworkOptions{}.server_latency.median);  // the datacenter default stands

  InputError e = parse_error("[network]\nlatency = { min = \"5ms\", median = \"30ms\" }\n");
  CHECK(e.key == "network.latency");
  CHECK_THAT(e.message, Catch::Contains("missing 'p99'"));
}

TEST_CASE("a file that sets every key loads every value", "[scenario]") {
  Scenario s = parse_ok(R"(
name = "everything"
description = "sets every key once"
data_type = "list"
servers = 2
[network]
link = "datagram"
latency = { min = "1ms", median = "2ms", p99 = "3ms" }
peer_latency = { min = "4ms", median = "5ms", p99 = "6ms" }
server_latency = { min = "7us", median = "8us", p99 = "9us" }
bandwidth = "2MB/s"
drop = 0.01
duplicate = 0.02
reorder = 0.03
reorder_delay = "11ms"
dead_connection_timeout = "12s"
connect_timeout = "13s"
assignment = "random"
[backoff]
policy = "fixed"
base = "100ms"
max = "200ms"
jitter = "proportional"
randomization = 0.3
jitter_first_attempt = false
[clocks]
skew = "2s"
drift_ppm = 50
[persistence]
client = true
server = false
lose_unflushed = true
[workload]
clients = 7
rate = "4/s"
duration = "45s"
keys = 20
distribution = "hot"
hot_keys = 3
hot_share = 0.9
remove_share = 0.1
update_share = 0.2
decrement_share = 0.3
offline_clients = 0.4
offline = { min = "1s", max = "2s" }
[[fault]]
kind = "partition"
at = "1s"
duration = "2s"
target = "server:1"
shape = "one_way"
[[fault]]
kind = "slicer"
at = "3s"
duration = "4s"
target = "random_client"
amount = "5ms"
bytes = "1KB"
[[fault]]
kind = "reorder"
at = "5s"
duration = "1s"
target = "clients"
rate = "30%"
[[fault]]
kind = "clock_jump"
at = "6s"
target = "client:6"
amount = "-3s"
[swarm]
enabled = true
kinds = ["crash", "latency"]
max_faults = 2
max_fault_duration = "9s"
[invariants]
check = ["convergence", "silent-rollback"]
settle = "30s"
convergence_bound = "25s"
metadata_max = "2MB"
metadata_growth = 2.25
metadata_growth_min = "4KB"
)");
  CHECK(s.name == "everything");
  CHECK(s.description == "sets every key once");
  CHECK(s.data_type == DataType::list);
  CHECK(s.servers == 2);
  CHECK(s.network.client_link == LinkKind::datagram);
  CHECK(s.network.latency.p99 == Duration::millis(3));
  CHECK(s.network.peer_latency.min == Duration::millis(4));
  CHECK(s.network.server_latency.median == Duration::micros(8));
  CHECK(s.network.bandwidth_bytes_per_s == 2'000'000);
  CHECK(s.network.drop == 10'000);
  CHECK(s.network.duplicate == 20'000);
  CHECK(s.network.reorder == 30'000);
  CHECK(s.network.reorder_delay == Duration::millis(11));
  CHECK(s.network.dead_connection_timeout == Duration::seconds(12));
  CHECK(s.network.connect_timeout == Duration::seconds(13));
  CHECK(s.network.assignment == ServerAssignment::random);
  CHECK(s.network.backoff.policy == BackoffPolicy::fixed);
  CHECK(s.network.backoff.base == Duration::millis(100));
  CHECK(s.network.backoff.max == Duration::millis(200));
  CHECK(s.network.backoff.jitter == Jitter::proportional);
  CHECK(s.network.backoff.randomization == 300'000);
  CHECK_FALSE(s.network.backoff.jitter_first_attempt);
  CHECK(s.clocks.skew_max == Duration::seconds(2));
  CHECK(s.clocks.drift_ppm_max == 50);
  CHECK(s.persistence.client);
  CHECK_FALSE(s.persistence.server);
  CHECK(s.persistence.lose_unflushed);
  CHECK(s.workload.clients == 7);
  CHECK(s.workload.think_time_mean == Duration::millis(250));
  CHECK(s.workload.duration == Duration::seconds(45));
  CHECK(s.workload.keys == 20);
  CHECK(s.workload.distribution == KeyDistribution::hot);
  CHECK(s.workload.hot_keys == 3);
  CHECK(s.workload.hot_share == 900'000);
  CHECK(s.workload.remove_share == 100'000);
  CHECK(s.workload.update_share == 200'000);
  CHECK(s.workload.decrement_share == 300'000);
  CHECK(s.workload.offline_clients == 400'000);
  CHECK(s.workload.offline_min == Duration::seconds(1));
  CHECK(s.workload.offline_max == Duration::seconds(2));
  REQUIRE(s.faults.size() == 4);
  CHECK(s.faults[0].shape == PartitionShape::one_way);
  CHECK(s.faults[0].target == Target{Target::Kind::server, 1});
  CHECK(s.faults[0].line == 46);  // the first [[fault]] header, counting from the raw string's first line
  CHECK(s.faults[1].bytes == 1'000);
  CHECK(s.faults[1].amount == Duration::millis(5));
  CHECK(s.faults[1].target.kind == Target::Kind::random_client);
  CHECK(s.faults[2].ppm == 300'000);
  CHECK(s.faults[3].amount == Duration::seconds(-3));
  CHECK(s.faults[3].duration == Duration::zero());
  CHECK(s.faults[3].at == Instant::start() + Duration::seconds(6));
  CHECK(s.swarm.enabled);
  CHECK(s.swarm.kinds == std::vector<FaultKind>{FaultKind::crash, FaultKind::latency});
  CHECK(s.swarm.max_faults == 2);
  CHECK(s.swarm.max_fault_duration == Duration::seconds(9));
  CHECK(s.invariants.enabled == std::vector<Invariant>{Invariant::convergence, Invariant::silent_rollback});
  CHECK(s.invariants.settle == Duration::seconds(30));
  CHECK(s.invariants.convergence_bound == Duration::seconds(25));
  CHECK(s.invariants.metadata_bytes_max == 2'000'000);
  CHECK(s.invariants.metadata_growth_milli_max == 2'250);
  CHECK(s.invariants.metadata_growth_bytes_min == 4'000);
}

TEST_CASE("a crash loses unflushed writes unless the scenario says it is a process's crash", "[scenario]") {
  // Unset: a machine's crash wherever a store persists (the server's, by default).
  CHECK(parse_ok("").persistence.lose_unflushed);
  CHECK(parse_ok("[persistence]\nclient = true\n").persistence.lose_unflushed);
  CHECK(parse_ok("[persistence]\nserver = false\nclient = true\n").persistence.lose_unflushed);
  // Nothing persists: nothing is flushed, so nothing to lose, and no error for a key never written.
  CHECK_FALSE(parse_ok("[persistence]\nserver = false\n").persistence.lose_unflushed);
  // Said: as said.
  CHECK_FALSE(parse_ok("[persistence]\nlose_unflushed = false\n").persistence.lose_unflushed);
  CHECK(parse_ok("[persistence]\nserver = true\nlose_unflushed = true\n").persistence.lose_unflushed);
  const InputError e = parse_error("[persistence]\nserver = false\nlose_unflushed = true\n");
  CHECK(e.key == "persistence.lose_unflushed");
}

TEST_CASE("an empty file gives the documented defaults and the file's stem as name", "[scenario]") {
  Result<Scenario> r = parse_scenario("", "dir/my-scenario.toml");
  REQUIRE(r.ok());
  CHECK(r.value().name == "my-scenario");
  CHECK(r.value().file == "dir/my-scenario.toml");
  CHECK(r.value().workload.clients == WorkloadOptions{}.clients);
  CHECK(r.value().invariants.enabled.size() == std::size(kAllInvariants));
  CHECK(r.value().faults.empty());
  CHECK(r.value().invariants.metadata_growth_milli_max == 1'500);
  CHECK(r.value().invariants.metadata_growth_bytes_min == 1'024);
}

TEST_CASE("every shipped scenario loads and can settle", "[scenario]") {
  std::vector<std::string> files = scenario_files_in(shipped_scenario_dir());
  REQUIRE(files.size() >= 8);
  CHECK(std::is_sorted(files.begin(), files.end()));
  for (const std::string& file : files) {
    DYNAMIC_SECTION(file) {
      Result<Scenario> r = load_scenario(file);
      if (!r) FAIL(r.error().to_string());
      const Scenario& s = r.value();
      CHECK(s.name == std::filesystem::path(file).stem().string());
      CHECK_FALSE(s.description.empty());
      CHECK(s.invariants.convergence_bound <= s.invariants.settle);
      Instant last_heal = Instant::start() + s.workload.duration + s.invariants.settle;
      for (const FaultSpec& f : s.faults) CHECK(f.at + f.duration <= last_heal);
      // Shipped runs stay small so that one seed simulates in milliseconds.
      CHECK(s.workload.duration <= Duration::seconds(60));
    }
  }
}

TEST_CASE("the shipped scenario folder can be moved with SYNCSTORM_SCENARIOS", "[scenario]") {
  // Whatever the caller's environment says is put back afterwards.
  const char* outer = std::getenv("SYNCSTORM_SCENARIOS");
  const std::string saved = outer ? outer : "";
  const std::string before = shipped_scenario_dir();
  ::setenv("SYNCSTORM_SCENARIOS", "/somewhere/else", 1);
  CHECK(shipped_scenario_dir() == "/somewhere/else");
  ::unsetenv("SYNCSTORM_SCENARIOS");
  CHECK(std::filesystem::exists(shipped_scenario_dir() + "/quiet.toml"));
  if (outer) ::setenv("SYNCSTORM_SCENARIOS", saved.c_str(), 1);
  CHECK(shipped_scenario_dir() == before);
}

TEST_CASE("the example in scenarios/README.md loads", "[scenario]") {
  std::ifstream in(testing::source_path("scenarios/README.md"));
  REQUIRE(in);
  std::string line, example;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line == "```toml") inside = true;
    else if (inside && line == "```") break;
    else if (inside) example += line + "\n";
  }
  REQUIRE_FALSE(example.empty());
  Result<Scenario> r = parse_scenario(example, "README.md");
  if (!r) FAIL(r.error().to_string());
  CHECK(r.value().network.backoff.max == Duration::seconds(10));
}

TEST_CASE("no text makes the loader throw: every outcome is a scenario or an input error", "[scenario]") {
  rc::prop("arbitrary text", [](const std::string& text) {
    Result<Scenario> r = parse_scenario(text, "fuzz.toml");
    // Computed first: RC_ASSERT decomposes its expression and would not short-circuit.
    const bool explained = r.ok() || !r.error().message.empty();
    RC_ASSERT(explained);
  });
  rc::prop("a valid file with one line replaced by a random key and value", [] {
    const std::vector<std::string> lines = {"servers = 1", "[network]", "latency = \"30ms\"", "[workload]",
                                            "clients = 4", "[[fault]]", "kind = \"reset\"", "at = \"1s\"",
                                            "target = \"all\"", "[invariants]", "settle = \"10s\""};
    const auto index = *rc::gen::inRange<std::size_t>(0, lines.size());
    const std::string key = *rc::gen::element<std::string>("kind", "at", "duration", "target", "shape", "amount",
                                                           "bytes", "rate", "clients", "settle", "drop", "min");
    const std::string value = *rc::gen::element<std::string>("0", "-1", "1.5", "true", "\"5%\"", "\"-2s\"",
                                                             "\"client:9\"", "\"halves\"", "{ min = \"1s\" }", "[]");
    std::string text;
    for (std::size_t i = 0; i < lines.size(); ++i) text += (i == index ? key + " = " + value : lines[i]) + "\n";
    Result<Scenario> r = parse_scenario(text, "mutant.toml");
    // A mistake always points into the file, never at line 0.
    const bool located = r.ok() || r.error().line >= 1;
    RC_ASSERT(located);
  });
}

namespace {

/// The keys the first table under each "### " heading of scenarios/README.md documents, by section.
std::map<std::string, std::set<std::string>> documented_keys() {
  std::ifstream in(testing::source_path("scenarios/README.md"));
  std::map<std::string, std::set<std::string>> out;
  std::string line, section;
  bool in_section = false, in_table = false, table_done = false;
  while (std::getline(in, line)) {
    if (line.starts_with("### ")) {
      // "### `[network]`: ..." or "### `[[fault]]`: ..." or "### Top level"; a table is also a top-level key.
      const auto open = line.find_first_not_of("`[", line.find('`'));
      section = line.find("Top level") != std::string::npos ? "" : line.substr(open, line.find(']') - open);
      if (!section.empty()) out[""].insert(section);
      in_section = true;
      in_table = table_done = false;
      continue;
    }
    if (in_table && !line.starts_with("|")) table_done = true;
    if (line.starts_with("|")) in_table = true;
    if (!in_section || table_done || !line.starts_with("| `")) continue;
    out[section].insert(line.substr(3, line.find('`', 3) - 3));
  }
  return out;
}

/// The keys the loader accepts in a section, read back from its unknown-key message.
std::set<std::string> accepted_keys(const std::string& section) {
  const std::string header = section.empty() ? "" : section == "fault" ? "[[fault]]\n" : "[" + section + "]\n";
  InputError e = parse_error(header + "zzz_not_a_key = 1\n");
  const std::string marker = "accepted here: ";
  std::string list = e.message.substr(e.message.find(marker) + marker.size());
  std::set<std::string> keys;
  for (std::size_t start = 0; start < list.size();) {
    std::size_t end = list.find(", ", start);
    keys.insert(list.substr(start, end == std::string::npos ? std::string::npos : end - start));
    start = end == std::string::npos ? list.size() : end + 2;
  }
  return keys;
}

}  // namespace

TEST_CASE("scenarios/README.md documents exactly the keys the loader accepts", "[scenario]") {
  const std::map<std::string, std::set<std::string>> docs = documented_keys();
  const std::vector<std::string> sections = {"",         "network", "backoff", "clocks",    "persistence",
                                             "workload", "fault",   "swarm",   "invariants"};
  REQUIRE(docs.size() == sections.size());
  for (const std::string& section : sections) {
    DYNAMIC_SECTION("section '" << section << "'") {
      REQUIRE(docs.count(section) == 1);
      CHECK(docs.at(section) == accepted_keys(section));
    }
  }
}

TEST_CASE("a scenario may name the models it is about, and only they fit it", "[scenario]") {
  auto ok = parse_scenario("models = [\"broker-map\", \"echo\"]\n", "about.toml");
  REQUIRE(ok.ok());
  REQUIRE(ok.value().models == std::vector<std::string>{"broker-map", "echo"});
  ModelInfo echo;
  echo.name = "echo";
  ModelInfo other;
  other.name = "lww-map";
  CHECK(fits(ok.value(), echo));
  CHECK_FALSE(fits(ok.value(), other));
  for (const char* bad : {"models = []\n", "models = [1]\n", "models = \"echo\"\n", "models = [\"echo\", \"echo\"]\n"}) {
    auto r = parse_scenario(bad, "bad.toml");
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().key == "models");
    CHECK(r.error().line == 1);
  }
}

TEST_CASE("every model a shipped scenario names exists", "[scenario]") {
  const ModelRegistry models = shipped_models();
  for (const std::string& file : scenario_files_in(shipped_scenario_dir())) {
    auto s = load_scenario(file);
    REQUIRE(s.ok());
    for (const std::string& name : s.value().models) {
      INFO(file << " names " << name);
      CHECK(models.find(name) != nullptr);
    }
  }
}
