// Runs many independent simulations on a Boost.Asio thread pool. Results come back in task order,
// whatever the number of threads or the timing, so everything printed or written from them is
// identical on 1 and on 16 jobs. Work that may crash (a model under test) runs in forked child
// processes through run_isolated, so a crash is a result rather than the end of the process.
#pragma once

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace syncstorm {

/// Calls `work(i)` for i in [0, count) on `jobs` threads and returns the results indexed by i.
/// `on_done(i, result)` runs after each task, serialised under a lock (for progress output); it
/// may return false to stop handing out further tasks (a time budget): the results of tasks that
/// never ran are nullopt. An exception in a task is rethrown here after the pool drains.
template <typename R>
std::vector<std::optional<R>> run_parallel(std::size_t count, unsigned jobs, const std::function<R(std::size_t)>& work,
                                           const std::function<bool(std::size_t, const R&)>& on_done = {}) {
  std::vector<std::optional<R>> results(count);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex lock;
  std::exception_ptr failure;
  auto worker = [&] {
    while (!stop.load()) {
      const std::size_t i = next.fetch_add(1);
      if (i >= count) return;
      try {
        R r = work(i);
        std::lock_guard guard(lock);
        if (on_done && !on_done(i, r)) stop = true;
        results[i] = std::move(r);
      } catch (...) {
        std::lock_guard guard(lock);
        if (!failure) failure = std::current_exception();
        stop = true;
      }
    }
  };
  jobs = std::max(1u, jobs);
  if (jobs == 1) {
    worker();
  } else {
    boost::asio::thread_pool pool(jobs);
    for (unsigned t = 0; t < jobs; ++t) boost::asio::post(pool, worker);
    pool.join();
  }
  if (failure) std::rethrow_exception(failure);
  return results;
}

/// How a run in a child process ended when it handed back no result: the signal that killed the
/// child, its exit status, or the message of an exception the run threw.
struct Crash {
  std::string cause;  ///< e.g. "killed by signal 11 (SIGSEGV)", "uncaught exception: bad key"
};

/// The result of one isolated task: the bytes its work returned, or how it crashed.
using Isolated = std::variant<std::string, Crash>;

/// Calls `work(i)` for i in [first, last) in a forked child process, one task after the other, and
/// returns what each returned, in order. A task that kills its child (a signal, an abort, a non-zero
/// exit) becomes a Crash and the tasks after it go on in a new child; an exception a task throws
/// is caught in the child and becomes a Crash too. This is what libFuzzer's fork mode does: a model
/// that crashes on one seed is a finding of that seed, never the end of the sweep. Other threads
/// may be running when a pool thread forks: the child only runs `work` (whose allocations the
/// allocator's fork handlers keep safe) and writes to its pipe, then leaves with _exit, so no
/// atexit handler runs and none of the parent's buffered output is flushed twice.
std::vector<Isolated> run_isolated(std::size_t first, std::size_t last, const std::function<std::string(std::size_t)>& work);

}  // namespace syncstorm
