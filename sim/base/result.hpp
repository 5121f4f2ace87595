// Errors in user input as values: a scenario file, a repro file, a flag or an external adapter's
// answer. Every layer that reads user input returns them; the CLI turns them into exit code 2.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace syncstorm {

/// A mistake in user input (a scenario file, a repro file or a flag).
struct InputError {
  std::string file;
  std::uint32_t line = 0;    ///< 1-based; 0 when unknown
  std::uint32_t column = 0;  ///< 1-based; 0 when unknown
  std::string key;           ///< dotted path, e.g. "network.latency.median"; "" when none
  std::string message;       ///< a short lowercase fact, e.g. "expected a duration like \"40ms\""

  /// "file:line:column: key 'network.latency.median': expected a duration like \"40ms\""
  /// (or "command line: flag '--seeds': ..." for a flag, whose key starts with "--" and which has
  /// no file)
  std::string to_string() const;
};

/// Either a value or the input error that prevented it.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(InputError error) : v_(std::move(error)) {}
  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  const InputError& error() const { return std::get<InputError>(v_); }

 private:
  std::variant<T, InputError> v_;
};

}  // namespace syncstorm
