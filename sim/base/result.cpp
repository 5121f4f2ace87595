#include "sim/base/result.hpp"

#include <fmt/format.h>

namespace syncstorm {

std::string InputError::to_string() const {
  // A mistake in a flag has no file: say where it is, the command line.
  if (file.empty() && key.starts_with("--")) return fmt::format("command line: flag '{}': {}", key, message);
  std::string where = file.empty() ? std::string("<input>") : file;
  if (line > 0) where += fmt::format(":{}", line);
  if (line > 0 && column > 0) where += fmt::format(":{}", column);
  if (key.empty()) return fmt::format("{}: {}", where, message);
  return fmt::format("{}: key '{}': {}", where, key, message);
}

}  // namespace syncstorm
