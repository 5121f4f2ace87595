#include "sim/sweep/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

namespace syncstorm {

using Clock = std::chrono::steady_clock;  // determinism-ok: progress display only, never in results

Progress::Progress(std::string label, std::uint64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), terminal_(isatty(fileno(stderr)) != 0),
      start_(Clock::now()), last_draw_(start_) {}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

void Progress::tick(bool failed) {
  ++done_;
  if (failed) ++failures_;
  if (!enabled_) return;
  const auto now = Clock::now();
  // A terminal redraws ten times a second; a log gets a line every ten seconds.
  const auto every = terminal_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(10'000);
  if (now - last_draw_ < every && done_ != total_) return;
  last_draw_ = now;
  draw(false);
}

void Progress::finish() {
  if (!enabled_) return;
  if (!terminal_ && drawn_ == done_) return;  // a log already has the line of the last run
  draw(true);
}

void Progress::draw(bool final_line) {
  drawn_ = done_;
  const double elapsed = elapsed_seconds();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  const double left = rate > 0 && total_ > done_ ? static_cast<double>(total_ - done_) / rate : 0.0;
  const std::uint64_t percent = total_ ? done_ * 100 / total_ : 100;
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled = total_ ? static_cast<int>(done_ * kWidth / total_) : kWidth;
    fmt::print(stderr, "\r{} [{:=<{}}{: <{}}] {}/{} runs  {:.0f} runs/s  {} failing  {:.0f}s left ", label_, "", filled, "",
               kWidth - filled, done_, total_, rate, failures_, left);
    if (final_line) fmt::print(stderr, "\n");
  } else {
    fmt::print(stderr, "{}: {}/{} runs ({}%), {:.0f} runs/s, {} failing, {:.0f}s left\n", label_, done_, total_, percent,
               rate, failures_, left);
  }
  std::fflush(stderr);
}

}  // namespace syncstorm
