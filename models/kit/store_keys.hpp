// Store keys of the form PREFIX + the number in 8 big-endian bytes ("rga/p/" and then 0x00...2a):
// fixed width, so the store's key order is the numbers' order (std::string compares bytes as
// unsigned, as memcmp does) and a prefix scan reads records in id order. With a prefix of 7
// characters or fewer the key fits std::string's inline buffer: the stores' sorted vectors then
// hold their keys in place, and a lookup compares them without a pointer chase or an allocation
// (with 10,000 clients and 20-digit decimal keys, string compares and frees were a fifth of a
// reconnect storm's time). Written by hand because replicas make one per record they store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace syncstorm {

inline std::string numbered_key(std::string_view prefix, std::uint64_t number) {
  constexpr std::size_t kBytes = 8;
  std::string key(prefix.size() + kBytes, '\0');
  prefix.copy(key.data(), prefix.size());
  for (std::size_t i = key.size(); i > prefix.size(); number >>= 8) key[--i] = static_cast<char>(number & 0xff);
  return key;
}

/// PREFIX + two numbers, 8 big-endian bytes each: sorts by the first, then the second.
inline std::string numbered_key(std::string_view prefix, std::uint64_t first, std::uint64_t second) {
  std::string key = numbered_key(prefix, first);
  return numbered_key(key, second);
}

}  // namespace syncstorm
