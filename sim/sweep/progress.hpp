// Progress of a sweep: a redrawn bar on a terminal, plain periodic lines otherwise (CI logs stay
// readable). Wall-clock time is used here for display only; nothing it measures enters a result.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace syncstorm {

class Progress {
 public:
  /// `label` names the sweep ("check", "compare"); `total` runs are expected. Writes to stderr.
  Progress(std::string label, std::uint64_t total, bool enabled = true);
  /// One run finished; `failed` when it found a violation.
  void tick(bool failed);
  /// Prints the final line.
  void finish();
  double elapsed_seconds() const;

 private:
  void draw(bool final_line);
  std::string label_;
  std::uint64_t total_;
  std::uint64_t done_ = 0;
  std::uint64_t drawn_ = ~std::uint64_t{0};  ///< done_ when a line was last drawn
  std::uint64_t failures_ = 0;
  bool enabled_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_;       // determinism-ok: display only
  std::chrono::steady_clock::time_point last_draw_;   // determinism-ok: display only
};

}  // namespace syncstorm
