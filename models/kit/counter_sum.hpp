// Counter arithmetic on values that arrived as bytes. A counter model adds amounts and totals it
// decoded from messages and its store; a garbled or hostile message can carry any 64-bit value, and
// signed overflow is undefined behaviour (the model fuzz harness found it in counter-no-dedup). The
// workload's own amounts and a repro's are bounded (limits::kCounterAmountMax), so an
// honest run never comes near the wrap; a garbled one gets a defined, if meaningless, total.
#pragma once

#include <cstdint>

namespace syncstorm {

/// a + b in two's complement, wrapping instead of overflowing.
constexpr std::int64_t counter_sum(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

static_assert(counter_sum(INT64_MAX, 1) == INT64_MIN);
static_assert(counter_sum(-3, 1) == -2);

}  // namespace syncstorm
