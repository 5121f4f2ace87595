// The user-visible names of an enumeration, in one table per enum kept beside the enum, so that
// printing, parsing and the loaders' "expected one of" messages cannot disagree. The table's order
// is the order messages list the names in.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace syncstorm {

/// One enum's names: each value once, with the name files and output use for it.
template <typename E>
using EnumNames = std::span<const std::pair<E, std::string_view>>;

/// The name of `value`; "?" for a value missing from the table (a bug the tests would show).
template <typename E>
constexpr std::string_view name_of(EnumNames<E> names, std::type_identity_t<E> value) {
  for (const auto& [v, n] : names) {
    if (v == value) return n;
  }
  return "?";
}

/// The value named `text`, or nullopt when no name matches.
template <typename E>
constexpr std::optional<E> parse_enum(EnumNames<E> names, std::string_view text) {
  for (const auto& [v, n] : names) {
    if (n == text) return v;
  }
  return std::nullopt;
}

/// The names joined for a message, e.g. `stream, datagram` or, with quote = "\"", `"stream", "datagram"`.
template <typename E>
std::string names_list(EnumNames<E> names, std::string_view quote = "") {
  std::string out;
  for (const auto& [v, n] : names) {
    if (!out.empty()) out += ", ";
    out.append(quote).append(n).append(quote);
  }
  return out;
}

// The same, straight from a table (deduces the enum).
template <typename E, std::size_t N>
constexpr std::string_view name_of(const std::pair<E, std::string_view> (&names)[N], std::type_identity_t<E> value) {
  return name_of(EnumNames<E>(names), value);
}
template <typename E, std::size_t N>
constexpr std::optional<E> parse_enum(const std::pair<E, std::string_view> (&names)[N], std::string_view text) {
  return parse_enum(EnumNames<E>(names), text);
}
template <typename E, std::size_t N>
std::string names_list(const std::pair<E, std::string_view> (&names)[N], std::string_view quote = "") {
  return names_list(EnumNames<E>(names), quote);
}

}  // namespace syncstorm
