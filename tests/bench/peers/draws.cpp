#include "tests/bench/peers/draws.hpp"

#include "sim/base/rng.hpp"

void* draws_create(std::uint64_t seed, std::uint64_t index) {
  return new syncstorm::Rng(syncstorm::Rng::derive(seed, "peers", index));  // lives for the process
}
std::uint64_t draws_below(void* draws, std::uint64_t bound) { return static_cast<syncstorm::Rng*>(draws)->below(bound); }
std::int64_t draws_exponential_us(void* draws, std::int64_t mean_us) {
  return static_cast<syncstorm::Rng*>(draws)->exponential(syncstorm::Duration{mean_us}).us;
}
