// Outputs are whole or absent (sim/base/atomic_file.hpp): a writer killed at any moment leaves the old
// file or the complete new one, `keep` never replaces a file, and a repro never overwrites another.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "sim/base/atomic_file.hpp"
#include "sim/scenario/scenario_file.hpp"
#include "sim/scenario/schedule.hpp"
#include "sim/sweep/repro.hpp"
#include "tests/printers.hpp"
#include "tests/sim/repro_of.hpp"
#include "tests/scratch_dir.hpp"

using namespace syncstorm;

namespace {

namespace fs = std::filesystem;


std::string read(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t files_in(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

}  // namespace

TEST_CASE("a replaced file is the old or the new whole version whenever its writer is killed", "[atomic][slow]") {
  const fs::path dir = testing::scratch_dir("atomic-test-killed");
  const fs::path file = dir / "out.json";
  // Two versions of 4 MB each, told apart by every byte: a cut-short file matches neither.
  const std::string a(4'000'000, 'a');
  const std::string b(4'000'000, 'b');
  REQUIRE_FALSE(write_file_atomically(file, a));
  int kills_mid_run = 0;
  for (int i = 0; i < 24; ++i) {
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      for (int n = 0;; ++n) write_file_atomically(file, n % 2 == 0 ? b : a);  // until killed
    }
    // A fixed schedule of moments: 0 to 46 ms after the start, every 2 ms.
    std::this_thread::sleep_for(std::chrono::milliseconds(2 * i));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    kills_mid_run += WIFSIGNALED(status) ? 1 : 0;
    const std::string now = read(file);
    INFO("kill " << i << " left " << now.size() << " bytes");
    REQUIRE((now == a || now == b));
  }
  CHECK(kills_mid_run == 24);
  // What a killed writer may leave is its own temporary file, never a damaged output.
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    CHECK((name == "out.json" || name.starts_with(".out.json.tmp.")));
  }
}

TEST_CASE("a replacing write leaves no temporary file, and keep never replaces a file", "[atomic]") {
  const fs::path dir = testing::scratch_dir("atomic-test-keep");
  const fs::path file = dir / "one.txt";
  CHECK_FALSE(write_file_atomically(file, "first"));
  CHECK_FALSE(write_file_atomically(file, "second"));
  CHECK(read(file) == "second");
  CHECK(files_in(dir) == 1);
  CHECK(write_file_atomically(file, "third", IfExists::keep) == std::errc::file_exists);
  CHECK(read(file) == "second");
  CHECK_FALSE(write_file_atomically(dir / "two.txt", "new", IfExists::keep));
  CHECK(read(dir / "two.txt") == "new");
  CHECK(files_in(dir) == 2);
  CHECK(write_file_atomically(dir / "no-such-folder" / "x.txt", "x"));
}

TEST_CASE("a repro never overwrites another: a different one takes the next free name", "[atomic][repro]") {
  const fs::path dir = testing::scratch_dir("atomic-test-repro-names");
  Result<Scenario> s = parse_scenario("[workload]\nclients = 2\nduration = \"2s\"\n", "small.toml");
  REQUIRE(s.ok());
  Repro r = testing::repro_of(s.value(), "lww-map", 1, "convergence", make_schedule(s.value(), DataType::map, 1));
  const std::string path = (dir / "small__lww-map__convergence__seed1.repro.toml").string();
  REQUIRE(save_repro(r, path).value() == path);
  const std::string first = read(path);
  // The same repro again is the same file.
  CHECK(save_repro(r, path).value() == path);
  // Another schedule for the same name goes beside it, and the first stays as it was.
  r.schedule = make_schedule(s.value(), DataType::map, 2);
  const std::string second = (dir / "small__lww-map__convergence__seed1-2.repro.toml").string();
  CHECK(save_repro(r, path).value() == second);
  CHECK(read(path) == first);
  CHECK(load_repro(second).ok());
  r.schedule = make_schedule(s.value(), DataType::map, 3);
  CHECK(save_repro(r, path).value() == (dir / "small__lww-map__convergence__seed1-3.repro.toml").string());
  CHECK(files_in(dir) == 3);
}

TEST_CASE("a streamed file keeps its old content until it is committed whole", "[atomic]") {
  const fs::path dir = testing::scratch_dir("atomic-test-streamed");
  const fs::path file = dir / "trace.jsonl";
  {
    std::ofstream(file) << "old\n";
  }
  {
    StreamedFile streamed(file);
    REQUIRE(streamed.is_open());
    streamed.stream() << "new line 1\n";
    CHECK(read(file) == "old\n");  // nothing shows under the name before commit
    streamed.stream() << "new line 2\n";
    REQUIRE_FALSE(streamed.commit());
  }
  CHECK(read(file) == "new line 1\nnew line 2\n");
  {
    StreamedFile abandoned(file);  // an error before commit: the last whole file stays
    abandoned.stream() << "half";
  }
  CHECK(read(file) == "new line 1\nnew line 2\n");
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++entries;
  CHECK(entries == 1);  // no temporary file left behind
  CHECK_FALSE(StreamedFile(dir / "missing" / "trace.jsonl").is_open());
  fs::remove_all(dir);
}
