#include "sim/base/rng.hpp"

#include <array>
#include <cassert>

namespace syncstorm {

namespace {

constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// GCC and Clang on 64-bit targets have 128-bit integers; __extension__ marks the deliberate use.
__extension__ using u128 = unsigned __int128;
__extension__ using i128 = __int128;

// Integer square root of a 128-bit value (Newton's method), usable at compile time.
constexpr std::uint64_t isqrt128(u128 n) {
  if (n == 0) return 0;
  u128 x = n;
  u128 y = (x + 1) / 2;
  while (y < x) {
    x = y;
    y = (x + n / x) / 2;
  }
  return static_cast<std::uint64_t>(x);
}

constexpr int kQ = 62;  // exp2 table precision: Q2.62
// kRoots[j] = 2^(2^-(j+1)) in Q2.62, computed by repeated integer square roots of 2.
constexpr std::array<std::uint64_t, 32> make_roots() {
  std::array<std::uint64_t, 32> roots{};
  std::uint64_t value = std::uint64_t{2} << kQ;
  for (std::size_t j = 0; j < roots.size(); ++j) {
    value = isqrt128(static_cast<u128>(value) << kQ);
    roots[j] = value;
  }
  return roots;
}
constexpr std::array<std::uint64_t, 32> kRoots = make_roots();

constexpr std::int64_t kSaturated = INT64_MAX / 4;

}  // namespace

Rng::Rng(std::uint64_t seed) {
  std::uint64_t state = seed;
  for (auto& word : s_) word = splitmix64(state);
}

Rng Rng::derive(std::uint64_t seed, std::string_view name, std::uint64_t index) {
  std::uint64_t state = seed ^ fnv1a64(name);
  std::uint64_t mixed = splitmix64(state);
  state = mixed ^ (index * 0xd1b54a32d192ed03ULL);
  return Rng(splitmix64(state));
}

std::uint64_t Rng::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

std::uint64_t Rng::below(std::uint64_t bound) {
  assert(bound > 0 && "below() needs a positive bound");
  u128 m = static_cast<u128>(next()) * bound;
  auto low = static_cast<std::uint64_t>(m);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<u128>(next()) * bound;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

std::int64_t Rng::between(std::int64_t low, std::int64_t high) {
  assert(low <= high);
  const auto span = static_cast<std::uint64_t>(high - low) + 1;
  if (span == 0) return static_cast<std::int64_t>(next());  // the full 64-bit range
  return low + static_cast<std::int64_t>(below(span));
}

bool Rng::chance_ppm(std::uint32_t ppm) {
  if (ppm == 0) return false;
  if (ppm >= 1'000'000) return true;
  return below(1'000'000) < ppm;
}

Duration Rng::duration_between(Duration low, Duration high) { return Duration{between(low.us, high.us)}; }

Duration Rng::exponential(Duration mean) {
  // -ln(U) = log2(1/U) * ln 2, with U = x / 2^32 and x uniform in [1, 2^32].
  const std::uint64_t x = below(std::uint64_t{1} << 32) + 1;
  const std::int64_t neg_log2_u = (std::int64_t{32} << 32) - fixed::log2_q32(x);  // Q32, >= 0
  constexpr std::int64_t kLn2Q32 = 2977044472LL;                               // ln 2 * 2^32
  const auto neg_ln_u = static_cast<std::int64_t>((static_cast<i128>(neg_log2_u) * kLn2Q32) >> 32);
  return Duration{static_cast<std::int64_t>((static_cast<i128>(mean.us) * neg_ln_u) >> 32)};
}

std::int64_t Rng::normal_q32() {
  // Irwin-Hall: the sum of 12 uniforms on [0, 1) minus 6 has mean 0 and variance 1.
  std::int64_t sum = 0;
  for (int i = 0; i < 12; ++i) sum += static_cast<std::int64_t>(next() >> 32);
  return sum - (std::int64_t{6} << 32);
}

std::int64_t Rng::lognormal_sigma(Duration median, Duration p99) {
  if (median.us <= 0 || p99 <= median) return 0;
  // sigma in log2 units: log2(p99 / median) / z99, with z99 = 2.3263 for the 99th percentile.
  const std::int64_t log2_ratio = fixed::log2_q32(static_cast<std::uint64_t>(p99.us)) -
                                  fixed::log2_q32(static_cast<std::uint64_t>(median.us));
  return log2_ratio * 10'000 / 23'263;
}

Duration Rng::lognormal_with(Duration median, std::int64_t sigma_log2_q32) {
  if (median.us <= 0) return Duration::zero();
  if (sigma_log2_q32 == 0) return median;
  const auto exponent = static_cast<std::int64_t>((static_cast<i128>(sigma_log2_q32) * normal_q32()) >> 32);
  return Duration{fixed::mul_exp2(median.us, exponent)};
}

Duration Rng::lognormal(Duration median, Duration p99) { return lognormal_with(median, lognormal_sigma(median, p99)); }

Duration Rng::pareto(Duration minimum, std::uint32_t alpha_milli) {
  assert(alpha_milli > 0);
  const std::uint64_t x = below(std::uint64_t{1} << 32) + 1;
  const std::int64_t neg_log2_u = (std::int64_t{32} << 32) - fixed::log2_q32(x);
  const std::int64_t exponent = neg_log2_u * 1000 / alpha_milli;
  return Duration{fixed::mul_exp2(minimum.us, exponent)};
}

namespace fixed {

namespace {

// The exact algorithms, bit by bit. They build the tables below at compile time and pin the fast
// versions in tests; every result is the same on every machine.
constexpr std::uint64_t log2_mantissa_q62(std::uint64_t y) {  // y in [1, 2) as Q2.62 -> log2(y) in Q62
  std::uint64_t fraction = 0;
  for (int bit = 61; bit >= 0; --bit) {
    u128 square = (static_cast<u128>(y) * y) >> kQ;
    if (square >= (static_cast<u128>(2) << kQ)) {
      square >>= 1;
      fraction |= std::uint64_t{1} << bit;
    }
    y = static_cast<std::uint64_t>(square);
  }
  return fraction;
}

constexpr u128 exp2_fraction_q62(std::uint32_t fraction) {  // 2^(fraction / 2^32) in Q2.62
  u128 factor = static_cast<u128>(1) << kQ;
  for (int bit = 31; bit >= 0; --bit) {
    if (fraction & (std::uint32_t{1} << bit)) factor = (factor * kRoots[31 - bit]) >> kQ;
  }
  return factor;
}

// log2(1 + i/256) and 2^(i/256) in Q62, for i in [0, 256).
constexpr std::array<std::uint64_t, 256> make_log2_table() {
  std::array<std::uint64_t, 256> t{};
  for (std::uint64_t i = 0; i < 256; ++i) t[i] = log2_mantissa_q62((256 + i) << 54);
  return t;
}
constexpr std::array<std::uint64_t, 256> make_exp2_table() {
  std::array<std::uint64_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) t[i] = static_cast<std::uint64_t>(exp2_fraction_q62(i << 24));
  return t;
}
constexpr std::array<std::uint64_t, 256> kLog2Table = make_log2_table();
constexpr std::array<std::uint64_t, 256> kExp2Table = make_exp2_table();
constexpr std::uint64_t kInvLn2Q62 = 6653256548922161245ULL;  // 1 / ln 2 in Q62
constexpr std::uint64_t kLn2Q62 = 3196577161300663914ULL;     // ln 2 in Q62

std::uint64_t normalise_q62(std::uint64_t x, int integer_part) {
  return integer_part <= kQ ? x << (kQ - integer_part) : x >> (integer_part - kQ);
}

std::int64_t scale_by_power_of_two(u128 value_times_fraction, std::int64_t integer_part) {
  u128 result = value_times_fraction;
  if (integer_part >= 0) {
    if (integer_part > 62 || result > (static_cast<u128>(kSaturated) >> integer_part)) return kSaturated;
    result <<= integer_part;
  } else {
    if (-integer_part >= 64) return 0;
    result >>= -integer_part;
  }
  return result > static_cast<u128>(kSaturated) ? kSaturated : static_cast<std::int64_t>(result);
}

}  // namespace

std::int64_t log2_q32_exact(std::uint64_t x) {
  assert(x >= 1);
  const int integer_part = 63 - __builtin_clzll(x);
  const std::uint64_t fraction = log2_mantissa_q62(normalise_q62(x, integer_part));
  return (static_cast<std::int64_t>(integer_part) << 32) + static_cast<std::int64_t>(fraction >> 30);
}

std::int64_t log2_q32(std::uint64_t x) {
  assert(x >= 1);
  const int integer_part = 63 - __builtin_clzll(x);
  const std::uint64_t m = normalise_q62(x, integer_part);  // [2^62, 2^63)
  const std::uint64_t i = (m >> 54) & 0xff;
  const std::uint64_t d = m & ((std::uint64_t{1} << 54) - 1);
  // log2(m) = log2(1 + i/256) + log2(1 + r), r = d / ((256 + i) * 2^54) < 2^-8: three series terms
  // leave an error below 2^-34, under the last bit of the Q32 result.
  const std::uint64_t r = (d << 8) / (256 + i);  // Q62
  const auto r2 = static_cast<std::uint64_t>((static_cast<u128>(r) * r) >> kQ);
  const auto r3 = static_cast<std::uint64_t>((static_cast<u128>(r2) * r) >> kQ);
  const std::uint64_t ln = r - r2 / 2 + r3 / 3;
  const auto log2_rest = static_cast<std::uint64_t>((static_cast<u128>(ln) * kInvLn2Q62) >> kQ);
  const std::uint64_t fraction = kLog2Table[i] + log2_rest;  // may reach 1.0 in Q62 just below 2
  return (static_cast<std::int64_t>(integer_part) << 32) + static_cast<std::int64_t>(fraction >> 30);
}

std::int64_t mul_exp2_exact(std::int64_t value, std::int64_t exponent_q32) {
  if (value <= 0) return value;
  const std::int64_t integer_part = exponent_q32 >> 32;  // floor, also for negative exponents
  const auto fraction = static_cast<std::uint32_t>(exponent_q32 & 0xffffffff);
  return scale_by_power_of_two((static_cast<u128>(value) * exp2_fraction_q62(fraction)) >> kQ, integer_part);
}

std::int64_t mul_exp2(std::int64_t value, std::int64_t exponent_q32) {
  if (value <= 0) return value;
  const std::int64_t integer_part = exponent_q32 >> 32;
  const auto fraction = static_cast<std::uint32_t>(exponent_q32 & 0xffffffff);
  // 2^f = 2^(i/256) * e^(g ln 2) with g < 2^-8: three series terms, error below 2^-36.
  const std::uint64_t g = fraction & 0xffffff;  // Q32
  const auto y = static_cast<std::uint64_t>((static_cast<u128>(g << 30) * kLn2Q62) >> kQ);  // Q62
  const auto y2 = static_cast<std::uint64_t>((static_cast<u128>(y) * y) >> kQ);
  const auto y3 = static_cast<std::uint64_t>((static_cast<u128>(y2) * y) >> kQ);
  const u128 e = (static_cast<u128>(1) << kQ) + y + y2 / 2 + y3 / 6;
  const u128 factor = (static_cast<u128>(kExp2Table[fraction >> 24]) * e) >> kQ;
  return scale_by_power_of_two((static_cast<u128>(value) * factor) >> kQ, integer_part);
}

}  // namespace fixed
}  // namespace syncstorm
