// Where external runs execute (sim/base/cpu_affinity.hpp): a pin holds while it lives and gives the
// thread its CPUs back after; worker slots of one process land on different CPUs.
#include <catch2/catch.hpp>

#include <pthread.h>
#include <sched.h>

#include <cstdlib>
#include <set>
#include <string_view>
#include <thread>

#include "sim/base/cpu_affinity.hpp"

using namespace syncstorm;

namespace {

std::set<int> cpus_now() {
  const std::vector<int> cpus = cpus_of_this_thread();
  return {cpus.begin(), cpus.end()};
}

}  // namespace

TEST_CASE("a thread pinned to one CPU runs only there and gets its CPUs back when the pin ends", "[affinity]") {
  const std::set<int> before = cpus_now();
  REQUIRE(!before.empty());
  const int last = *before.rbegin();
  {
    ThreadCpuPin pin(last);
    REQUIRE(pin.pinned());
    CHECK(cpus_now() == std::set<int>{last});
  }
  CHECK(cpus_now() == before);
}

TEST_CASE("a pin to a CPU that does not exist leaves the thread as it was", "[affinity]") {
  const std::set<int> before = cpus_now();
  {
    ThreadCpuPin pin(-1);
    CHECK_FALSE(pin.pinned());
    CHECK(cpus_now() == before);
  }
  CHECK(cpus_now() == before);
}

TEST_CASE("two worker slots get two different CPUs of this process, when it has two", "[affinity]") {
  // Each slot is asked on a thread of its own, as the sweep's workers are.
  std::optional<int> cpu[2];
  for (unsigned slot = 0; slot < 2; ++slot) {
    std::thread([&cpu, slot] {
      set_worker_slot(slot);
      cpu[slot] = worker_cpu();
    }).join();
  }
  const std::set<int> allowed = cpus_now();
  const char* unpinned = std::getenv(kExternalUnpinnedEnv);
  if (allowed.size() < 2 || (unpinned != nullptr && std::string_view(unpinned) == "1")) {
    CHECK_FALSE(cpu[0].has_value());  // one CPU: nothing to choose, nothing pinned
    return;
  }
  REQUIRE(cpu[0].has_value());
  REQUIRE(cpu[1].has_value());
  CHECK(*cpu[0] != *cpu[1]);
  CHECK(allowed.count(*cpu[0]) == 1);
  CHECK(allowed.count(*cpu[1]) == 1);
}

TEST_CASE("a thread that is no sweep worker gets the CPU it runs on", "[affinity]") {
  const std::set<int> allowed = cpus_now();
  const char* unpinned = std::getenv(kExternalUnpinnedEnv);
  if (allowed.size() < 2 || (unpinned != nullptr && std::string_view(unpinned) == "1")) {
    CHECK_FALSE(worker_cpu().has_value());
    return;
  }
  // Each CPU in turn, on a new thread (a thread the test itself runs on may have a slot).
  for (int cpu : allowed) {
    std::optional<int> chosen;
    std::thread([&chosen, cpu] {
      const ThreadCpuPin pin(cpu);
      chosen = worker_cpu();
    }).join();
    CHECK(chosen == cpu);
  }
}
