// Opens index.html in headless Chromium: every chart must render as a non-empty SVG and the page
// must log no errors. Fails where Chromium is missing, unless SYNCSTORM_NO_CHROMIUM=1 (tests/programs.hpp).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <unistd.h>

#include "sim/cli/commands.hpp"
#include "tests/printers.hpp"
#include "tests/programs.hpp"
#include "tests/reports/small_comparison.hpp"

using namespace syncstorm;
using namespace syncstorm::testing;

namespace {

long attribute(const std::string& dom, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(dom, m, std::regex(name + "=\"([0-9]+)\""))) return -1;
  return std::stol(m[1]);
}

}  // namespace

TEST_CASE("index.html renders every chart in headless Chromium and logs no errors", "[reports][browser][chromium]") {
  const std::string browser = needs_chromium();
  if (browser.empty()) return;
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("syncstorm-html-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const ModelRegistry registry = shipped_models();
  const Comparison c = run_comparison(small_comparison(registry, 2));
  REQUIRE(write_report(c, dir.string()).empty());
  const std::string page = "file://" + (dir / "index.html").string();

  const std::string dump = chromium_command(browser, (dir / "profile-dom").string()) + " --enable-logging=stderr --v=0 --dump-dom '" +
                           page + "' > '" + (dir / "dom.html").string() + "' 2> '" + (dir / "console.log").string() + "'";
  REQUIRE(std::system(dump.c_str()) == 0);
  const std::string dom = read_text((dir / "dom.html").string());
  const long total = attribute(dom, "data-charts-total");
  const long drawn = attribute(dom, "data-charts-drawn");
  INFO("the page's own check: " << drawn << " of " << total << " charts drawn");
  CHECK(total > 0);
  CHECK(drawn == total);
  // Console messages are logged as CONSOLE(line); the page logs nothing, so any is an error.
  const std::string console = read_text((dir / "console.log").string());
  std::string errors;
  std::istringstream lines(console);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos) errors += line + "\n";
  }
  CHECK(errors.empty());

  const fs::path shot = fs::temp_directory_path() / "syncstorm-html-report-screenshot.png";  // outside the repository
  const std::string screenshot = chromium_command(browser, (dir / "profile-shot").string()) + " --window-size=1400,3000 --screenshot='" +
                                 shot.string() + "' '" + page + "' > /dev/null 2>&1";
  REQUIRE(std::system(screenshot.c_str()) == 0);
  CHECK(fs::file_size(shot) > 10'000);
  WARN("screenshot saved to " << shot.string());
  fs::remove_all(dir);
}
