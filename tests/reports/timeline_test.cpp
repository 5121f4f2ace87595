// The timeline page of one run: what its embedded JSON holds (lanes, messages with their bytes, the
// violation), that the same run gives the same bytes, that the event cap holds and says so, and the
// --html flag's errors. The page in a browser: timeline_browser_test.cpp.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/cli/commands.hpp"
#include "tests/printers.hpp"
#include "tests/reports/failing_run.hpp"
#include "tests/reports/small_comparison.hpp"
#include "tests/sim/repro_of.hpp"

using namespace syncstorm;
using namespace syncstorm::testing;

namespace {

int syncstorm_cli(const std::string& args) {
  const int status = std::system((std::string(SYNCSTORM_BINARY) + " " + args + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("the timeline's data has a lane per node, every message with its bytes, and the violation", "[reports][timeline]") {
  const FailingRun run = failing_run();
  REQUIRE(run.result.violations.size() == 2);  // two writes lost to causally older ones
  const auto j = nlohmann::json::parse(timeline_json(run.timeline()));

  REQUIRE(j["lanes"].size() == run.schedule.node_count());
  CHECK(j["lanes"][0]["name"] == "server 0");
  CHECK(j["lanes"][1]["name"] == "client 0");
  CHECK(j["lanes"][0]["server"] == true);

  CHECK(j["messages"].size() == run.result.metrics.messages_sent);
  const auto& first = j["messages"][0];
  CHECK(first["fate"] == "delivered");
  CHECK(first["at"].get<std::int64_t>() >= first["sent"].get<std::int64_t>());
  // The hex is the payload the model sent, byte for byte.
  const std::string& bytes = run.payloads.payloads().at(first["id"].get<std::uint64_t>());
  CHECK(first["hex"].get<std::string>().size() == 2 * bytes.size());
  CHECK(first["bytes"].get<std::size_t>() == bytes.size());

  REQUIRE(j["violations"].size() == 2);
  const auto& v = j["violations"][1];  // by invariant, then subject: field 1, then field 3
  CHECK(v["invariant"] == "lost-acknowledged-write");
  CHECK(v["report"].get<std::string>().find("op313") != std::string::npos);
  REQUIRE(!v["ops"].empty());
  CHECK(v["ops"][0]["op"] == 313);
  CHECK(v["ops"][0].contains("t"));

  std::size_t acknowledged = 0;
  for (const auto& m : j["marks"]) acknowledged += m["kind"] == "acknowledged" ? 1 : 0;
  CHECK(acknowledged == run.result.metrics.acknowledged);
  CHECK(j["cut_at_us"].is_null());
  CHECK(j["events_embedded"] == j["events_total"]);
}

TEST_CASE("the timeline page of a run is the same bytes twice and embeds its data safely", "[reports][timeline]") {
  const FailingRun run = failing_run();
  const std::string page = timeline_html(run.timeline());
  CHECK(page == timeline_html(run.timeline()));
  CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(page.find("<script type=\"application/json\" id=\"timeline-data\">") != std::string::npos);
  // Nothing is fetched: no external script, style, image or font.
  CHECK(page.find("src=") == std::string::npos);
  CHECK(page.find("http://") == page.find("http://www.w3.org/2000/svg"));
  CHECK(page.find("https://") == std::string::npos);
  CHECK(page.find("cut-notice") == std::string::npos);

  // A title that would close the data's element is escaped there and in the markup.
  TimelineRun hostile = run.timeline();
  hostile.title = "</script><b>x</b>";
  const std::string escaped = timeline_html(hostile);
  CHECK(escaped.find("</script><b>") == std::string::npos);
}

TEST_CASE("the timeline embeds at most events_max events and says where it stops", "[reports][timeline]") {
  const FailingRun run = failing_run();
  TimelineLimits limits;
  limits.events_max = 100;
  const auto j = nlohmann::json::parse(timeline_json(run.timeline(), limits));
  CHECK(j["events_embedded"] == 100);
  CHECK(j["events_total"].get<std::size_t>() > 100);
  CHECK(j["messages"].size() + j["marks"].size() <= 100);
  REQUIRE(j["cut_at_us"].is_number());
  // The violation is listed whatever the cap: it comes from the checkers, not the embedded events.
  CHECK(j["violations"].size() == 2);
  CHECK(j["lanes"].size() == run.schedule.node_count());
  const std::string page = timeline_html(run.timeline(), limits);
  CHECK(page.find("id=\"cut-notice\">This page holds the first 100 of the run's") != std::string::npos);
}

TEST_CASE("recording the bytes of messages leaves the trace hash unchanged", "[reports][timeline]") {
  const FailingRun run = failing_run();
  const ModelRegistry registry = shipped_models();
  const RunResult plain = run_simulation(run.scenario, *registry.find("lww-map-wallclock"), run.schedule, 1);
  CHECK(plain.trace_hash == run.result.trace_hash);
  CHECK(run.payloads.payloads().size() == run.result.metrics.messages_sent);
}

TEST_CASE("run and replay --html write the page, and a missing folder is exit 2", "[reports][timeline]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("syncstorm-timeline-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string args = "clock-skew --model lww-map-wallclock --seed 1 --html ";
  CHECK(syncstorm_cli("replay " + args + (dir / "replay.html").string()) == 1);
  CHECK(syncstorm_cli("run " + args + (dir / "run.html").string()) == 1);
  CHECK(fs::file_size(dir / "replay.html") > 10'000);
  CHECK(fs::file_size(dir / "replay.html") == fs::file_size(dir / "run.html"));
  CHECK(syncstorm_cli("replay " + args + (dir / "no-such-folder" / "t.html").string()) == 2);
  CHECK(!fs::exists(dir / "no-such-folder"));
  fs::remove_all(dir);
}

TEST_CASE("replay of a repro file draws its schedule: the page and the diagram name the repro", "[reports][timeline]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("syncstorm-timeline-repro-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const FailingRun run = failing_run();
  Repro repro = repro_of(run.scenario, "lww-map-wallclock", 1, "lost-acknowledged-write", run.schedule);
  repro.trace_hash = run.result.trace_hash;
  const std::string file = (dir / "skew.repro.toml").string();
  REQUIRE(save_repro(repro, file).ok());
  const std::string page = (dir / "repro.html").string();
  const std::string svg = (dir / "repro.svg").string();
  const std::string trace = (dir / "repro.jsonl").string();
  CHECK(syncstorm_cli("replay " + file + " --html " + page + " --diagram " + svg + " --trace " + trace) == 1);
  // The same run as the seed's: the same trace, drawn with the same violations, titled as a repro.
  CHECK(read_text(trace) == run.trace);
  const std::string html = read_text(page);
  const auto data_at = html.find("id=\"timeline-data\">") + 19;
  const auto j = nlohmann::json::parse(html.substr(data_at, html.find("</script>", data_at) - data_at));
  CHECK(j["violations"].size() == run.result.violations.size());
  CHECK(j["messages"].size() == run.result.metrics.messages_sent);
  CHECK_THAT(html, Catch::Contains("syncstorm replay " + file));
  CHECK_THAT(read_text(svg), Catch::Contains("lww-map-wallclock on clock-skew, repro of seed 1"));
  // Against another model, the title and the command say so.
  CHECK(syncstorm_cli("replay " + file + " --model lww-map --html " + page) == 0);
  CHECK_THAT(read_text(page), Catch::Contains("syncstorm replay " + file + " --model lww-map"));
  fs::remove_all(dir);
}

TEST_CASE("compare writes a timeline page beside each diagram and links it", "[reports][timeline]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("syncstorm-timeline-compare-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const ModelRegistry registry = shipped_models();
  const Comparison c = run_comparison(small_comparison(registry, 2));
  REQUIRE(!c.diagrams.empty());
  REQUIRE(write_report(c, dir.string()).empty());
  const std::string index = read_text((dir / "index.html").string());
  for (const Diagram& d : c.diagrams) {
    CHECK(d.timeline_file == "timeline-" + std::string(to_string(d.invariant)) + ".html");
    CHECK(read_text((dir / d.timeline_file).string()) == d.timeline);
    CHECK(index.find("<a href=\"" + d.timeline_file + "\">interactive timeline</a>") != std::string::npos);
    const auto j = nlohmann::json::parse(
        d.timeline.substr(d.timeline.find("id=\"timeline-data\">") + 19,
                          d.timeline.find("</script>", d.timeline.find("id=\"timeline-data\">")) - d.timeline.find("id=\"timeline-data\">") - 19));
    CHECK(!j["violations"].empty());
  }
  fs::remove_all(dir);
}
