// The programs a few tests need besides the compiler: Node.js for the external replicas and Chromium
// for the HTML report. A machine meant to run these tests that lacks one fails them, naming it: a test
// that passes without running tells the developer something false. A developer who knows the program
// is missing sets the opt-out (SYNCSTORM_NO_NODE=1, SYNCSTORM_NO_CHROMIUM=1) and the tests say they
// were skipped; ctest then lists them as skipped (tests/CMakeLists.txt matches kSkipped).
#pragma once

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

namespace syncstorm::testing {

/// The word that starts a skipped test's warning; ctest's SKIP_REGULAR_EXPRESSION looks for it.
inline constexpr std::string_view kSkipped = "SKIPPED:";

/// Whether `program` is a command the shell finds.
inline bool on_path(std::string_view program) {
  const std::string probe = "command -v " + std::string(program) + " > /dev/null 2>&1";
  return std::system(probe.c_str()) == 0;
}

/// Whether the developer set the environment variable `opt_out` to 1.
inline bool opted_out(const char* opt_out) {
  const char* value = std::getenv(opt_out);
  return value != nullptr && std::string_view(value) == "1";
}

/// Whether a test that needs `what` goes on: true where `present`; false, after a warning, where the
/// developer opted out; otherwise the test fails with a message that names what is missing and how to
/// install it. Use as `if (!needs(...)) return;`.
inline bool needs(bool present, std::string_view what, const char* opt_out, std::string_view install) {
  if (opted_out(opt_out)) {
    WARN(kSkipped << " " << opt_out << "=1 is set, and this test needs " << what);
    return false;
  }
  if (!present) {
    FAIL("this test needs " << what << ", which is missing here (" << install << "); set " << opt_out
                             << "=1 to skip the tests that need it");
  }
  return true;
}

/// Node.js, which runs the external replicas (models/adapters/).
inline bool needs_node() {
  return needs(on_path("node"), "node (Node.js)", "SYNCSTORM_NO_NODE", "apt-get install nodejs");
}

/// The headless browser the report tests drive: the first of chromium, chromium-browser and
/// google-chrome on the PATH, or empty.
inline std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    if (on_path(name)) return name;
  }
  return {};
}

/// The browser to drive, or empty when the test must stop here: missing Chromium fails the test,
/// unless SYNCSTORM_NO_CHROMIUM=1 makes it a skip (see needs).
inline std::string needs_chromium() {
  const std::string browser = find_chromium();
  const bool found = needs(!browser.empty(), "chromium (none of chromium, chromium-browser, google-chrome is on the PATH)",
                           "SYNCSTORM_NO_CHROMIUM", "apt-get install -y chromium chromium-driver");
  return found ? browser : std::string();
}

/// The start of a headless run of `browser` with its own profile folder, cut off after a time limit.
inline std::string chromium_command(const std::string& browser, const std::string& profile) {
  return "timeout 120 " + browser +
         " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
         " --disable-component-update --disable-sync --user-data-dir=" + profile;
}

/// Runs the syncstorm binary under test with `args`; returns its exit code and what it printed on
/// stdout and stderr. The output goes through a file of this process's own: ctest runs a file's test
/// cases side by side.
inline std::pair<int, std::string> syncstorm_cli(const std::string& args) {
  const auto out = std::filesystem::temp_directory_path() / ("syncstorm-test-cli-" + std::to_string(::getpid()) + ".txt");
  const int status = std::system((std::string(SYNCSTORM_BINARY) + " " + args + " > " + out.string() + " 2>&1").c_str());
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

}  // namespace syncstorm::testing
