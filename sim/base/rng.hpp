// The one random source of the simulation: xoshiro256** seeded through splitmix64, with our own
// integer-only distributions. std:: distributions differ between standard libraries and floating
// point differs between optimisation levels, so neither may decide anything that enters a trace.
#pragma once

#include <cstdint>
#include <string_view>

#include "sim/base/time.hpp"

namespace syncstorm {

/// splitmix64: used to seed xoshiro and to derive independent streams from (seed, name, index).
constexpr std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// FNV-1a over the bytes of a name; stable across compilers and machines.
constexpr std::uint64_t fnv1a64(std::string_view text, std::uint64_t hash = 0xcbf29ce484222325ULL) {
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

/// A portable pseudo-random generator. Every stream of a run is derived from the run seed and the
/// name of the component that owns it, never from a shared sequence of draws: adding a client or a
/// fault must not shift any other component's draws.
class Rng {
 public:
  explicit Rng(std::uint64_t seed);

  /// The stream that component `name` (and its `index`, e.g. a client number) owns in run `seed`.
  static Rng derive(std::uint64_t seed, std::string_view name, std::uint64_t index = 0);

  std::uint64_t next();

  /// Uniform in [0, bound); bound must be positive. Unbiased (Lemire's method with rejection).
  std::uint64_t below(std::uint64_t bound);
  /// Uniform in [low, high], both inclusive.
  std::int64_t between(std::int64_t low, std::int64_t high);
  /// True with probability ppm / 1,000,000.
  bool chance_ppm(std::uint32_t ppm);
  /// Uniform duration in [low, high].
  Duration duration_between(Duration low, Duration high);
  /// Exponentially distributed with the given mean (e.g. Poisson think times).
  Duration exponential(Duration mean);
  /// Log-normal: half of the draws fall below `median`, 1% above `p99`. For latency tails.
  Duration lognormal(Duration median, Duration p99);
  /// The log-normal spread for (median, p99) in log2 units, Q32; compute once, draw many times.
  static std::int64_t lognormal_sigma(Duration median, Duration p99);
  /// A log-normal draw with a precomputed spread (see lognormal_sigma).
  Duration lognormal_with(Duration median, std::int64_t sigma_log2_q32);
  /// Pareto with scale `minimum` and shape alpha = alpha_milli / 1000 (heavy tail).
  Duration pareto(Duration minimum, std::uint32_t alpha_milli);
  /// An approximately standard normal draw in Q32.32 fixed point (Irwin-Hall of 12 uniforms).
  std::int64_t normal_q32();

 private:
  std::uint64_t s_[4];
};

namespace fixed {
/// log2(x) for x >= 1, in Q32.32 fixed point: a table and three series terms, within 2^-31 of
/// the exact value and identical on every machine (integers only).
std::int64_t log2_q32(std::uint64_t x);
/// value * 2^(exponent_q32 / 2^32), saturating at INT64_MAX / 4; relative error below 2^-35.
std::int64_t mul_exp2(std::int64_t value, std::int64_t exponent_q32);
/// The bit-by-bit versions (32 squarings or multiplications): the reference the fast ones are pinned to.
std::int64_t log2_q32_exact(std::uint64_t x);
std::int64_t mul_exp2_exact(std::int64_t value, std::int64_t exponent_q32);
}  // namespace fixed

}  // namespace syncstorm
