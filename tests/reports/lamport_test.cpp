// Space-time diagrams and charts: drawn from a real run's trace, with the violation's operations
// highlighted, and valid enough for a browser (checked in html_browser_test.cpp).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sys/wait.h>
#include <sstream>

#include "sim/engine/simulation.hpp"
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

TracedRun traced_run(const Scenario& scenario, std::uint64_t seed) {
  const ModelRegistry registry = shipped_models();
  const ModelInfo* echo = registry.find("echo");
  REQUIRE(echo);
  TracedRun r{make_schedule(scenario, echo->data_type, seed), {}, {}};
  std::ostringstream out;
  RunOptions options;
  options.trace_out = &out;
  r.result = run_simulation(scenario, *echo, r.schedule, seed, options);
  r.trace = out.str();
  return r;
}

}  // namespace

TEST_CASE("a space-time diagram has a lane per node and an arrow per delivered message", "[reports]") {
  const TracedRun run = traced_run(small_partition_scenario(), 3);
  const std::string svg = lamport_svg(run.schedule, run.trace, {}, "echo");
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
  const std::string svg = lamport_svg(run.schedule, run.trace, {v}, "highlight");
  CHECK(count(svg, ">op 1</text>") == 1);
  CHECK(count(svg, ">op 2</text>") == 1);
  CHECK(count(svg, "op 1 issued: acknowledged write") == 1);
  CHECK(count(svg, ">op 3</text>") == 0);
}

TEST_CASE("a space-time diagram marks dropped datagrams with a cross", "[reports]") {
  Scenario s = small_partition_scenario();
  s.network.client_link = LinkKind::datagram;
  s.network.drop = 200'000;
  const TracedRun run = traced_run(s, 5);
  const std::size_t drops = count(run.trace, "\"ev\":\"drop\"");
  REQUIRE(drops > 0);
  const std::string svg = lamport_svg(run.schedule, run.trace, {}, "drops");
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
