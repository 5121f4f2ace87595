// Virtual time: integer microseconds, never floating point, never the wall clock.
#pragma once

#include <compare>
#include <cstdint>
#include <limits>

namespace syncstorm {

/// A span of virtual time in microseconds. Integer so that sums never depend on evaluation order.
struct Duration {
  std::int64_t us = 0;

  static constexpr Duration micros(std::int64_t n) { return Duration{n}; }
  static constexpr Duration millis(std::int64_t n) { return Duration{n * 1'000}; }
  static constexpr Duration seconds(std::int64_t n) { return Duration{n * 1'000'000}; }
  static constexpr Duration zero() { return Duration{0}; }
  static constexpr Duration max() { return Duration{std::numeric_limits<std::int64_t>::max() / 4}; }

  constexpr auto operator<=>(const Duration&) const = default;
  constexpr Duration operator+(Duration o) const { return Duration{us + o.us}; }
  constexpr Duration operator-(Duration o) const { return Duration{us - o.us}; }
  constexpr Duration operator*(std::int64_t k) const { return Duration{us * k}; }
  constexpr Duration operator/(std::int64_t k) const { return Duration{us / k}; }
  constexpr Duration& operator+=(Duration o) { us += o.us; return *this; }
  constexpr double to_seconds() const { return static_cast<double>(us) / 1e6; }  // for display only
  constexpr double to_millis() const { return static_cast<double>(us) / 1e3; }   // for display only
};

/// A point in virtual time, measured from the start of the run (which is always zero).
struct Instant {
  std::int64_t us = 0;

  static constexpr Instant start() { return Instant{0}; }
  static constexpr Instant never() { return Instant{std::numeric_limits<std::int64_t>::max() / 2}; }

  constexpr auto operator<=>(const Instant&) const = default;
  constexpr Instant operator+(Duration d) const { return Instant{us + d.us}; }
  constexpr Instant operator-(Duration d) const { return Instant{us - d.us}; }
  constexpr Duration operator-(Instant o) const { return Duration{us - o.us}; }
  constexpr Instant& operator+=(Duration d) { us += d.us; return *this; }
};

constexpr Instant max(Instant a, Instant b) { return a < b ? b : a; }
constexpr Instant min(Instant a, Instant b) { return a < b ? a : b; }
constexpr Duration max(Duration a, Duration b) { return a < b ? b : a; }
constexpr Duration min(Duration a, Duration b) { return a < b ? a : b; }

}  // namespace syncstorm
