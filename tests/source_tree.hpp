// Where the tests find files of the source tree they were built from: scenarios, repro files,
// adapter fixtures, golden files.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace syncstorm::testing {

/// `relative` (such as "scenarios/partition-heal.toml") in the source tree. fmt rather than
/// std::string's operator+: GCC 12 at -O1 reports that operator+ on the constant source path as a
/// buffer overflow (a false positive of its -Warray-bounds and -Wstringop-overflow in libstdc++).
inline std::string source_path(std::string_view relative) {
  return fmt::format("{}/{}", SYNCSTORM_SOURCE_DIR, relative);
}

}  // namespace syncstorm::testing
