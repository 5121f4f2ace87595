// Tests of run_isolated (sim/sweep.hpp): tasks in child processes, where a task that crashes its
// child is a result of that task and the other tasks go on.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include "sim/sweep/sweep.hpp"
#include "tests/printers.hpp"

namespace syncstorm {
namespace {

/// Task i returns "task i", except the few that end their child in one way or another.
std::string work(std::size_t i) {
  switch (i) {
    case 4: std::raise(SIGSEGV); break;
    case 9: std::abort();
    case 10: throw std::runtime_error("bad key");
    case 17: ::_exit(5);
    case 18: throw 42;
    default: break;
  }
  return "task " + std::to_string(i);
}

std::vector<TaskRange> chunks_of(std::size_t count, std::size_t size) {
  std::vector<TaskRange> out;
  for (std::size_t begin = 0; begin < count; begin += size) out.push_back(TaskRange{begin, std::min(begin + size, count)});
  return out;
}

std::string text_of(const std::optional<Isolated>& r) {
  if (!r) return "(not run)";
  if (const Crash* crash = std::get_if<Crash>(&*r)) return (crash->hung ? "hung: " : "crash: ") + crash->cause;
  return std::get<std::string>(*r);
}

TEST_CASE("Isolated tasks come back in task order, a crash as the result of the task that crashed", "[sweep][crash]") {
  for (const unsigned jobs : {1u, 3u}) {
    INFO("jobs " << jobs);
    std::vector<std::size_t> done;
    const auto results = run_isolated(chunks_of(23, 5), IsolationOptions{jobs, 0}, work, [&](std::size_t i, const Isolated&) {
      done.push_back(i);
      return true;
    });
    REQUIRE(results.size() == 23);
    CHECK(done.size() == 23);
    for (std::size_t i = 0; i < results.size(); ++i) {
      INFO("task " << i);
      switch (i) {
        case 4: CHECK(text_of(results[i]) == "crash: killed by signal 11 (SIGSEGV)"); break;
        case 9: CHECK(text_of(results[i]) == "crash: killed by signal 6 (SIGABRT)"); break;
        case 10: CHECK(text_of(results[i]) == "crash: uncaught exception: bad key"); break;
        case 17: CHECK(text_of(results[i]) == "crash: exited with status 5 before reporting its result"); break;
        case 18: CHECK(text_of(results[i]) == "crash: uncaught exception of a type not derived from std::exception"); break;
        default: CHECK(text_of(results[i]) == "task " + std::to_string(i));
      }
    }
  }
}

TEST_CASE("Isolated tasks run in child processes, never in the caller", "[sweep][crash]") {
  const pid_t parent = ::getpid();
  const auto results = run_isolated(chunks_of(4, 2), IsolationOptions{2, 0}, [&](std::size_t) {
    return std::string(::getpid() != parent && ::getppid() == parent ? "child" : "parent");
  });
  for (const auto& r : results) CHECK(text_of(r) == "child");
}

TEST_CASE("Once on_done says stop, no further child starts and unstarted tasks stay empty", "[sweep][crash]") {
  const auto results = run_isolated(chunks_of(12, 3), IsolationOptions{1, 0}, [](std::size_t i) { return std::to_string(i); },
                                    [](std::size_t i, const Isolated&) { return i != 1; });
  for (std::size_t i = 0; i < 12; ++i) CHECK(results[i].has_value() == (i < 3));
}

TEST_CASE("A task past the time limit is killed as hung and the rest of its chunk goes on", "[sweep][crash]") {
  const auto results = run_isolated(chunks_of(4, 4), IsolationOptions{2, 300}, [](std::size_t i) {
    if (i == 1) {
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    return std::to_string(i);
  });
  CHECK(text_of(results[0]) == "0");
  CHECK(text_of(results[1]) == "hung: no result after 300 ms: the run was killed (hung)");
  CHECK(text_of(results[2]) == "2");
  CHECK(text_of(results[3]) == "3");
}

TEST_CASE("The thread count run_isolated relies on sees every thread of the process", "[sweep]") {
  // run_isolated asserts (in Debug builds) that it forks from the only thread; this is its measure.
  CHECK(threads_in_process() == 1);
  std::atomic<bool> go{false};
  std::thread other([&] {
    while (!go.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  CHECK(threads_in_process() == 2);
  go = true;
  other.join();
}

}  // namespace
}  // namespace syncstorm
