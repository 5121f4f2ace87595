// External replicas: real processes behind the Node interface. The fixture adapter (plain Node.js,
// no npm packages) checks the protocol and the error paths; the shipped Yjs and Automerge adapters
// run end to end on their npm packages (npm ci --prefix models/adapters/yjs, ...). Every test that needs
// Node.js is tagged [node] and fails where it is missing (tests/programs.hpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "models/external/external.hpp"
#include "sim/base/cpu_affinity.hpp"
#include "reports/report.hpp"
#include "sim/cli/commands.hpp"
#include "sim/engine/simulation.hpp"
#include "sim/sweep/check.hpp"
#include "sim/sweep/repro.hpp"
#include "sim/sweep/sweep.hpp"
#include "tests/printers.hpp"
#include "tests/models/external_support.hpp"
#include "tests/programs.hpp"
#include "tests/source_tree.hpp"

using namespace syncstorm;
using testing::converged;
using testing::count_applied;
using testing::quiet_scenario;
using testing::needs_adapter;
using testing::needs;
using testing::needs_node;

namespace {

RunResult run(const Scenario& scenario, const ModelInfo& model, std::uint64_t seed) {
  return testing::run_seed(scenario, model, seed);
}

/// A few clients, no faults: every correct model converges here.
Scenario quiet(std::uint32_t clients = 3) { return quiet_scenario("external-quiet", clients); }

const std::string kFixtures = testing::source_path("tests/models/adapters/");

/// The wall-clock limit for answers, set for one test and restored after it.
class TimeoutLimit {
 public:
  explicit TimeoutLimit(const char* ms) { ::setenv(kExternalTimeoutEnv, ms, 1); }
  ~TimeoutLimit() { ::unsetenv(kExternalTimeoutEnv); }
};

/// A client and then the server crash and restart from their stores; the client's store survives.
Scenario crashes() { return testing::crashes_scenario("external-crashes"); }

/// Peer-to-peer datagrams that reorder a lot but never lose: a replica that buffers converges.
Scenario reordering() {
  Scenario s = quiet(4);
  s.network.reorder = 400'000;
  s.network.reorder_delay = Duration::millis(200);
  return s;
}

ModelInfo fixture(const std::string& file) {
  auto model = describe_external("node " + kFixtures + file);
  INFO((model ? std::string() : model.error().message));
  REQUIRE(model.ok());
  return model.value();
}

}  // namespace

TEST_CASE("an adapter describes its model when named as external:COMMAND", "[external][node]") {
  if (!needs_node()) return;
  const ModelInfo model = fixture("fixture.js");
  CHECK(model.name == "external:node " + kFixtures + "fixture.js");
  CHECK(model.data_type == DataType::map);
  CHECK(model.topology == Topology::peer_to_peer);
  CHECK(model.external);
}

TEST_CASE("list --model external:COMMAND shows what an adapter declares and the scenarios it fits", "[external][node]") {
  // What a user wrapping their own sync code checks first: the adapter is started, asked to describe
  // itself, and its declaration printed as a shipped model's is.
  if (!needs_node()) return;
  const ModelInfo described = fixture("fixture.js");
  const auto [code, text] = testing::syncstorm_cli("list --json --model \"external:node " + kFixtures + "fixture.js\"");
  INFO(text);
  REQUIRE(code == 0);
  const auto listing = nlohmann::json::parse(text);
  REQUIRE(listing.at("models").size() == 1);
  const auto& m = listing.at("models").at(0);
  CHECK(m.at("name") == described.name);
  CHECK(m.at("topology") == "peer-to-peer");
  CHECK(m.at("external") == true);
  auto scenarios = shipped_scenarios();
  REQUIRE(scenarios);
  std::vector<std::string> expected;
  for (const Scenario& s : scenarios.value()) {
    if (fits(s, described)) expected.push_back(s.name);
  }
  CHECK(!expected.empty());
  CHECK(m.at("fits").get<std::vector<std::string>>() == expected);

  const auto [text_code, declaration] = testing::syncstorm_cli("list --model \"external:node " + kFixtures + "fixture.js\"");
  CHECK(text_code == 0);
  CHECK_THAT(declaration, Catch::Contains("[external process]") && Catch::Contains("peer-to-peer") && Catch::Contains("fits ("));

  // An adapter that cannot describe itself is bad input.
  const auto [bad_code, bad_text] = testing::syncstorm_cli("list --model \"external:node " + kFixtures + "no-such-adapter.js\"");
  INFO(bad_text);
  CHECK(bad_code == 2);
  CHECK_THAT(bad_text, !Catch::Contains("fits ("));
}

TEST_CASE("every shipped adapter's describe answer declares what its entry in the model table does",
          "[external][node]") {
  // The table is what the checkers judge a shipped model by: a promise or a deployment that only the
  // adapter declares would be silently dropped, and one only the table declares would be unmeant.
  if (!needs_node()) return;
  for (const ExternalSpec& spec : shipped_external_specs()) {
    if (!needs_adapter(std::filesystem::path(spec.package_dir).filename().string())) return;
    const ModelInfo shipped = external_model(spec);
    const auto described = describe_external(spec.command);
    INFO(spec.name << ": " << (described ? std::string() : described.error().message));
    REQUIRE(described.ok());
    const ModelInfo& d = described.value();
    CHECK(d.data_type == shipped.data_type);
    CHECK(d.topology == shipped.topology);
    CHECK(d.rule == shipped.rule);
    CHECK(d.breaks == shipped.breaks);
    CHECK(d.datagram_links == shipped.datagram_links);
    CHECK(d.multi_server == shipped.multi_server);
    CHECK(d.writes_follow_reads == shipped.writes_follow_reads);
    CHECK(d.writes_in_order == shipped.writes_in_order);
    CHECK(d.metadata_growth == shipped.metadata_growth);
  }
}

TEST_CASE("a command that is not an adapter is an input error naming what it did", "[external]") {
  const auto model = describe_external("sh -c 'echo not json'");
  REQUIRE_FALSE(model.ok());
  CHECK(model.error().key == "--model");
  CHECK_THAT(model.error().message, Catch::Contains("not protocol") && Catch::Contains("not json"));
}

TEST_CASE("the fixture adapter converges and one seed replays to the same trace hash", "[external][node]") {
  if (!needs_node()) return;
  const ModelInfo model = fixture("fixture.js");
  const Scenario scenario = reordering();
  const RunResult a = run(scenario, model, 7);
  const RunResult b = run(scenario, model, 7);
  INFO(a.aborted);
  REQUIRE(a.aborted.empty());
  CHECK(count_applied(a) > 0);
  CHECK(converged(a));
  CHECK(a.trace_hash == b.trace_hash);
}

TEST_CASE("parallel runs each get their own process and the hashes of sequential runs", "[external][node]") {
  if (!needs_node()) return;
  const ModelInfo model = fixture("fixture.js");
  const Scenario scenario = reordering();
  const std::function<std::uint64_t(std::size_t)> work = [&](std::size_t i) { return run(scenario, model, 100 + i).trace_hash; };
  const auto sequential = run_parallel<std::uint64_t>(4, 1, work);
  const auto parallel = run_parallel<std::uint64_t>(4, 4, work);
  CHECK(sequential == parallel);
  CHECK(std::set<std::optional<std::uint64_t>>(parallel.begin(), parallel.end()).size() == 4);
}

TEST_CASE("a seed run after another in one reused process gives the hash it gives alone", "[external][node]") {
  if (!needs_node()) return;
  const Scenario scenario = reordering();
  const ModelInfo reused = fixture("fixture2.js");
  const RunResult first = run(scenario, reused, 3);
  const RunResult after = run(scenario, reused, 4);
  const RunResult alone = run(scenario, fixture("fixture2.js"), 4);
  INFO(first.aborted << after.aborted << alone.aborted);
  REQUIRE(first.aborted.empty());
  REQUIRE(after.aborted.empty());
  CHECK(after.trace_hash == alone.trace_hash);
  CHECK(first.trace_hash != after.trace_hash);
}

TEST_CASE("an adapter that keeps state across a reset is caught by a seed run after another", "[external][node]") {
  if (!needs_node()) return;
  const Scenario scenario = reordering();
  const ModelInfo reused = fixture("leak.js");
  REQUIRE(run(scenario, reused, 3).aborted.empty());
  const RunResult after = run(scenario, reused, 4);
  const RunResult alone = run(scenario, fixture("leak.js"), 4);
  REQUIRE(after.aborted.empty());
  // This is the canary of the test above: the same comparison sees the leak, so the process was reused.
  CHECK(after.trace_hash != alone.trace_hash);
  // With a new process for every run the leak has nothing to carry.
  ::setenv(kExternalFreshEnv, "1", 1);
  REQUIRE(run(scenario, reused, 3).aborted.empty());
  const RunResult fresh = run(scenario, reused, 4);
  ::unsetenv(kExternalFreshEnv);
  CHECK(fresh.trace_hash == alone.trace_hash);
}

TEST_CASE("seeds in a forked child's reused process give the hashes they give alone", "[external][node]") {
  if (!needs_node()) return;
  const Scenario scenario = reordering();
  const ModelInfo model = fixture("fixture2.js");
  // The parent runs first, so an idle process of its own waits in the pool when the child forks:
  // the child must leave it alone and start its own.
  const std::uint64_t parent_hash = run(scenario, model, 20).trace_hash;
  const auto in_child = run_isolated({TaskRange{0, 3}}, IsolationOptions{1, 0}, [&](std::size_t i) {
    return std::to_string(run(scenario, model, 20 + i).trace_hash);
  });
  REQUIRE(in_child.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("seed " << 20 + i);
    REQUIRE(in_child[i].has_value());
    REQUIRE(std::holds_alternative<std::string>(*in_child[i]));
    CHECK(std::get<std::string>(*in_child[i]) == std::to_string(run(scenario, fixture("fixture2.js"), 20 + i).trace_hash));
  }
  // The parent's own idle process still serves it after the child is gone.
  CHECK(run(scenario, model, 20).trace_hash == parent_hash);
}

TEST_CASE("a reused adapter process that crashes is a finding of its run, and the next run starts a new one", "[external][node]") {
  if (!needs_node()) return;
  const Scenario scenario = quiet();
  const ModelInfo model = fixture("crash2.js");
  const RunResult crashed = run(scenario, model, 7);
  CHECK_THAT(crashed.aborted, Catch::Contains("exited with status 1"));
  CHECK_THAT(crashed.aborted, Catch::Contains("simulated library crash"));
  // Each run crashes the same way at its own fifth operation: nothing of the first run's process is left.
  const RunResult again = run(scenario, model, 7);
  CHECK(again.aborted == crashed.aborted);
}

TEST_CASE("an adapter that reads the real clock gives different trace hashes for one seed", "[external][node]") {
  if (!needs_node()) return;
  const ModelInfo model = fixture("clock.js");
  const Scenario scenario = quiet();
  const RunResult a = run(scenario, model, 7);
  const RunResult b = run(scenario, model, 7);
  REQUIRE(a.aborted.empty());
  CHECK(a.trace_hash != b.trace_hash);
}

TEST_CASE("an adapter that drops a message it cannot apply yet leaves replicas diverged", "[external][node]") {
  if (!needs_node()) return;
  const ModelInfo model = fixture("drop.js");
  const RunResult r = run(reordering(), model, 7);
  REQUIRE(r.aborted.empty());
  CHECK_FALSE(converged(r));
  const bool caught = std::any_of(r.violations.begin(), r.violations.end(),
                                  [](const Violation& v) { return v.invariant == Invariant::convergence; });
  CHECK(caught);
}

TEST_CASE("the correct fixture adapter passes every checker on the reordering network", "[external][node]") {
  if (!needs_node()) return;
  const RunResult r = run(reordering(), fixture("fixture.js"), 7);
  REQUIRE(r.aborted.empty());
  for (const Violation& v : r.violations) FAIL_CHECK(to_string(v.invariant) << ": " << v.detail);
}

TEST_CASE("an adapter that stops answering aborts the run with the replica and the last event", "[external][node]") {
  if (!needs_node()) return;
  // Long enough for Node.js to start and answer the events before the hang on a loaded machine (at
  // 1 s, a 2-core machine running ctest -j2 beside other work timed out on the start event instead).
  const TimeoutLimit limit("4000");
  const ModelInfo model = fixture("hang.js");
  const RunResult r = run(quiet(), model, 7);
  CHECK_THAT(r.aborted, Catch::Contains("no answer within 4000 ms"));
  CHECK_THAT(r.aborted, Catch::Contains("external replica"));
  CHECK_THAT(r.aborted, Catch::Contains("last event sent: {\"ev\":\"op\""));
}

TEST_CASE("an adapter whose process dies aborts the run with its exit status and stderr", "[external][node]") {
  if (!needs_node()) return;
  const ModelInfo model = fixture("crash.js");
  const RunResult r = run(quiet(), model, 7);
  CHECK_THAT(r.aborted, Catch::Contains("exited with status 1"));
  CHECK_THAT(r.aborted, Catch::Contains("simulated library crash"));
}

TEST_CASE("an exception in the library under test aborts the run as a finding quoting it", "[external][node]") {
  if (!needs_node()) return;
  const RunResult r = run(quiet(), fixture("throw.js"), 7);
  CHECK_THAT(r.aborted, Catch::Contains("the library under test failed"));
  CHECK_THAT(r.aborted, Catch::Contains("simulated library exception"));
}

TEST_CASE("an adapter that writes a line that is not protocol aborts the run quoting the line", "[external][node]") {
  if (!needs_node()) return;
  const ModelInfo model = fixture("garbage.js");
  const RunResult r = run(quiet(), model, 7);
  CHECK_THAT(r.aborted, Catch::Contains("not protocol"));
  CHECK_THAT(r.aborted, Catch::Contains("debug: applying op"));
}

namespace {

/// The CPUs the calling thread may run on.
std::set<int> cpus_now() {
  const std::vector<int> cpus = cpus_of_this_thread();
  return {cpus.begin(), cpus.end()};
}

/// A fixture adapter started through a shell that first appends the CPUs it may run on (the
/// Cpus_allowed_list line of /proc/self/status, which node inherits through exec) to `file`.
std::string cpu_reporting_fixture(const std::filesystem::path& file) {
  return "sh -c 'grep Cpus_allowed_list: /proc/self/status >> " + file.string() + "; exec node " + kFixtures + "fixture2.js'";
}

/// The CPUs of the last Cpus_allowed_list line in `file` ("Cpus_allowed_list:\t0-1,3").
std::set<int> last_cpu_list(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::string last;
  while (std::getline(in, line)) last = line;
  std::set<int> cpus;
  std::stringstream ranges(last.substr(last.find(':') + 1));
  std::string range;
  while (std::getline(ranges, range, ',')) {
    const auto dash = range.find('-');
    const int first = std::stoi(range.substr(0, dash));
    const int end = dash == std::string::npos ? first : std::stoi(range.substr(dash + 1));
    for (int cpu = first; cpu <= end; ++cpu) cpus.insert(cpu);
  }
  return cpus;
}

}  // namespace

TEST_CASE("an adapter process runs on the one CPU of its run, whose thread gets its CPUs back after", "[external][node]") {
  if (!needs_node()) return;
  const auto file = std::filesystem::temp_directory_path() / ("syncstorm-cpus-" + std::to_string(::getpid()) + ".txt");
  std::filesystem::remove(file);
  const std::set<int> before = cpus_now();
  const auto described = describe_external(cpu_reporting_fixture(file));
  INFO((described ? std::string() : described.error().message));
  REQUIRE(described.ok());
  const ModelInfo model = described.value();
  const RunResult r = run(quiet(), model, 1);
  INFO(r.aborted);
  REQUIRE(r.aborted.empty());
  CHECK(converged(r));
  CHECK(cpus_now() == before);
  const std::set<int> adapter = last_cpu_list(file);
  const char* unpinned = std::getenv(kExternalUnpinnedEnv);
  if (before.size() < 2 || (unpinned != nullptr && std::string_view(unpinned) == "1")) {
    CHECK(adapter == before);
  } else {
    REQUIRE(adapter.size() == 1);
    CHECK(before.count(*adapter.begin()) == 1);
  }
  std::filesystem::remove(file);
}

TEST_CASE("a sweep of one seed over eight scenarios starts an adapter process per chunk, not per scenario", "[external][node]") {
  if (!needs_node()) return;
  const auto file = std::filesystem::temp_directory_path() / ("syncstorm-starts-" + std::to_string(::getpid()) + ".txt");
  std::filesystem::remove(file);
  const auto described = describe_external(cpu_reporting_fixture(file));  // one start: the describe
  REQUIRE(described.ok());
  const ModelInfo model = described.value();
  std::vector<CheckTarget> targets;
  for (int i = 0; i < 8; ++i) targets.push_back(CheckTarget{reordering(), &model});
  CheckOptions options;
  options.seeds = SeedRange{1, 1};
  options.jobs = 2;
  options.progress = false;
  options.shrink_enabled = false;
  const CheckReport report = run_check(targets, {}, options);
  for (const TargetResult& t : report.targets) CHECK(t.failing_seeds == 0);
  std::ifstream in(file);
  std::size_t starts = 0;
  for (std::string line; std::getline(in, line);) ++starts;
  CHECK(starts == 5);  // the describe, then one a chunk of two scenarios; a process per scenario made 9
  std::filesystem::remove(file);
}

TEST_CASE("SYNCSTORM_EXTERNAL_UNPINNED=1 leaves the adapter process on every CPU", "[external][node]") {
  if (!needs_node()) return;
  const auto file = std::filesystem::temp_directory_path() / ("syncstorm-cpus-unpinned-" + std::to_string(::getpid()) + ".txt");
  std::filesystem::remove(file);
  ::setenv(kExternalUnpinnedEnv, "1", 1);
  const auto [status, output] = testing::syncstorm_cli("run quiet --seed 1 --model \"external:" + cpu_reporting_fixture(file) + "\"");
  ::unsetenv(kExternalUnpinnedEnv);
  INFO(output);
  REQUIRE(status == 0);
  CHECK(last_cpu_list(file) == cpus_now());
  std::filesystem::remove(file);
}

TEST_CASE("an event and an answer larger than the socket and pipe buffers go through whole", "[external][node]") {
  if (!needs_node()) return;
  // The client sends one 1 MiB message: its answer (1.4 MB of base64) takes many reads, and the
  // server's message event does not fit the socket at once, so its write waits for the adapter.
  const auto script = std::filesystem::temp_directory_path() / ("syncstorm-big-" + std::to_string(::getpid()) + ".js");
  {
    std::ofstream out(script);
    out << "'use strict';\n"
        << "const protocol = require('" << SYNCSTORM_SOURCE_DIR << "/models/adapters/lib/protocol');\n"
        << "const kBytes = 1 << 20;\n"
        << "protocol.serve({ description: 'one large message', data_type: 'counter', topology: 'client_server',\n"
        << "                 rule: 'last_writer_wins' }, (start) => ({\n"
        << "  received: 0,\n"
        << "  connected(event, out) { if (start.role === 'client') out.send(event.peer, Buffer.alloc(kBytes, 7)); },\n"
        << "  message(event) {\n"
        << "    const data = Buffer.from(event.data, 'base64');\n"
        << "    this.received = data.length === kBytes && data.every((b) => b === 7) ? data.length : -1;\n"
        << "  },\n"
        << "  state() { return { state: start.role === 'server' ? { type: 'counter', counter: this.received } : null }; },\n"
        << "}));\n";
  }
  const auto model = describe_external("node " + script.string());
  REQUIRE(model.ok());
  const RunResult r = run(quiet(1), model.value(), 3);
  std::filesystem::remove(script);
  INFO(r.aborted);
  REQUIRE(r.aborted.empty());
  const auto server = std::find_if(r.history.finals.begin(), r.history.finals.end(), [](const NodeFinal& f) { return f.server; });
  REQUIRE(server != r.history.finals.end());
  REQUIRE(server->state.has_value());
  CHECK(server->state->counter == 1 << 20);
}

TEST_CASE("the shipped Yjs and Automerge adapters converge and replay to the same trace hash", "[external][node]") {
  if (!needs_node()) return;
  const ModelRegistry registry = shipped_models();
  for (const char* name : {"yjs-list", "yjs-text", "automerge-map", "automerge-list"}) {
    const std::string adapter = std::string(name).starts_with("yjs") ? "yjs" : "automerge";
    if (!needs_adapter(adapter)) return;
    const ModelInfo* model = registry.find(name);
    REQUIRE(model != nullptr);
    // The second and third runs reuse the first one's process (the adapters speak version 2): a
    // seed gives the same hash after another seed as in a process of its own.
    const RunResult a = run(quiet(), *model, 11);
    const RunResult b = run(quiet(), *model, 11);
    const RunResult c = run(quiet(), *model, 12);
    const RunResult alone = run(quiet(), *shipped_models().find(name), 12);
    INFO(name << ": " << a.aborted);
    REQUIRE(a.aborted.empty());
    CHECK(count_applied(a) > 0);
    CHECK(converged(a));
    CHECK(a.violations.empty());
    CHECK(a.trace_hash == b.trace_hash);
    CHECK(c.trace_hash == alone.trace_hash);
    CHECK(c.trace_hash != a.trace_hash);
  }
}

TEST_CASE("the shipped adapters restart crashed replicas from their stores and converge", "[external][node]") {
  if (!needs_node()) return;
  const ModelRegistry registry = shipped_models();
  for (const char* name : {"yjs-list", "yjs-text", "automerge-map", "automerge-list"}) {
    const std::string adapter = std::string(name).starts_with("yjs") ? "yjs" : "automerge";
    if (!needs_adapter(adapter)) return;
    testing::check_restarts_and_converges(crashes(), *registry.find(name));
  }
}

TEST_CASE("a comparison report puts Yjs, Automerge and our own CRDTs side by side", "[external][reports][node]") {
  if (!needs_node()) return;
  if (!needs_adapter("yjs") || !needs_adapter("automerge")) return;
  const ModelRegistry registry = shipped_models();
  auto scenario = resolve_scenario("partition-heal");
  REQUIRE(scenario.ok());
  CompareOptions options;
  options.scenarios = {scenario.value()};
  for (const char* name : {"yjs-list", "automerge-list", "or-set-list"}) options.models.push_back(registry.find(name));
  REQUIRE(std::find(options.models.begin(), options.models.end(), nullptr) == options.models.end());
  options.seeds = 2;
  options.diagrams = false;
  const Comparison c = run_comparison(options);
  REQUIRE(c.scenarios.size() == 1);
  const ScenarioResult& s = c.scenarios.front();
  REQUIRE(s.cells.size() == 3);
  for (const Cell& cell : s.cells) {
    INFO(cell.model);
    CHECK(cell.violation_rate.runs == 2);
    CHECK(cell.violation_rate.hits == 0);
    CHECK(cell.aborted == 0);
  }
  // Every model stood, and the report names each in its table and decision summary.
  CHECK(s.decision.held.size() == 3);
  const std::string markdown = to_markdown(c);
  for (const char* name : {"yjs-list", "automerge-list", "or-set-list"}) CHECK(markdown.find(name) != std::string::npos);
}

TEST_CASE("a comparison report puts the production stacks beside our own CRDT", "[external][reports][node]") {
  // y-websocket's provider and server, automerge-repo's Repos, ShareDB's Backend and Connections,
  // Loro and TinyBase, each in its own cell of one report; the three that declare a broken
  // invariant are held to nothing else here (the adapter sweep holds them to the rest).
  if (!needs_node()) return;
  for (const char* folder : {"y-websocket", "automerge-repo", "sharedb", "loro", "tinybase"}) {
    if (!needs_adapter(folder)) return;
  }
  const ModelRegistry registry = shipped_models();
  auto scenario = resolve_scenario("wifi-drop");
  REQUIRE(scenario.ok());
  CompareOptions options;
  options.scenarios = {scenario.value()};
  const std::vector<std::string> names = {"yjs-ws-list", "automerge-repo-list", "sharedb-list", "loro-list", "tinybase-list", "or-set-list"};
  for (const std::string& name : names) options.models.push_back(registry.find(name));
  REQUIRE(std::find(options.models.begin(), options.models.end(), nullptr) == options.models.end());
  options.seeds = 1;
  options.diagrams = false;
  const Comparison c = run_comparison(options);
  REQUIRE(c.scenarios.size() == 1);
  const ScenarioResult& s = c.scenarios.front();
  REQUIRE(s.cells.size() == names.size());
  for (const Cell& cell : s.cells) {
    INFO(cell.model);
    CHECK(cell.violation_rate.runs == 1);
    CHECK(cell.aborted == 0);
    CHECK(cell.correct == (cell.model != "yjs-ws-list" && cell.model != "automerge-repo-list" && cell.model != "tinybase-list"));
    if (cell.correct) CHECK(cell.violation_rate.hits == 0);
  }
  const std::string markdown = to_markdown(c);
  for (const std::string& name : names) CHECK(markdown.find(name) != std::string::npos);
}

TEST_CASE("the pinned Automerge shows a value its own save does not hold after a sync message that follows applyChanges",
          "[external][node][automerge]") {
  // tests/models/adapters/automerge-sync-view.js replays the bytes one client received in the shrunk
  // failure below: the document shows key 5 = 4, its reloaded save 5 = 5, and so does its own state
  // read whole (toJS): the sync message's patches name a conflict on key 5 and no new value. The day
  // a release fixes it, this fails, and the finding (models/adapters/automerge/repros/README.md) is
  // to be revised.
  if (!needs_node() || !needs_adapter("automerge")) return;
  const std::string text = testing::adapter_script_output("automerge-sync-view.js", "automerge");
  INFO(text);
  CHECK(text ==
        "{\"shown\":{\"5\":4,\"7\":1,\"8\":3},\"reloaded\":{\"5\":5,\"7\":1,\"8\":3},\"agree\":false,"
        "\"toJS\":{\"5\":5,\"7\":1,\"8\":3},\"patches\":[{\"action\":\"conflict\",\"path\":[\"5\"]}]}\n");
}

TEST_CASE("automerge-list's shrunk failure replays: one replica ends apart, holding every change the others hold",
          "[external][node][automerge]") {
  // Shrunk from flaky-mobile seed 1 under --explore priority: a client reset while a concurrent
  // write and a remove of one item are on their way shows, after its next sync, the item's older
  // value for good, while every change is in its document.
  if (!needs_node() || !needs_adapter("automerge")) return;
  auto repro = load_repro(testing::source_path("models/adapters/automerge/repros/sync-after-changes-shows-stale-value.repro.toml"));
  INFO((repro ? std::string() : repro.error().message));
  REQUIRE(repro.ok());
  CHECK(size_of(repro.value().schedule).operations <= 12);
  const RunResult r = replay_repro(repro.value(), *shipped_models().find("automerge-list"));
  INFO(r.aborted);
  REQUIRE(r.aborted.empty());
  CHECK(r.trace_hash == repro.value().trace_hash);
  CHECK(std::any_of(r.violations.begin(), r.violations.end(), [](const Violation& v) {
    return v.invariant == Invariant::convergence && v.detail.find("item 5") != std::string::npos;
  }));
}
