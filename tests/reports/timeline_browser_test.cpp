// Opens the timeline page of a failing run in headless Chromium: the page must draw (a screenshot
// that is not blank), select the message its URL fragment names and show its details, draw one lane
// per node and mark the violation, and log no errors. Fails where Chromium is missing, unless
// SYNCSTORM_NO_CHROMIUM=1 (tests/programs.hpp).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "sim/base/atomic_file.hpp"
#include "tests/printers.hpp"
#include "tests/programs.hpp"
#include "tests/reports/failing_run.hpp"
#include "tests/reports/small_comparison.hpp"  // read_text

using namespace syncstorm;
using namespace syncstorm::testing;

namespace {

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

/// The page as drawn, without its script and data elements: their text names the very classes the
/// checks look for, so counting in it would pass even if nothing were drawn.
std::string drawn_part(const std::string& dom) {
  std::string out;
  std::size_t at = 0;
  for (std::size_t open = dom.find("<script"); open != std::string::npos; open = dom.find("<script", at)) {
    out += dom.substr(at, open - at);
    const std::size_t close = dom.find("</script>", open);
    at = close == std::string::npos ? dom.size() : close + 9;
  }
  return out + dom.substr(std::min(at, dom.size()));
}

/// The first message the client of the violation's first operation sends at or after issuing it:
/// selecting it puts the violation's marker in view.
std::uint64_t message_near_violation(const nlohmann::json& data) {
  const auto& op = data["violations"][0]["ops"][0];
  for (const auto& m : data["messages"]) {
    if (m["from"] == op["node"] && m["sent"].get<std::int64_t>() >= op["t"].get<std::int64_t>()) return m["id"].get<std::uint64_t>();
  }
  FAIL("the client of op " << op["op"] << " sends nothing after issuing it");
  return 0;
}

/// A fresh folder holding the timeline page of `run` as timeline.html.
std::filesystem::path page_folder(const std::string& name, const FailingRun& run) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("syncstorm-timeline-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  REQUIRE(!write_file_atomically(dir / "timeline.html", timeline_html(run.timeline())));
  return dir;
}

}  // namespace

TEST_CASE("the timeline page selects a message from its URL, shows lanes and the violation in headless Chromium",
          "[reports][browser][chromium]") {
  const std::string browser = needs_chromium();
  if (browser.empty()) return;
  namespace fs = std::filesystem;
  const FailingRun run = failing_run();
  REQUIRE(run.result.violations.size() == 2);
  const fs::path dir = page_folder("browser", run);
  const std::uint64_t id = message_near_violation(nlohmann::json::parse(timeline_json(run.timeline())));
  const std::string page = "file://" + (dir / "timeline.html").string();

  const std::string dump = chromium_command(browser, (dir / "profile-dom").string()) + " --enable-logging=stderr --v=0 --window-size=1400,900 --dump-dom '" +
                           page + "#select=msg-" + std::to_string(id) + "' > '" + (dir / "dom.html").string() + "' 2> '" +
                           (dir / "console.log").string() + "'";
  REQUIRE(std::system(dump.c_str()) == 0);
  const std::string full = read_text((dir / "dom.html").string());
  const std::string dom = drawn_part(full);
  REQUIRE(dom.size() < full.size());
  CHECK(dom.find("data-ready=\"true\"") != std::string::npos);
  CHECK(dom.find("data-selected=\"msg-" + std::to_string(id) + "\"") != std::string::npos);
  // The details panel shows the selected message: its id, both ends and its bytes.
  CHECK(dom.find("<h3>message " + std::to_string(id) + "</h3>") != std::string::npos);
  CHECK(dom.find("<td>sender</td>") != std::string::npos);
  CHECK(dom.find("<td>receiver</td>") != std::string::npos);
  CHECK(dom.find("class=\"hex\"") != std::string::npos);
  CHECK(dom.find("class=\"msg selected\"") != std::string::npos);
  CHECK(count(dom, "<g class=\"lane\"") == run.schedule.node_count());
  CHECK(count(dom, "class=\"violation-marker\"") >= 1);
  CHECK(count(dom, "<li class=\"violation\"") == run.result.violations.size());
  // Console messages are logged as CONSOLE(line); the page logs nothing, so any is an error.
  const std::string console = read_text((dir / "console.log").string());
  std::string errors;
  std::istringstream lines(console);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos) errors += line + "\n";
  }
  CHECK(errors.empty());

  // A scripted click on the same message's arrow (the page's own click handler) selects it too.
  const std::string click = chromium_command(browser, (dir / "profile-click").string()) + " --window-size=1400,900 --dump-dom '" +
                            page + "#click=msg-" + std::to_string(id) + "' > '" + (dir / "click.html").string() +
                            "' 2> /dev/null";
  REQUIRE(std::system(click.c_str()) == 0);
  const std::string clicked = drawn_part(read_text((dir / "click.html").string()));
  CHECK(clicked.find("data-selected=\"msg-" + std::to_string(id) + "\"") != std::string::npos);
  CHECK(clicked.find("<h3>message " + std::to_string(id) + "</h3>") != std::string::npos);
  CHECK(clicked.find("class=\"msg selected\"") != std::string::npos);

  const fs::path shot = fs::temp_directory_path() / "syncstorm-timeline-screenshot.png";  // outside the repository
  const std::string screenshot = chromium_command(browser, (dir / "profile-shot").string()) + " --window-size=1400,900 --screenshot='" +
                                 shot.string() + "' '" + page + "' > /dev/null 2>&1";
  REQUIRE(std::system(screenshot.c_str()) == 0);
  // A blank 1400x900 page compresses to a few kilobytes; lanes, arrows and text do not.
  CHECK(fs::file_size(shot) > 20'000);
  WARN("screenshot saved to " << shot.string());
  fs::remove_all(dir);
}

namespace {

/// The view [v0, v1] after each gesture, from the body's data-views attribute of a dumped page.
std::vector<std::pair<double, double>> views_of(const std::string& dom) {
  const std::string key = "data-views=\"";
  const std::size_t at = dom.find(key);
  if (at == std::string::npos) return {};
  std::string text = dom.substr(at + key.size(), dom.find('"', at + key.size()) - at - key.size());
  for (std::size_t q = text.find("&quot;"); q != std::string::npos; q = text.find("&quot;", q)) text.replace(q, 6, "\"");
  std::vector<std::pair<double, double>> out;
  for (const auto& v : nlohmann::json::parse(text)) out.emplace_back(v[0].get<double>(), v[1].get<double>());
  return out;
}

}  // namespace

TEST_CASE("the timeline page zooms around the pointer, pans by drag and buttons, and stays inside the run",
          "[reports][browser][chromium]") {
  const std::string browser = needs_chromium();
  if (browser.empty()) return;
  namespace fs = std::filesystem;
  const FailingRun run = failing_run();
  const fs::path dir = page_folder("zoom", run);
  const double end = nlohmann::json::parse(timeline_json(run.timeline()))["end_us"].get<double>();
  REQUIRE(end > 1e6);
  const std::string steps = "zoom-in,wheel-in@0.25,drag@0.5:0.1,pan-right,zoom-out,whole,pan-left,zoom-in,pan-left,pan-left,"
                            "wheel-out@0.9,wheel-out@0.9,wheel-out@0.9,wheel-out@0.9";
  const std::string page = "file://" + (dir / "timeline.html").string() + "#drive=" + steps;
  const std::string dump = chromium_command(browser, (dir / "profile").string()) + " --window-size=1400,900 --dump-dom '" + page +
                           "' > '" + (dir / "dom.html").string() + "' 2> /dev/null";
  REQUIRE(std::system(dump.c_str()) == 0);
  const auto v = views_of(read_text((dir / "dom.html").string()));
  REQUIRE(v.size() == 15);
  const auto span = [&](std::size_t i) { return v[i].second - v[i].first; };
  const double eps = end * 1e-9;
  // The whole run first; "zoom in" halves the view around its middle.
  CHECK(v[0].first == Approx(0).margin(eps));
  CHECK(v[0].second == Approx(end).margin(eps));
  CHECK(v[1].first == Approx(end / 4).margin(eps));
  CHECK(v[1].second == Approx(3 * end / 4).margin(eps));
  // The wheel zooms in by 0.8 around the pointer: the time under it stays where it was, to the pixel
  // (a wheel event's position is in whole pixels; around the middle, it would move by 5% of the view).
  const double pixel = span(1) / 1000;  // the plot is over 1,000 pixels wide in a 1400-pixel window
  CHECK(span(2) == Approx(0.8 * span(1)).margin(eps));
  CHECK(v[2].first + 0.25 * span(2) == Approx(v[1].first + 0.25 * span(1)).margin(pixel));
  // Dragging right by a tenth of the plot shows a tenth of the view earlier, at the same zoom.
  CHECK(span(3) == Approx(span(2)).margin(eps));
  CHECK(v[3].first == Approx(v[2].first - 0.1 * span(2)).margin(eps));
  // The arrow buttons move a quarter of the view; "zoom out" doubles it around its middle.
  CHECK(v[4].first == Approx(v[3].first + 0.25 * span(3)).margin(eps));
  CHECK(span(5) == Approx(2 * span(4)).margin(eps));
  CHECK((v[5].first + v[5].second) / 2 == Approx((v[4].first + v[4].second) / 2).margin(eps));
  // "whole run", and no panning past either end of the run.
  CHECK(v[6].first == Approx(0).margin(eps));
  CHECK(v[6].second == Approx(end).margin(eps));
  CHECK(v[7] == v[6]);
  CHECK(v[8].first == Approx(end / 4).margin(eps));
  CHECK(v[9].first == Approx(end / 8).margin(eps));
  CHECK(v[10].first == Approx(0).margin(eps));  // an eighth left, then the start of the run
  CHECK(span(10) == Approx(end / 2).margin(eps));
  // Zooming out stops at the whole run.
  CHECK(span(11) == Approx(1.25 * span(10)).margin(eps));
  CHECK(v[14].first == Approx(0).margin(eps));
  CHECK(v[14].second == Approx(end).margin(eps));
  fs::remove_all(dir);
}
