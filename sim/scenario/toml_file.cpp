#include "sim/scenario/toml_file.hpp"

#include <cctype>

namespace syncstorm {

namespace {

std::string join_key(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
}

std::string join_list(std::span<const std::string_view> words) {
  std::string out;
  for (std::string_view w : words) out += (out.empty() ? "" : ", ") + std::string(w);
  return out;
}

std::string lowercase_first(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

const TomlKeys* keys_for(TomlSchema schema, std::string_view path) {
  for (const TomlKeys& t : schema) {
    if (t.path == path) return &t;
  }
  return nullptr;
}

bool accepts(const TomlKeys* table, std::string_view key) {
  return table && std::find(table->keys.begin(), table->keys.end(), key) != table->keys.end();
}

/// Levenshtein distance, for "did you mean" hints on misspelt keys.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// A hint for an unknown key: the nearest accepted key here, or the tables where the key belongs.
std::string hint_for(std::string_view key, const TomlKeys& here, TomlSchema schema) {
  std::string_view best;
  std::size_t best_distance = 3;
  for (std::string_view k : here.keys) {
    std::size_t d = edit_distance(key, k);
    if (d < best_distance && d <= k.size() / 2) {
      best = k;
      best_distance = d;
    }
  }
  if (!best.empty()) return fmt::format(" (did you mean '{}'?)", best);
  std::vector<std::string> homes;
  for (const TomlKeys& t : schema) {
    if (!accepts(&t, key)) continue;
    if (t.path.empty()) homes.push_back("at the top level, before any [table]");
    else if (t.array) homes.push_back(fmt::format("in [[{}]]", t.path));
    else homes.push_back(fmt::format("in [{}]", t.path));
  }
  if (homes.empty()) return "";
  std::string where = homes.front();
  for (std::size_t i = 1; i < homes.size(); ++i) where += (i + 1 == homes.size() ? " or " : ", ") + homes[i];
  return fmt::format(" (it belongs {})", where);
}

using Visit = std::function<void(const std::string& path, const TomlKeys* here, const toml::key& key)>;

/// Calls `visit` for every key of `table` and of the sub-tables the schema knows, in document order
/// within each table.
void walk(TomlSchema schema, const toml::table& table, const std::string& path, const std::string& schema_path,
          const Visit& visit) {
  const TomlKeys* here = keys_for(schema, schema_path);
  for (const auto& [key, node] : table) {
    std::string child = join_key(path, key.str());
    std::string child_schema = join_key(schema_path, key.str());
    visit(child, here, key);
    if (!accepts(here, key.str()) || !keys_for(schema, child_schema)) continue;
    if (const toml::table* sub = node.as_table()) walk(schema, *sub, child, child_schema, visit);
    if (const toml::array* items = node.as_array()) {
      for (std::size_t i = 0; i < items->size(); ++i) {
        if (const toml::table* item = items->get(i)->as_table()) {
          walk(schema, *item, fmt::format("{}[{}]", child, i), child_schema, visit);
        }
      }
    }
  }
}

bool before(const toml::source_position& a, const toml::source_position& b) {
  return a.line != b.line ? a.line < b.line : a.column < b.column;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The file and its three passes.

Result<TomlFile> TomlFile::parse(std::string_view text, std::string file, TomlSchema schema) {
  try {
    toml::table doc = toml::parse(text, file);
    return TomlFile(std::move(doc), std::move(file), schema);
  } catch (const toml::parse_error& e) {
    return InputError{file, e.source().begin.line, e.source().begin.column, "",
                      fmt::format("invalid TOML: {}", lowercase_first(std::string(e.description())))};
  }
}

TomlStatus TomlFile::read(const std::function<TomlStatus(const TomlTable&)>& read) {
  SYNCSTORM_TRY(check_unknown_keys());
  SYNCSTORM_TRY(read(TomlTable(*this, &doc_, "", toml::source_position{1, 1})));
  return check_all_read();
}

TomlStatus TomlFile::check_unknown_keys() const {
  struct Unknown {
    std::string path;
    toml::source_position where;
    std::string hint;
    const TomlKeys* table;
  };
  std::vector<Unknown> unknown;
  walk(schema_, doc_, "", "", [&](const std::string& path, const TomlKeys* here, const toml::key& key) {
    if (accepts(here, key.str())) return;
    unknown.push_back(Unknown{path, key.source().begin, hint_for(key.str(), *here, schema_), here});
  });
  if (unknown.empty()) return std::nullopt;
  std::stable_sort(unknown.begin(), unknown.end(), [](const Unknown& a, const Unknown& b) { return before(a.where, b.where); });
  const Unknown& first = unknown.front();
  std::string message = fmt::format("unknown key{}; accepted here: {}", first.hint, join_list(first.table->keys));
  if (unknown.size() > 1) {
    std::string others;
    for (std::size_t i = 1; i < unknown.size(); ++i) {
      others += fmt::format("{}{} (line {}){}", i == 1 ? "" : ", ", unknown[i].path, unknown[i].where.line, unknown[i].hint);
    }
    message += fmt::format("; {} more unknown key{}: {}", unknown.size() - 1, unknown.size() > 2 ? "s" : "", others);
  }
  return InputError{file_, first.where.line, first.where.column, first.path, message};
}

TomlStatus TomlFile::check_all_read() const {
  TomlStatus missed;
  walk(schema_, doc_, "", "", [&](const std::string& path, const TomlKeys*, const toml::key& key) {
    if (missed || read_.count(path) > 0) return;
    toml::source_position at = key.source().begin;
    missed = InputError{file_, at.line, at.column, path, "key is accepted but was never read (a bug in syncstorm)"};
  });
  return missed;
}

// ---------------------------------------------------------------------------------------------
// One table.

std::string TomlTable::key_path(std::string_view key) const { return join_key(path_, key); }

const toml::node* TomlTable::get(std::string_view key) const {
  if (!table_) return nullptr;
  const toml::node* node = table_->get(key);
  if (node) file_->read_.insert(key_path(key));
  return node;
}

InputError TomlTable::error(std::string_view key, std::string message) const {
  toml::source_position at = where_;
  if (const toml::node* node = table_ ? table_->get(key) : nullptr) at = node->source().begin;
  return InputError{file_->file_, at.line, at.column, key_path(key), std::move(message)};
}

InputError TomlTable::error_at(const toml::node& node, std::string_view key, std::string message) const {
  toml::source_position at = node.source().begin;
  return InputError{file_->file_, at.line, at.column, key_path(key), std::move(message)};
}

TomlStatus TomlTable::require(std::string_view key, std::string_view why) const {
  if (has(key)) return std::nullopt;
  return error(key, why.empty() ? std::string("missing key") : fmt::format("missing key: {}", why));
}

TomlStatus TomlTable::require(std::initializer_list<std::string_view> keys) const {
  for (std::string_view key : keys) SYNCSTORM_TRY(require(key));
  return std::nullopt;
}

Result<TomlTable> TomlTable::sub(std::string_view key) const {
  const toml::node* node = get(key);
  if (!node) return TomlTable(*file_, nullptr, key_path(key), where_);
  const toml::table* t = node->as_table();
  if (!t) return error(key, fmt::format("expected a table ([{}] or {{ ... }}), got {}", key_path(key), type_name(*node)));
  return TomlTable(*file_, t, key_path(key), node->source().begin);
}

TomlStatus TomlTable::section(std::string_view key, const std::function<TomlStatus(const TomlTable&)>& read) const {
  Result<TomlTable> table = sub(key);
  if (!table) return table.error();
  return read(table.value());
}

TomlStatus TomlTable::each(std::string_view key, std::string_view what,
                           const std::function<TomlStatus(const TomlTable&)>& read) const {
  const toml::node* node = get(key);
  if (!node) return std::nullopt;
  const toml::array* items = node->as_array();
  if (!items || !items->is_array_of_tables()) {
    return error(key, fmt::format("expected [[{}]] entries (an array of tables), each describing one {}", key, what));
  }
  for (std::size_t i = 0; i < items->size(); ++i) {
    const toml::table* t = items->get(i)->as_table();
    SYNCSTORM_TRY(read(TomlTable(*file_, t, fmt::format("{}[{}]", key_path(key), i), t->source().begin)));
  }
  return std::nullopt;
}

TomlStatus TomlTable::string(std::string_view key, std::string& out) const {
  const toml::node* node = get(key);
  if (!node) return std::nullopt;
  if (!node->is_string()) return error(key, fmt::format("expected a string, got {}", type_name(*node)));
  out = node->as_string()->get();
  return std::nullopt;
}

TomlStatus TomlTable::boolean(std::string_view key, bool& out) const {
  const toml::node* node = get(key);
  if (!node) return std::nullopt;
  if (!node->is_boolean()) return error(key, fmt::format("expected true or false, got {}", type_name(*node)));
  out = node->as_boolean()->get();
  return std::nullopt;
}

TomlStatus TomlTable::number(std::string_view key, double& out, double lo, double hi) const {
  const toml::node* node = get(key);
  if (!node) return std::nullopt;
  if (!node->is_number()) return error(key, fmt::format("expected a number, got {}", type_name(*node)));
  double x = node->value<double>().value_or(0.0);
  if (!(x >= lo && x <= hi)) return error(key, fmt::format("{} is out of range: expected {} to {}", x, lo, hi));
  out = x;
  return std::nullopt;
}

TomlStatus TomlTable::whole(const toml::node& node, std::string_view key, std::int64_t lo, std::int64_t hi,
                            std::int64_t& out) const {
  if (!node.is_integer()) return error_at(node, key, fmt::format("expected a whole number, got {}", type_name(node)));
  std::int64_t v = node.as_integer()->get();
  if (v < lo || v > hi) return error_at(node, key, fmt::format("{} is out of range: expected {} to {}", v, lo, hi));
  out = v;
  return std::nullopt;
}

std::string TomlTable::type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: return "nothing";
  }
  return "an unknown type";
}

}  // namespace syncstorm
