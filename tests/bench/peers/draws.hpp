// The draws the peer benchmarks share with syncstorm, behind plain functions so that a peer built
// as C++17 (ns-3.37's headers are not C++20-clean) uses the very same generator.
#pragma once
#include <cstdint>

void* draws_create(std::uint64_t seed, std::uint64_t index);
std::uint64_t draws_below(void* draws, std::uint64_t bound);
std::int64_t draws_exponential_us(void* draws, std::int64_t mean_us);
