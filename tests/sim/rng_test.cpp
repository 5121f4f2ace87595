// The random source is pinned: if any of these values change, every recorded seed stops replaying.
#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include <rapidcheck/catch.h>

#include "sim/base/rng.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

TEST_CASE("the generator gives pinned values for a known seed", "[rng]") {
  // Expected values come from an independent Python transcription of splitmix64 and xoshiro256**
  // (Blackman and Vigna's reference algorithms), not from this code's own output.
  Rng rng(0xabcd1234);
  REQUIRE(rng.next() == 0xdb530dc31a93931dULL);
  REQUIRE(rng.next() == 0x01ce5b7965d9a62aULL);
  REQUIRE(rng.below(1000) == 284);
  Rng derived = Rng::derive(42, "network", 3);
  REQUIRE(derived.next() == 0xa5cf2b5e407ae88bULL);
}

TEST_CASE("derived streams differ by name and by index and do not shift each other", "[rng]") {
  Rng a = Rng::derive(7, "workload", 0);
  Rng b = Rng::derive(7, "workload", 1);
  Rng c = Rng::derive(7, "network", 0);
  const auto first_a = a.next();
  REQUIRE(first_a != b.next());
  REQUIRE(first_a != c.next());
  // Drawing from one stream never moves another: a fresh derivation gives the same first value.
  REQUIRE(Rng::derive(7, "workload", 0).next() == first_a);
}

TEST_CASE("below stays in range and covers it evenly", "[rng]") {
  Rng rng(1);
  std::vector<int> counts(10, 0);
  for (int i = 0; i < 100'000; ++i) {
    const auto v = rng.below(10);
    REQUIRE(v < 10);
    ++counts[v];
  }
  for (int c : counts) REQUIRE(std::abs(c - 10'000) < 500);
}

TEST_CASE("chance_ppm hits its rate", "[rng]") {
  Rng rng(2);
  int hits = 0;
  for (int i = 0; i < 200'000; ++i) hits += rng.chance_ppm(100'000) ? 1 : 0;
  REQUIRE(std::abs(hits - 20'000) < 600);
  REQUIRE_FALSE(Rng(3).chance_ppm(0));
  REQUIRE(Rng(3).chance_ppm(1'000'000));
}

TEST_CASE("fixed-point log2 and exp2 are exact where they must be", "[rng]") {
  REQUIRE(fixed::log2_q32(1) == 0);
  REQUIRE(fixed::log2_q32(2) == (std::int64_t{1} << 32));
  REQUIRE(fixed::log2_q32(1024) == (std::int64_t{10} << 32));
  // log2(3) = 1.5849625007 = 6807362106 / 2^32; within 2^-30 of it.
  REQUIRE(std::abs(fixed::log2_q32(3) - 6807362106LL) < 4);
  REQUIRE(fixed::mul_exp2(1000, std::int64_t{1} << 32) == 2000);
  REQUIRE(fixed::mul_exp2(1000, -(std::int64_t{1} << 32)) == 500);
  REQUIRE(std::abs(fixed::mul_exp2(1'000'000, std::int64_t{1} << 31) - 1'414'213) <= 1);
}

TEST_CASE("exponential draws have the configured mean", "[rng]") {
  Rng rng(4);
  std::int64_t sum = 0;
  constexpr int n = 100'000;
  for (int i = 0; i < n; ++i) sum += rng.exponential(Duration::millis(100)).us;
  const double mean = static_cast<double>(sum) / n;
  REQUIRE(mean == Approx(100'000.0).epsilon(0.02));
}

TEST_CASE("log-normal draws put the median and the 99th percentile where configured", "[rng]") {
  Rng rng(5);
  std::vector<std::int64_t> v;
  for (int i = 0; i < 50'000; ++i) v.push_back(rng.lognormal(Duration::millis(30), Duration::millis(150)).us);
  std::sort(v.begin(), v.end());
  REQUIRE(static_cast<double>(v[v.size() / 2]) == Approx(30'000.0).epsilon(0.05));
  REQUIRE(static_cast<double>(v[v.size() * 99 / 100]) == Approx(150'000.0).epsilon(0.10));
}

TEST_CASE("pareto draws never fall below the minimum and have a heavy tail", "[rng]") {
  Rng rng(6);
  std::int64_t biggest = 0;
  for (int i = 0; i < 10'000; ++i) {
    const auto d = rng.pareto(Duration::millis(10), 1'500).us;
    REQUIRE(d >= 10'000);
    biggest = std::max(biggest, d);
  }
  REQUIRE(biggest > 500'000);
}

TEST_CASE("the fast fixed-point log2 and exp2 stay within a hair of the exact ones", "[rng]") {
  rc::prop("log2 is within two units of the last place", [] {
    const auto x = *rc::gen::inRange<std::uint64_t>(1, std::uint64_t{1} << 62);
    RC_ASSERT(std::abs(fixed::log2_q32(x) - fixed::log2_q32_exact(x)) <= 2);
  });
  rc::prop("exp2 is within 2^-30 relative of the exact one", [] {
    const auto value = *rc::gen::inRange<std::int64_t>(1, std::int64_t{1} << 40);
    const auto exponent = *rc::gen::inRange<std::int64_t>(-(std::int64_t{20} << 32), std::int64_t{20} << 32);
    const std::int64_t exact = fixed::mul_exp2_exact(value, exponent);
    RC_ASSERT(std::abs(fixed::mul_exp2(value, exponent) - exact) <= std::max<std::int64_t>(2, exact >> 30));
  });
  for (std::uint64_t x : {1ULL, 2ULL, 3ULL, 255ULL, 256ULL, 257ULL, 1000ULL, (1ULL << 63) + 12345}) {
    REQUIRE(std::abs(fixed::log2_q32(x) - fixed::log2_q32_exact(x)) <= 2);
  }
}
