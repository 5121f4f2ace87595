// The trace: every event of a run with its virtual time. A 64-bit hash over every event is always
// kept (equal hashes, or the first event where two traces part); JSON Lines are written on request.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "sim/base/time.hpp"

namespace syncstorm {

enum class TraceKind : std::uint8_t {
  send, deliver, drop, duplicate, reset, connect_attempt, connected, connect_failed,
  crash, restart, operation, applied, acknowledged, rejected, timer, fault_start, fault_end, digest,
  intent_lost,
  hostile,  ///< a malicious fault's message, before its send event: a = HostileKind, b = bytes
};
std::string_view to_string(TraceKind kind);

/// One event. Field meaning depends on the kind (see to_json); all integers, so hashing is exact.
struct TraceEvent {
  Instant at;
  TraceKind kind = TraceKind::send;
  std::uint32_t node = 0;  ///< the node it happens at (the sender for send/drop)
  std::uint32_t peer = 0;  ///< the other end, where there is one
  std::uint64_t a = 0;     ///< message id, operation id, fault index, timer tag or digest
  std::uint64_t b = 0;     ///< bytes, reason code or target
};

std::string to_json(const TraceEvent& event);

class Trace {
 public:
  /// `out` receives JSON Lines when not null; the hash is kept either way.
  explicit Trace(std::ostream* out = nullptr) : out_(out) {}
  void record(const TraceEvent& event) {
    mix(static_cast<std::uint64_t>(event.at.us));
    mix((static_cast<std::uint64_t>(event.kind) << 56) ^ (static_cast<std::uint64_t>(event.node) << 28) ^ event.peer);
    mix(event.a);
    mix(event.b);
    ++events_;
    if (out_ != nullptr) *out_ << to_json(event) << '\n';
  }
  std::uint64_t hash() const { return hash_; }
  std::uint64_t events() const { return events_; }

 private:
  // A multiply-xorshift fold: fast on the hot path and sensitive to order.
  void mix(std::uint64_t v) {
    hash_ ^= v + 0x9e3779b97f4a7c15ULL + (hash_ << 6) + (hash_ >> 2);
    hash_ *= 0xff51afd7ed558ccdULL;
    hash_ ^= hash_ >> 32;
  }
  std::ostream* out_;
  std::uint64_t hash_ = 0x6a09e667f3bcc908ULL;
  std::uint64_t events_ = 0;
};

}  // namespace syncstorm
