// Order-free content digests for replicated sets: a replica keeps the sum (mod 2^64) of one term
// per entry, adding a term when an entry arrives and subtracting it when the entry leaves or is
// replaced. Equal contents give equal sums whatever order the entries arrived in, and the digest is
// current after every change at the cost of one hash, where hashing the encoded state cost a walk
// over all of it (relay CRDT clients compare digests with their server every second).
#pragma once

#include <cstdint>

#include "sim/base/rng.hpp"

namespace syncstorm {

/// One entry's term: `kind` keeps the entry kinds of one state apart (an element from a tombstone
/// with the same fields), and each field is mixed in through splitmix64.
inline std::uint64_t digest_term(std::uint64_t kind, std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d) {
  std::uint64_t state = kind;
  std::uint64_t h = splitmix64(state);
  for (std::uint64_t v : {a, b, c, d}) {
    state = h ^ v;
    h = splitmix64(state);
  }
  return h;
}

}  // namespace syncstorm
