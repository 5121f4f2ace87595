// The interactive timeline of one run: a single self-contained HTML page (inline CSS and script, the
// run embedded as JSON, no network) with one lane per node, messages as arrows over simulated time,
// faults as shaded spans, operations as marks and the run's violations marked and listed. It is
// the space-time diagram (lamport_svg) made explorable: zoom, pan, filters, and every message's bytes.
// The page holds simulated figures only (no date, host or path), so the same run gives the same bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sim/checkers/history.hpp"
#include "sim/checkers/invariants.hpp"
#include "sim/scenario/schedule.hpp"

namespace syncstorm {

/// What a page may hold. A run of a million events would make a page no browser opens, so the
/// first `events_max` events in trace order are embedded and the page says where it stops.
struct TimelineLimits {
  /// Trace events embedded in the page (timers and state digests are never embedded: they are
  /// bookkeeping, not something a user saw or a message that travelled).
  std::size_t events_max = 20'000;
  /// Bytes of one message's payload embedded as hex; a longer payload is cut and marked as cut.
  std::size_t payload_bytes_max = 2'048;
  /// Lanes drawn: the servers, the clients the violations name, then the other clients in order.
  /// Events at nodes without a lane are left out (and counted as left out).
  std::size_t lanes_max = 200;
};

/// Keeps the bytes of the messages a run sends, for the page's message details. Hand `callback()`
/// to RunOptions::on_send. It keeps at most `messages_max` payloads, each cut to
/// `payload_bytes_max`, so a long run costs bounded memory.
class PayloadRecorder {
 public:
  explicit PayloadRecorder(const TimelineLimits& limits = {})
      : messages_max_(limits.events_max), bytes_max_(limits.payload_bytes_max) {}
  void record(std::uint64_t message, std::string_view payload) {
    if (payloads_.size() >= messages_max_) return;
    payloads_.emplace(message, std::string(payload.substr(0, bytes_max_)));
  }
  /// Message id -> its first bytes.
  const std::map<std::uint64_t, std::string>& payloads() const { return payloads_; }

 private:
  std::size_t messages_max_;
  std::size_t bytes_max_;
  std::map<std::uint64_t, std::string> payloads_;
};

/// One run, as the page shows it.
struct TimelineRun {
  std::string title;   ///< e.g. "lww-map-wallclock on clock-skew, seed 3"
  std::string replay;  ///< the command that reproduces the run
  const Schedule* schedule = nullptr;
  std::string_view trace_jsonl;                           ///< the run's JSON Lines trace
  const std::vector<Violation>* violations = nullptr;
  const History* history = nullptr;                       ///< for the violations' reports
  const std::map<std::uint64_t, std::string>* payloads = nullptr;  ///< message id -> bytes; may be null
};

/// The page's data: lanes, messages, marks, faults, violations and what the limits left out, as
/// the JSON the page embeds. Exposed so tests can read what the page holds without a browser.
std::string timeline_json(const TimelineRun& run, const TimelineLimits& limits = {});

/// The whole page.
std::string timeline_html(const TimelineRun& run, const TimelineLimits& limits = {});

}  // namespace syncstorm
