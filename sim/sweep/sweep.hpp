// Runs many independent simulations on a Boost.Asio thread pool. Results come back in task order,
// whatever the number of threads or the timing, so everything printed or written from them is
// identical on 1 and on 16 jobs. Work that may crash (a model under test) runs in forked child
// processes through run_isolated instead, so a crash is a result rather than the end of the process;
// there the parent runs no threads at all and the children are the parallelism.
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

#include "sim/base/cpu_affinity.hpp"

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
    prepare_worker_cpus();
    boost::asio::thread_pool pool(jobs);
    for (unsigned t = 0; t < jobs; ++t) {
      boost::asio::post(pool, [&worker, t] {
        set_worker_slot(t);  // each thread's external runs get a CPU of their own
        worker();
      });
    }
    pool.join();
  }
  if (failure) std::rethrow_exception(failure);
  return results;
}

/// How a run in a child process ended when it handed back no result: the signal that killed the
/// child, its exit status, the message of an exception the run threw, or the time limit it passed.
struct Crash {
  std::string cause;  ///< e.g. "killed by signal 11 (SIGSEGV)", "uncaught exception: bad key"
  bool hung = false;  ///< the run passed the wall-clock limit and its child was killed
};

/// The result of one isolated task: the bytes its work returned, or how it crashed.
using Isolated = std::variant<std::string, Crash>;

/// Tasks [first, last) that one child process runs one after the other.
struct TaskRange {
  std::size_t first = 0;
  std::size_t last = 0;
};

struct IsolationOptions {
  unsigned jobs = 1;                 ///< child processes at a time
  std::int64_t run_timeout_ms = 0;   ///< wall-clock milliseconds one task may take; 0 = no limit
};

/// Calls `work(i)` for every task of `chunks` in forked child processes, at most `jobs` children
/// at a time, each child running one chunk in order, and returns what each task returned, indexed
/// by task (the size is the largest `last`). This is libFuzzer's fork mode: a task that kills its
/// child (a signal, an abort, an exit) becomes a Crash, and the rest of its chunk goes on in a new
/// child; an exception a task throws is caught in the child and becomes a Crash too. So a model that
/// crashes on one seed is a finding of that seed, never the end of the sweep.
///
/// The calling thread does all the parent's work (forks, and a poll() over the children's pipes)
/// and must be the process's only thread: a child forked while another thread holds a lock (the
/// sanitizer's allocator lock, a stdio lock) would wait on it for ever. Debug builds assert it.
/// Children run chunks in parallel, so which task finishes first varies; the results do not.
///
/// `on_done(i, result)` runs in the parent as each task finishes, in whatever order they finish
/// (for progress output); it may return false to stop starting children (a time budget): running
/// children finish their chunks, and tasks that never ran are nullopt. A task running longer than
/// `run_timeout_ms` gets its child killed and becomes a Crash with `hung` set; the limit is for
/// models that never return and, being wall-clock, it is off by default.
std::vector<std::optional<Isolated>> run_isolated(const std::vector<TaskRange>& chunks, const IsolationOptions& options,
                                                  const std::function<std::string(std::size_t)>& work,
                                                  const std::function<bool(std::size_t, const Isolated&)>& on_done = {});

/// Threads in this process right now, from /proc/self/task; 0 where that cannot be read.
std::size_t threads_in_process();

}  // namespace syncstorm
