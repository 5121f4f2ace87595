// A shipped external model that cannot start here is a set-up problem: exit 2 with the command that
// fixes it, never a run that "fails" with exit 1. These tests need neither Node.js's packages nor the
// network: they make the problem on purpose (an adapter folder without node_modules, a PATH without
// node).
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "models/external/external.hpp"
#include "tests/scratch_dir.hpp"

using namespace syncstorm;

namespace {

namespace fs = std::filesystem;


/// An adapter folder copied without its node_modules: every shipped adapter's files and lock files.
fs::path adapters_without_packages(const fs::path& root) {
  const fs::path source = fs::path(SYNCSTORM_SOURCE_DIR) / "models" / "adapters";
  for (const auto& entry : fs::directory_iterator(source)) {
    if (!entry.is_directory()) continue;
    fs::create_directories(root / entry.path().filename());
    for (const auto& file : fs::directory_iterator(entry.path())) {
      if (file.is_regular_file()) fs::copy_file(file.path(), root / entry.path().filename() / file.path().filename());
    }
  }
  return root;
}

struct Outcome {
  int code = -1;
  std::string output;
};

Outcome run_cli(const std::string& env, const std::string& args, const fs::path& dir) {
  const fs::path out = dir / "output.txt";
  const std::string command = fmt::format("cd {} && env {} {} {} > {} 2>&1", SYNCSTORM_SOURCE_DIR, env, SYNCSTORM_BINARY, args,
                                          out.string());
  const int status = std::system(command.c_str());
  std::ifstream in(out);
  std::ostringstream text;
  text << in.rdbuf();
  return Outcome{WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

}  // namespace

TEST_CASE("an external model whose npm packages are missing exits 2 with the npm ci command", "[external-setup]") {
  const fs::path dir = testing::scratch_dir("external-setup-packages");
  const fs::path adapters = adapters_without_packages(dir / "adapters");
  const std::string env = "SYNCSTORM_ADAPTER_DIR=" + adapters.string();
  for (const char* command : {"run quiet --model yjs-list --seed 1", "replay quiet --model yjs-list --seed 1",
                              "check quiet --model yjs-list --seeds 1 --no-progress",
                              "compare quiet --model yjs-list --seeds 1 --no-backoff-study --quiet --out " }) {
    DYNAMIC_SECTION(command) {
      const std::string args = std::string(command).ends_with("--out ") ? command + (dir / "report").string() : command;
      const Outcome o = run_cli(env, args, dir);
      INFO(o.output);
      CHECK(o.code == 2);
      // The command names the folder as the user would type it from the working directory (the
      // source tree here): relative where that is shorter, as from a clone under the temporary folder.
      const fs::path yjs = adapters / "yjs";
      const std::string relative = fs::relative(yjs, SYNCSTORM_SOURCE_DIR).string();
      CHECK_THAT(o.output, Catch::Contains("yjs is missing") &&
                               (Catch::Contains("run npm ci --prefix " + yjs.string() + "\n") ||
                                Catch::Contains("run npm ci --prefix " + relative + "\n")));
      CHECK_THAT(o.output, !Catch::Contains("violations"));
      CHECK_FALSE(fs::exists(dir / "report"));
    }
  }
}

TEST_CASE("an external model with no node on PATH exits 2 and says to install Node.js", "[external-setup]") {
  const fs::path dir = testing::scratch_dir("external-setup-no-node");
  fs::create_directories(dir / "empty-bin");
  const Outcome o = run_cli("PATH=" + (dir / "empty-bin").string(), "run quiet --model automerge-map --seed 1", dir);
  INFO(o.output);
  CHECK(o.code == 2);
  CHECK_THAT(o.output, Catch::Contains("\"node\" is not on PATH") && Catch::Contains("apt-get install nodejs"));
}

TEST_CASE("the set-up check finds nothing wrong with in-process models or an installed adapter", "[external-setup]") {
  CHECK_FALSE(external_setup_error("lww-map").has_value());
  CHECK_FALSE(external_setup_error("no-such-model").has_value());
  // Whether the shipped yjs adapter is installed here decides the answer; it must match the files.
  const bool installed = fs::exists(adapter_dir() + "/yjs/node_modules/yjs/package.json");
  const bool node = std::system("command -v node > /dev/null 2>&1") == 0;
  CHECK(external_setup_error("yjs-list").has_value() == !(installed && node));
}
