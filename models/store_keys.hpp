// Store keys of the form PREFIX + a zero-padded 20-digit number ("rga/base/00000000000000000042"):
// fixed width, so the store's key order is the numbers' order and a prefix scan reads records in
// id order. Written by hand because replicas make one per record they store, on every message, and
// fmt's general formatting cost about as much as the rest of storing the record.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace syncstorm {

inline std::string numbered_key(std::string_view prefix, std::uint64_t number) {
  constexpr std::size_t kDigits = 20;  // 2^64 - 1 has 20 decimal digits
  std::string key(prefix.size() + kDigits, '0');
  prefix.copy(key.data(), prefix.size());
  for (std::size_t i = key.size(); number != 0; number /= 10) key[--i] = static_cast<char>('0' + number % 10);
  return key;
}

}  // namespace syncstorm
