// Space-time diagrams and charts: drawn from a real run's trace, with the violation's operations
// highlighted, and valid enough for a browser (checked in html_browser_test.cpp).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sys/wait.h>
#include <sstream>

#include "sim/engine/simulation.hpp"
#include "sim/scenario/scenario_file.hpp"
#include "tests/printers.hpp"
#include "tests/reports/small_comparison.hpp"

using namespace syncstorm;
using namespace syncstorm::testing;

namespace {

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

struct TracedRun {
  Schedule schedule;
  std::string trace;
  RunResult result;
};

TracedRun traced_run(const Scenario& scenario, std::uint64_t seed, const std::string& model_name = "echo") {
  const ModelRegistry registry = shipped_models();
  const ModelInfo* model = registry.find(model_name);
  REQUIRE(model);
  TracedRun r{make_schedule(scenario, *model, seed), {}, {}};
  std::ostringstream out;
  RunOptions options;
  options.trace_out = &out;
  r.result = run_simulation(scenario, *model, r.schedule, seed, options);
  r.trace = out.str();
  return r;
}

/// Three clients and a server that crashes for a second and loses what it had not flushed.
constexpr std::string_view kSmallCrash = R"(
description = "three clients, the server crashes for 1 s"
servers = 1
[persistence]
server = true
lose_unflushed = true
[workload]
clients = 3
rate = "1/s"
duration = "8s"
keys = 4
[[fault]]
kind = "crash"
target = "server:0"
at = "4s"
duration = "1s"
[invariants]
check = "all"
settle = "8s"
convergence_bound = "5s"
)";

/// A server that rebuilds its state after a restart from the first client to reconnect, on seed 9:
/// op7 (client 2, field 2) is acknowledged just before the crash and is gone at the end.
struct LostWrite {
  TracedRun run;
  std::vector<Violation> violations;  ///< the lost acknowledged writes only, as compare draws them
};

LostWrite lost_write_run() {
  auto scenario = parse_scenario(kSmallCrash, "small-crash.toml");
  REQUIRE(scenario.ok());
  LostWrite w{traced_run(scenario.value(), 9, "outbox-map-rebuilding-server"), {}};
  for (const Violation& v : w.run.result.violations) {
    if (v.invariant == Invariant::lost_acknowledged_write) w.violations.push_back(v);
  }
  REQUIRE_FALSE(w.violations.empty());
  REQUIRE_FALSE(w.violations.front().involved.empty());
  REQUIRE(w.violations.front().involved.front().op == OpId{7});
  return w;
}

/// The trace line of the first `ev` event matching `extra` (e.g. "\"op\":7,").
std::string trace_line(const std::string& trace, const std::string& ev, const std::string& extra) {
  std::istringstream in(trace);
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"ev\":\"" + ev + "\"") != std::string::npos && line.find(extra) != std::string::npos) return line;
  }
  return {};
}

std::string field(const std::string& line, const std::string& key) {
  const std::regex re("\"" + key + "\":([0-9]+)");
  std::smatch m;
  return std::regex_search(line, m, re) ? m[1].str() : std::string();
}

}  // namespace

TEST_CASE("a space-time diagram has a lane per node and an arrow per delivered message", "[reports]") {
  const TracedRun run = traced_run(small_partition_scenario(), 3);
  const std::string svg = lamport_svg(run.schedule, run.trace, {}, run.result.history, "echo");
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(count(svg, ">server 0<") == 1);
  for (std::uint32_t c = 0; c < run.schedule.clients; ++c) CHECK(count(svg, ">client " + std::to_string(c) + "<") == 1);
  // Every lane is shown, so every delivery in the trace is one arrow.
  const std::size_t deliveries = count(run.trace, "\"ev\":\"deliver\"");
  REQUIRE(deliveries > 0);
  CHECK(count(svg, "marker-end=\"url(#arrow)\"") == deliveries);
  // The partition of client 0 is shaded.
  CHECK(count(svg, "<title>partition ") >= 1);
}

TEST_CASE("a space-time diagram highlights the operations a violation names", "[reports]") {
  const TracedRun run = traced_run(small_partition_scenario(), 3);
  REQUIRE(run.schedule.operations.size() >= 2);
  Violation v;
  v.invariant = Invariant::lost_acknowledged_write;
  v.involved = {{OpId{1}, "acknowledged write"}, {OpId{2}, "superseding candidate"}};
  const std::string svg = lamport_svg(run.schedule, run.trace, {v}, run.result.history, "highlight");
  CHECK(count(svg, "<text class=\"moment\"") >= 2);
  CHECK(count(svg, ">op1 ") >= 1);
  CHECK(count(svg, ">op2 ") >= 1);
  CHECK(count(svg, "op1 issued: acknowledged write") == 1);
  CHECK(count(svg, "op3 issued:") == 0);
}

TEST_CASE("a space-time diagram marks dropped datagrams with a cross", "[reports]") {
  Scenario s = small_partition_scenario();
  s.network.client_link = LinkKind::datagram;
  s.network.drop = 200'000;
  const TracedRun run = traced_run(s, 5);
  const std::size_t drops = count(run.trace, "\"ev\":\"drop\"");
  REQUIRE(drops > 0);
  const std::string svg = lamport_svg(run.schedule, run.trace, {}, run.result.history, "drops");
  CHECK(count(svg, "stroke=\"#d55e00\" fill=\"none\"/>") == drops);
}

TEST_CASE("a bar chart draws one bar and one interval per entry", "[reports]") {
  const std::string svg = bar_chart_svg("t", "ms", {{"a", 3, 2, 4, false}, {"b<&>", 5, 5, 5, true}});
  CHECK(count(svg, "<rect x=\"190\"") == 2);
  CHECK(count(svg, "v8M") == 1);  // "b" has an empty interval: no whisker
  CHECK(count(svg, "b&lt;&amp;&gt;") >= 1);
  CHECK(count(svg, "<") == count(svg, ">"));
}

TEST_CASE("replay --diagram writes the run's space-time diagram", "[reports][cli]") {
  const std::string path = (std::filesystem::temp_directory_path() / "syncstorm-replay-diagram-test.svg").string();
  std::filesystem::remove(path);
  const std::string command = std::string(SYNCSTORM_BINARY) + " replay quiet --model echo --seed 1 --diagram " + path + " > /dev/null";
  REQUIRE(std::system(command.c_str()) == 0);
  const std::string svg = read_text(path);
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(count(svg, ">server 0<") == 1);
  CHECK(count(svg, "marker-end=\"url(#arrow)\"") > 0);
  std::filesystem::remove(path);
}

TEST_CASE("compare rejects zero seeds as bad input", "[reports][cli]") {
  const std::string command = std::string(SYNCSTORM_BINARY) + " compare quiet --seeds 0 --quiet --out /tmp/syncstorm-never > /dev/null 2>&1";
  const int status = std::system(command.c_str());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 2);
}

TEST_CASE("a failure diagram draws the named operation's messages at full strength and greys the rest", "[reports][story]") {
  const LostWrite w = lost_write_run();
  const std::string svg = lamport_svg(w.run.schedule, w.run.trace, w.violations, w.run.result.history, "story");
  // The delivery that acknowledged op7 is on its path.
  const std::string ack = trace_line(w.run.trace, "acknowledged", "\"op\":7,");
  REQUIRE_FALSE(ack.empty());
  const std::string ack_t = field(ack, "t");
  const std::string ack_node = field(ack, "node");
  std::string ack_msg;
  std::istringstream in(w.run.trace);
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"ev\":\"deliver\"") != std::string::npos && field(line, "t") == ack_t && field(line, "node") == ack_node) {
      ack_msg = field(line, "msg");
    }
  }
  REQUIRE_FALSE(ack_msg.empty());
  CHECK(count(svg, "class=\"path\" data-msg=\"" + ack_msg + "\"") == 1);
  // The first message of the run (a handshake, long before op7 existed) is greyed.
  const std::string first_msg = field(trace_line(w.run.trace, "deliver", ""), "msg");
  REQUIRE_FALSE(first_msg.empty());
  CHECK(count(svg, "class=\"faded\" data-msg=\"" + first_msg + "\"") == 1);
  CHECK(count(svg, "class=\"path\" data-msg=\"" + first_msg + "\"") == 0);
  // Fewer arrows on the path than greyed ones: the routine traffic no longer dominates.
  CHECK(count(svg, "class=\"path\"") < count(svg, "class=\"faded\""));
  // The quiet seconds after the story are folded into a marked gap; a plain diagram is not folded.
  CHECK(count(svg, "<rect class=\"fold\"") >= 1);
  CHECK(count(svg, "s folded</text>") == count(svg, "<rect class=\"fold\""));
  const std::string plain = lamport_svg(w.run.schedule, w.run.trace, {}, w.run.result.history, "plain");
  CHECK(count(plain, "<rect class=\"fold\"") == 0);
}

TEST_CASE("a failure diagram labels the write, its acknowledgement, the fault, the loss and the final states", "[reports][story]") {
  const LostWrite w = lost_write_run();
  const std::string svg = lamport_svg(w.run.schedule, w.run.trace, w.violations, w.run.result.history, "story");
  CHECK(count(svg, ">op7 set field 2</text>") == 1);
  CHECK(count(svg, ">op7 acknowledged</text>") == 1);
  CHECK(count(svg, ">crash 4.000 s to 5.000 s</text>") == 1);
  CHECK(count(svg, ">crash: op7 lost</text>") == 1);
  // Each lane ends with its node's final value of field 2, in red where op7 is missing.
  CHECK(count(svg, "<text class=\"final differs\"") >= 1);
  CHECK(count(svg, ">ends: field 2 absent</text>") >= 1);
  // A plain diagram of the same run has none of it.
  const std::string plain = lamport_svg(w.run.schedule, w.run.trace, {}, w.run.result.history, "plain");
  CHECK(count(plain, "class=\"moment\"") == 0);
  CHECK(count(plain, "class=\"faded\"") == 0);
  CHECK(count(plain, "class=\"final") == 0);
}

TEST_CASE("a failure caption names the lost operation, where it is missing and the fault", "[reports][story]") {
  const LostWrite w = lost_write_run();
  const std::string caption = failure_caption(w.run.schedule, w.run.trace, w.violations, w.run.result.history);
  INFO(caption);
  CHECK(caption.rfind("op7 (set field 2 by client 2, issued at 3.771 s) was acknowledged at 3.825 s, yet ", 0) == 0);
  CHECK(caption.find(" with field 2 absent.") != std::string::npos);
  CHECK(caption.find("The crash fault on server 0 (4.000 s to 5.000 s) cut its path.") != std::string::npos);
  CHECK(caption.find("That breaks lost-acknowledged-write: ") != std::string::npos);
  CHECK(failure_caption(w.run.schedule, w.run.trace, {}, w.run.result.history).empty());
  // The SVG carries the caption too, escaped.
  const std::string svg = lamport_svg(w.run.schedule, w.run.trace, w.violations, w.run.result.history, "story");
  CHECK(count(svg, "<text class=\"caption\"") >= 1);
}

TEST_CASE("a failure diagram is well-formed XML (xmllint), which a cut-off copy is not", "[reports][story]") {
  REQUIRE(std::system("command -v xmllint > /dev/null 2>&1") == 0);
  const LostWrite w = lost_write_run();
  const std::string svg = lamport_svg(w.run.schedule, w.run.trace, w.violations, w.run.result.history, "story <&> \"quoted\"");
  const auto dir = std::filesystem::temp_directory_path();
  const std::string good = (dir / "syncstorm-story-test.svg").string();
  const std::string cut = (dir / "syncstorm-story-test-cut.svg").string();
  {
    std::ofstream(good, std::ios::binary) << svg;
    std::ofstream(cut, std::ios::binary) << svg.substr(0, svg.size() / 2);
  }
  CHECK(std::system(("xmllint --noout '" + good + "' > /dev/null 2>&1").c_str()) == 0);
  CHECK(std::system(("xmllint --noout '" + cut + "' > /dev/null 2>&1").c_str()) != 0);
  std::filesystem::remove(good);
  std::filesystem::remove(cut);
}
