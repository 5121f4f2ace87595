// run_isolated: tasks in forked child processes, a crash a result (libFuzzer's fork mode). The parent
// is one thread that forks and then waits in poll() on the children's pipes; it never runs a task.
#include "sim/sweep/sweep.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <system_error>

#include "sim/base/codec.hpp"

namespace syncstorm {

namespace {

// The hung-run limit is the only use of the clock here; it decides whether a child is killed, never
// anything inside a run.
using WallClock = std::chrono::steady_clock;  // determinism-ok: the hung-run limit only

// What a child writes, as [u8 tag][u64 task][u32 size][size bytes] (Writer's layout). It announces
// each task before running it, so a child that dies is blamed on the task it was in.
enum Frame : std::uint8_t { kStarting = 0, kResult = 1, kException = 2 };
constexpr std::size_t kHeaderBytes = 1 + 8 + 4;

/// Writes all of `bytes`; false when the parent is gone.
bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool write_frame(int fd, Frame tag, std::size_t task, std::string_view payload) {
  return write_all(fd, Writer().u8(tag).u64(task).bytes(payload).take());
}

/// The child's first steps. It closes the read ends of its siblings' pipes, which it inherited and
/// has no use for. Crash handlers it inherited (a test framework's, a sanitizer's) would report the
/// crash from here as if the parent had crashed: the default action lets the parent see the signal
/// instead. If the parent dies, the child goes too rather than run on unwatched.
void prepare_child(const std::vector<int>& inherited, pid_t parent) {
  for (int fd : inherited) ::close(fd);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS}) ::signal(sig, SIG_DFL);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(3);
}

/// Runs the chunk and leaves with _exit: no atexit handler runs and none of the parent's buffered
/// output is flushed a second time.
[[noreturn]] void child_main(int out, TaskRange chunk, const std::function<std::string(std::size_t)>& work) {
  for (std::size_t i = chunk.first; i < chunk.last; ++i) {
    if (!write_frame(out, kStarting, i, {})) ::_exit(3);
    Frame tag = kResult;
    std::string payload;
    try {
      payload = work(i);
    } catch (const std::exception& e) {
      tag = kException;
      payload = fmt::format("uncaught exception: {}", e.what());
    } catch (...) {
      tag = kException;
      payload = "uncaught exception of a type not derived from std::exception";
    }
    if (!write_frame(out, tag, i, payload)) ::_exit(3);
  }
  ::_exit(0);
}

std::string signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGTRAP: return "SIGTRAP";
    case SIGSYS: return "SIGSYS";
    default: return "another signal";
  }
}

std::string describe(int status) {
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {} ({})", WTERMSIG(status), signal_name(WTERMSIG(status)));
  if (WIFEXITED(status)) return fmt::format("exited with status {} before reporting its result", WEXITSTATUS(status));
  return fmt::format("ended with wait status {}", status);
}

/// Whether this thread is the process's only one. A thread that was just joined can stay listed for
/// a moment while the kernel finishes its exit (it holds no lock by then), so a second thread gets
/// up to a second to go before the answer is no. For the assertion before fork() only.
[[maybe_unused]] bool single_threaded() {
  for (int tries = 0; tries < 1'000; ++tries) {
    if (threads_in_process() <= 1) return true;
    ::usleep(1'000);
  }
  return false;
}

/// One live child: the tasks of its chunk it has not finished, and what it is doing now.
struct Child {
  pid_t pid = -1;
  unsigned slot = 0;                       ///< its worker slot (cpu_affinity.hpp), unique among live children
  int fd = -1;                             ///< the read end of its pipe
  TaskRange rest;                          ///< tasks of its chunk without a result yet
  std::optional<std::size_t> running;      ///< announced, no result yet
  WallClock::time_point started;           ///< when `running` was announced
  std::optional<std::size_t> killed_task;  ///< the task that passed the time limit, if any
  std::string buffer;                      ///< bytes read, not yet a whole frame
};

/// The parent's side of run_isolated, on the calling thread.
class Isolation {
 public:
  Isolation(const std::vector<TaskRange>& chunks, const IsolationOptions& options,
            const std::function<std::string(std::size_t)>& work, const std::function<bool(std::size_t, const Isolated&)>& on_done)
      : pending_(chunks.begin(), chunks.end()), options_(options), work_(work), on_done_(on_done) {
    std::size_t count = 0;
    for (const TaskRange& c : chunks) count = std::max(count, c.last);
    results_.resize(count);
  }
  Isolation(const Isolation&) = delete;
  Isolation& operator=(const Isolation&) = delete;

  /// Ends the children still running when an error leaves early.
  ~Isolation() {
    for (Child& c : children_) {
      ::kill(c.pid, SIGKILL);
      ::close(c.fd);
      while (::waitpid(c.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }

  std::vector<std::optional<Isolated>> run() {
    const unsigned jobs = std::max(1u, options_.jobs);
    for (;;) {
      while (!stopped_ && children_.size() < jobs && !pending_.empty()) {
        const TaskRange chunk = pending_.front();
        pending_.pop_front();
        if (chunk.first < chunk.last) start(chunk);
      }
      if (children_.empty()) return std::move(results_);
      wait_and_read();
    }
  }

 private:
  void start(TaskRange chunk) {
    assert(single_threaded() && "run_isolated forks only while its caller is the process's only thread");
    // Output the parent buffered must not be written again by a child that flushes (a model that
    // calls exit()).
    std::fflush(nullptr);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "cannot create a pipe");
    const pid_t parent = ::getpid();  // determinism-ok: only to notice the parent dying, never in a run
    unsigned slot = 0;
    while (std::any_of(children_.begin(), children_.end(), [slot](const Child& c) { return c.slot == slot; })) ++slot;
    prepare_worker_cpus();  // before the fork: every child then spreads from the same base
    const pid_t pid = ::fork();
    if (pid < 0) {
      const int error = errno;
      ::close(fds[0]);
      ::close(fds[1]);
      throw std::system_error(error, std::generic_category(), "cannot fork a child process for the runs");
    }
    if (pid == 0) {
      std::vector<int> inherited{fds[0]};
      for (const Child& c : children_) inherited.push_back(c.fd);
      prepare_child(inherited, parent);
      if (options_.jobs > 1) set_worker_slot(slot);  // a lone child stays where it runs
      child_main(fds[1], chunk, work_);
    }
    ::close(fds[1]);
    Child child;
    child.pid = pid;
    child.slot = slot;
    child.fd = fds[0];
    child.rest = chunk;
    children_.push_back(std::move(child));
  }

  /// Waits until a child wrote or ended (or a run passed the time limit), and handles it.
  void wait_and_read() {
    std::vector<pollfd> fds;
    for (const Child& c : children_) fds.push_back(pollfd{c.fd, POLLIN, 0});
    const int ready = ::poll(fds.data(), fds.size(), poll_timeout_ms());
    if (ready < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "cannot wait for the child processes");
    kill_overdue();
    if (ready <= 0) return;
    // Backwards, so that erasing a finished child leaves the indices still to visit as they were.
    for (std::size_t i = fds.size(); i-- > 0;) {
      if (fds[i].revents == 0) continue;
      if (!read_from(children_[i])) {
        finish(children_[i]);
        children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
  }

  /// Reads what the child wrote and handles its whole frames; false at end-of-file (it ended).
  bool read_from(Child& c) {
    char bytes[1 << 16];
    const ssize_t n = ::read(c.fd, bytes, sizeof bytes);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return false;
    c.buffer.append(bytes, static_cast<std::size_t>(n));
    std::size_t at = 0;
    while (c.buffer.size() - at >= kHeaderBytes) {
      std::uint64_t task = 0;
      std::uint32_t size = 0;
      std::memcpy(&task, c.buffer.data() + at + 1, sizeof task);
      std::memcpy(&size, c.buffer.data() + at + 9, sizeof size);
      if (c.buffer.size() - at - kHeaderBytes < size) break;
      const auto tag = static_cast<Frame>(c.buffer[at]);
      handle(c, tag, static_cast<std::size_t>(task), std::string_view(c.buffer).substr(at + kHeaderBytes, size));
      at += kHeaderBytes + size;
    }
    c.buffer.erase(0, at);
    return true;
  }

  void handle(Child& c, Frame tag, std::size_t task, std::string_view payload) {
    assert(task == c.rest.first && "a child reports the tasks of its chunk in order");
    if (tag == kStarting) {
      c.running = task;
      c.started = WallClock::now();
      return;
    }
    c.running.reset();
    c.rest.first = task + 1;
    if (tag == kResult) record(task, std::string(payload));
    else record(task, Crash{std::string(payload)});
  }

  /// A child reached end-of-file: it finished its chunk, or it died in the task it was running.
  void finish(Child& c) {
    ::close(c.fd);
    int status = 0;
    while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (c.rest.first >= c.rest.last) return;
    // Killed for the time limit just after that task ended after all: nobody is to blame.
    const bool late_kill = c.killed_task && c.rest.first > *c.killed_task;
    if (!late_kill) {
      // A child that died before announcing a task is blamed on the next one, so the sweep moves on.
      const std::size_t blamed = c.running.value_or(c.rest.first);
      if (c.killed_task) {
        record(blamed, Crash{fmt::format("no result after {} ms: the run was killed (hung)", options_.run_timeout_ms), true});
      } else {
        record(blamed, Crash{describe(status)});
      }
      c.rest.first = blamed + 1;
    }
    if (c.rest.first < c.rest.last && !stopped_) pending_.push_front(c.rest);
  }

  void record(std::size_t task, Isolated result) {
    if (on_done_ && !on_done_(task, result)) stopped_ = true;
    results_[task] = std::move(result);
  }

  /// -1 (wait for ever) with no time limit; else until the first running task passes it.
  int poll_timeout_ms() const {
    if (options_.run_timeout_ms <= 0) return -1;
    const auto now = WallClock::now();
    std::int64_t wait = -1;
    for (const Child& c : children_) {
      if (!c.running || c.killed_task) continue;
      const auto used = std::chrono::duration_cast<std::chrono::milliseconds>(now - c.started).count();
      const std::int64_t left = std::max<std::int64_t>(0, options_.run_timeout_ms - used);
      wait = wait < 0 ? left : std::min(wait, left);
    }
    return wait < 0 ? -1 : static_cast<int>(std::min<std::int64_t>(wait + 1, 60'000));
  }

  void kill_overdue() {
    if (options_.run_timeout_ms <= 0) return;
    const auto now = WallClock::now();
    for (Child& c : children_) {
      if (!c.running || c.killed_task) continue;
      if (now - c.started < std::chrono::milliseconds(options_.run_timeout_ms)) continue;
      c.killed_task = c.running;
      ::kill(c.pid, SIGKILL);
    }
  }

  std::deque<TaskRange> pending_;
  IsolationOptions options_;
  const std::function<std::string(std::size_t)>& work_;
  const std::function<bool(std::size_t, const Isolated&)>& on_done_;
  std::vector<Child> children_;
  std::vector<std::optional<Isolated>> results_;
  bool stopped_ = false;
};

}  // namespace

std::vector<std::optional<Isolated>> run_isolated(const std::vector<TaskRange>& chunks, const IsolationOptions& options,
                                                  const std::function<std::string(std::size_t)>& work,
                                                  const std::function<bool(std::size_t, const Isolated&)>& on_done) {
  Isolation isolation(chunks, options, work, on_done);
  return isolation.run();
}

std::size_t threads_in_process() {
  std::error_code ec;
  std::size_t count = 0;
  for (std::filesystem::directory_iterator it("/proc/self/task", ec), end; !ec && it != end; it.increment(ec)) ++count;
  return ec ? 0 : count;
}

}  // namespace syncstorm
