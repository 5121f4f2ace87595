#include "sim/sweep.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "sim/codec.hpp"

namespace syncstorm {

namespace {

// What the child writes per task: a tag, the length of the payload, the payload.
enum Frame : std::uint8_t { kResult = 0, kException = 1 };

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

bool write_frame(int fd, Frame tag, std::string_view payload) {
  return write_all(fd, Writer().u8(tag).bytes(payload).take());
}

/// The child's first steps. Descriptors that other threads opened meanwhile (the pipes of their own
/// children) would keep those pipes from reaching end-of-file while this child lives, so all but
/// its own pipe and the standard streams go. Crash handlers it inherited (a test framework's, a
/// sanitizer's) would report the crash from here as if the parent had crashed: the default action
/// lets the parent see the signal instead.
void prepare_child(int out) {
  for (int fd = 3; fd < out; ++fd) ::close(fd);
  const long max = ::sysconf(_SC_OPEN_MAX);
  if (::close_range(static_cast<unsigned>(out) + 1, ~0U, 0) != 0) {
    for (long fd = out + 1; fd < (max > 0 ? max : 1024); ++fd) ::close(static_cast<int>(fd));
  }
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS}) ::signal(sig, SIG_DFL);
}

[[noreturn]] void child_main(int out, std::size_t first, std::size_t last, const std::function<std::string(std::size_t)>& work) {
  prepare_child(out);
  for (std::size_t i = first; i < last; ++i) {
    bool written = false;
    try {
      const std::string result = work(i);
      written = write_frame(out, kResult, result);
    } catch (const std::exception& e) {
      written = write_frame(out, kException, fmt::format("uncaught exception: {}", e.what()));
    } catch (...) {
      written = write_frame(out, kException, "uncaught exception of a type not derived from std::exception");
    }
    if (!written) ::_exit(3);
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

/// Reads the pipe to end-of-file: every frame the child finished writing.
std::string read_all(int fd) {
  std::string bytes;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return bytes;
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
}

/// Appends the complete frames of `bytes` to `out` (a frame cut short by a crash is dropped).
void decode_frames(std::string_view bytes, std::vector<Isolated>& out) {
  Reader r(bytes);
  while (!r.at_end()) {
    const std::uint8_t tag = r.u8();
    const std::string_view payload = r.bytes();
    if (!r.ok()) return;
    if (tag == kResult) out.emplace_back(std::string(payload));
    else out.emplace_back(Crash{std::string(payload)});
  }
}

/// Runs tasks [first, last) in one child; returns its results and, when it died early, its status.
std::pair<std::vector<Isolated>, int> run_child(std::size_t first, std::size_t last,
                                                const std::function<std::string(std::size_t)>& work) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "cannot create a pipe");
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::system_error(error, std::generic_category(), "cannot fork a child process for the runs");
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], first, last, work);
  }
  ::close(fds[1]);
  const std::string bytes = read_all(fds[0]);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::vector<Isolated> results;
  decode_frames(bytes, results);
  return {std::move(results), status};
}

}  // namespace

std::vector<Isolated> run_isolated(std::size_t first, std::size_t last, const std::function<std::string(std::size_t)>& work) {
  std::vector<Isolated> out;
  while (first + out.size() < last) {
    auto [results, status] = run_child(first + out.size(), last, work);
    for (Isolated& r : results) out.push_back(std::move(r));
    // The first task with no result is the one that ended the child; the rest go to a new child.
    if (first + out.size() < last) out.emplace_back(Crash{describe(status)});
  }
  return out;
}

}  // namespace syncstorm
