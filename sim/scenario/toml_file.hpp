// Reading a TOML file kind (scenario files, repro files) into typed values, with one error idiom:
// every reader returns `TomlStatus`, nothing or the first mistake, and stops there. A mistake names
// the file, line, column and dotted key, so the CLI can print it and exit 2.
//
// A file kind declares its accepted keys table by table (a `TomlSchema`). Reading then takes three
// passes, so that the most useful error comes first:
//   1. every key of the file is checked against the schema and every unknown key is named in one
//      message, with a did-you-mean hint, because a misspelt key is the commonest mistake and would
//      otherwise surface as a confusing "missing key" or type error further on;
//   2. the caller reads each table through `TomlTable`'s typed getters, which record what they read;
//   3. a key the schema accepts but no getter read would be silently ignored: that is a bug in the
//      reader, reported as such.
// This header includes toml++; only the readers' .cpp files include it.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "sim/base/enum_names.hpp"
#include "sim/base/result.hpp"

namespace syncstorm {

/// Success, or the first mistake found.
using TomlStatus = std::optional<InputError>;

// Returns a mistake to the caller; it keeps each reader a flat list of reads and checks.
#define SYNCSTORM_TRY(expr)                                         \
  do {                                                              \
    if (::syncstorm::TomlStatus status_ = (expr)) return *status_;  \
  } while (false)

/// The keys one table of a file kind accepts.
struct TomlKeys {
  std::string_view path;  ///< dotted; "" is the top level, "fault" every [[fault]] entry
  std::span<const std::string_view> keys;
  bool array = false;  ///< an array of tables ([[path]]), for hints
};
using TomlSchema = std::span<const TomlKeys>;

class TomlTable;

/// One parsed file: its name for messages, its schema and the keys read so far.
class TomlFile {
 public:
  /// Parses `text`; a syntax error is an InputError with the line and column of the mistake.
  static Result<TomlFile> parse(std::string_view text, std::string file, TomlSchema schema);

  /// The three passes: unknown keys, `read` on the top-level table, keys accepted but never read.
  TomlStatus read(const std::function<TomlStatus(const TomlTable&)>& read);

  const std::string& file() const { return file_; }
  const toml::table& document() const { return doc_; }

  /// Pass 1 alone: every unknown key of the document, in file order, in one error.
  TomlStatus check_unknown_keys() const;
  /// Pass 3 alone: the first key the schema accepts that no getter read.
  TomlStatus check_all_read() const;

 private:
  friend class TomlTable;
  TomlFile(toml::table doc, std::string file, TomlSchema schema)
      : doc_(std::move(doc)), file_(std::move(file)), schema_(schema) {}

  toml::table doc_;
  std::string file_;
  TomlSchema schema_;
  std::set<std::string> read_;  ///< dotted paths of every key read
};

/// One table of a file (possibly absent, when its key is missing) and its dotted path. Every getter
/// leaves its output untouched when the key is absent, so the caller's default stands; `require`
/// makes a key mandatory.
class TomlTable {
 public:
  TomlTable(TomlFile& file, const toml::table* table, std::string path, toml::source_position where)
      : file_(&file), table_(table), path_(std::move(path)), where_(where) {}

  bool has(std::string_view key) const { return table_ && table_->contains(key); }
  const toml::table* table() const { return table_; }
  const std::string& path() const { return path_; }
  std::string key_path(std::string_view key) const;

  /// The node under `key`, marked as read; nullptr when absent.
  const toml::node* get(std::string_view key) const;

  /// An error at `key`'s value when present, else at the table itself.
  InputError error(std::string_view key, std::string message) const;
  /// Re-anchors a value error (from parse_duration and friends) at `key`.
  InputError error(std::string_view key, const InputError& inner) const { return error(key, inner.message); }
  /// An error at one node under `key`, such as an element of its array.
  InputError error_at(const toml::node& node, std::string_view key, std::string message) const;

  /// "missing key", or "missing key: `why`", at this table, when `key` is absent.
  TomlStatus require(std::string_view key, std::string_view why = "") const;
  /// The same for several keys, the first missing one reported.
  TomlStatus require(std::initializer_list<std::string_view> keys) const;

  /// A sub-table, or an absent table positioned at this one when the key is missing.
  Result<TomlTable> sub(std::string_view key) const;
  /// Calls `read` on the sub-table `key`, or on an absent table when the key is missing.
  TomlStatus section(std::string_view key, const std::function<TomlStatus(const TomlTable&)>& read) const;
  /// Calls `read` on every entry of the array of tables `key` (`[[key]]`); nothing when absent.
  /// `what` names one entry in the message for a value that is no array of tables.
  TomlStatus each(std::string_view key, std::string_view what, const std::function<TomlStatus(const TomlTable&)>& read) const;

  TomlStatus string(std::string_view key, std::string& out) const;
  TomlStatus boolean(std::string_view key, bool& out) const;
  /// A number, integer or float, from `lo` to `hi`.
  TomlStatus number(std::string_view key, double& out, double lo, double hi) const;

  /// A whole number from `lo` to `hi` (by default, every value of T that TOML can write).
  template <std::integral T>
  TomlStatus integer(std::string_view key, T& out, std::int64_t lo = lowest<T>(), std::int64_t hi = highest<T>()) const {
    const toml::node* node = get(key);
    if (!node) return std::nullopt;
    std::int64_t v = 0;
    SYNCSTORM_TRY(whole(*node, key, lo, hi, v));
    out = static_cast<T>(v);
    return std::nullopt;
  }

  /// An array of whole numbers, each from `lo` to `hi`; `out` is replaced.
  template <std::integral T>
  TomlStatus integers(std::string_view key, std::vector<T>& out, std::int64_t lo = lowest<T>(), std::int64_t hi = highest<T>()) const {
    const toml::node* node = get(key);
    if (!node) return std::nullopt;
    const toml::array* items = node->as_array();
    if (!items) return error(key, fmt::format("expected an array of whole numbers, got {}", type_name(*node)));
    out.clear();
    for (const toml::node& item : *items) {
      std::int64_t v = 0;
      SYNCSTORM_TRY(whole(item, key, lo, hi, v));
      out.push_back(static_cast<T>(v));
    }
    return std::nullopt;
  }

  /// One of an enum's names (its table beside the enum).
  template <typename E>
  TomlStatus choice(std::string_view key, E& out, EnumNames<std::type_identity_t<E>> names) const {
    const toml::node* node = get(key);
    if (!node) return std::nullopt;
    if (!node->is_string()) return error(key, fmt::format("expected one of {}, got {}", names_list(names), type_name(*node)));
    std::string_view text = node->as_string()->get();
    std::optional<E> value = parse_enum(names, text);
    if (!value) return error(key, fmt::format("unknown value \"{}\": expected one of {}", text, names_list(names)));
    out = *value;
    return std::nullopt;
  }

  /// A list of an enum's names, without repeats; `out` is replaced.
  template <typename E>
  TomlStatus choices(std::string_view key, std::vector<E>& out, EnumNames<std::type_identity_t<E>> names) const {
    const toml::node* node = get(key);
    if (!node) return std::nullopt;
    const toml::array* items = node->as_array();
    if (!items) return error(key, fmt::format("expected a list of names from: {}", names_list(names)));
    out.clear();
    for (const toml::node& item : *items) {
      std::optional<std::string> name = item.value<std::string>();
      std::optional<E> value = name ? parse_enum(names, *name) : std::nullopt;
      std::string shown = name ? fmt::format("\"{}\"", *name) : type_name(item);
      if (!value) return error_at(item, key, fmt::format("unknown value {}: expected names from {}", shown, names_list(names)));
      if (std::find(out.begin(), out.end(), *value) != out.end()) return error_at(item, key, fmt::format("{} is listed twice", shown));
      out.push_back(*value);
    }
    return std::nullopt;
  }

  /// "a string", "an integer", ...: what a value is, for messages.
  static std::string type_name(const toml::node& node);

 private:
  template <typename T>
  static constexpr std::int64_t lowest() {
    return std::is_signed_v<T> ? static_cast<std::int64_t>(std::numeric_limits<T>::min()) : 0;
  }
  template <typename T>
  static constexpr std::int64_t highest() {
    // TOML integers are signed 64-bit: no file can write more than that.
    constexpr auto max = std::numeric_limits<T>::max();
    return std::cmp_less(max, std::numeric_limits<std::int64_t>::max()) ? static_cast<std::int64_t>(max)
                                                                         : std::numeric_limits<std::int64_t>::max();
  }
  TomlStatus whole(const toml::node& node, std::string_view key, std::int64_t lo, std::int64_t hi, std::int64_t& out) const;

  TomlFile* file_;
  const toml::table* table_;
  std::string path_;
  toml::source_position where_;
};

}  // namespace syncstorm
