// The TOML reader both file kinds share: typed getters, unknown keys, keys never read, and errors
// that name file, line, column and dotted key.
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include "sim/scenario/scenario.hpp"
#include "sim/scenario/toml_file.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

namespace {

// A small file kind: a top level, one table with a nested one, and an array of tables.
constexpr std::string_view kTop[] = {"name", "count", "ratio", "on", "link", "links", "limits", "item"};
constexpr std::string_view kLimits[] = {"low", "high", "inner"};
constexpr std::string_view kInner[] = {"depth"};
constexpr std::string_view kItem[] = {"id", "nodes"};
constexpr TomlKeys kSchema[] = {
    {"", kTop}, {"limits", kLimits}, {"limits.inner", kInner}, {"item", kItem, true},
};

TomlFile parsed(const std::string& text) {
  Result<TomlFile> file = TomlFile::parse(text, "kind.toml", kSchema);
  if (!file) FAIL(file.error().to_string());
  return std::move(file.value());
}

/// The error `read` returns on the top level of `text` after the unknown-key pass.
InputError read_error(const std::string& text, const std::function<TomlStatus(const TomlTable&)>& read) {
  TomlFile file = parsed(text);
  TomlStatus status = file.read(read);
  REQUIRE(status.has_value());
  CHECK(status->file == "kind.toml");
  CHECK(status->column > 0);
  return *status;
}

}  // namespace

TEST_CASE("the typed getters read every kind of value and leave an absent key's default", "[toml]") {
  TomlFile file = parsed(
      "name = \"x\"\ncount = 7\nratio = 0.25\non = true\nlink = \"datagram\"\nlinks = [\"stream\", \"datagram\"]\n"
      "[limits]\nlow = -3\nhigh = [1, 2, 3]\n");
  std::string name;
  std::uint32_t count = 0;
  double ratio = 0;
  bool on = false;
  LinkKind link = LinkKind::stream;
  std::vector<LinkKind> links;
  std::int64_t low = 0;
  std::vector<std::uint8_t> high;
  std::int64_t depth = 42;
  TomlStatus status = file.read([&](const TomlTable& top) -> TomlStatus {
    SYNCSTORM_TRY(top.string("name", name));
    SYNCSTORM_TRY(top.integer("count", count));
    SYNCSTORM_TRY(top.number("ratio", ratio, 0.0, 1.0));
    SYNCSTORM_TRY(top.boolean("on", on));
    SYNCSTORM_TRY(top.choice<LinkKind>("link", link, kLinkKindNames));
    SYNCSTORM_TRY(top.choices<LinkKind>("links", links, kLinkKindNames));
    return top.section("limits", [&](const TomlTable& limits) -> TomlStatus {
      SYNCSTORM_TRY(limits.integer("low", low));
      SYNCSTORM_TRY(limits.integers("high", high));
      return limits.section("inner", [&](const TomlTable& inner) { return inner.integer("depth", depth); });
    });
  });
  if (status) FAIL(status->to_string());
  CHECK(name == "x");
  CHECK(count == 7);
  CHECK(ratio == 0.25);
  CHECK(on);
  CHECK(link == LinkKind::datagram);
  CHECK(links == std::vector<LinkKind>{LinkKind::stream, LinkKind::datagram});
  CHECK(low == -3);
  CHECK(high == std::vector<std::uint8_t>{1, 2, 3});
  CHECK(depth == 42);  // [limits.inner] is absent: the default stands
}

TEST_CASE("a value of the wrong type names its key, its line and what it got", "[toml]") {
  struct Case {
    std::string text;
    std::function<TomlStatus(const TomlTable&)> read;
    std::string key;
    std::uint32_t line;
    std::string message;
  };
  std::string s;
  std::uint32_t n = 0;
  bool b = false;
  double d = 0;
  LinkKind link{};
  std::vector<LinkKind> links;
  std::vector<std::uint32_t> numbers;
  const std::vector<Case> cases = {
      {"name = 3\n", [&](const TomlTable& t) { return t.string("name", s); }, "name", 1, "expected a string, got an integer"},
      {"\ncount = \"7\"\n", [&](const TomlTable& t) { return t.integer("count", n); }, "count", 2,
       "expected a whole number, got a string"},
      {"count = 1.5\n", [&](const TomlTable& t) { return t.integer("count", n); }, "count", 1,
       "expected a whole number, got a float"},
      {"on = \"yes\"\n", [&](const TomlTable& t) { return t.boolean("on", b); }, "on", 1,
       "expected true or false, got a string"},
      {"ratio = \"half\"\n", [&](const TomlTable& t) { return t.number("ratio", d, 0, 1); }, "ratio", 1,
       "expected a number, got a string"},
      {"ratio = 1.5\n", [&](const TomlTable& t) { return t.number("ratio", d, 0, 1); }, "ratio", 1,
       "1.5 is out of range: expected 0 to 1"},
      {"link = 1\n", [&](const TomlTable& t) { return t.choice<LinkKind>("link", link, kLinkKindNames); }, "link", 1,
       "expected one of stream, datagram, got an integer"},
      {"link = \"tcp\"\n", [&](const TomlTable& t) { return t.choice<LinkKind>("link", link, kLinkKindNames); }, "link", 1,
       "unknown value \"tcp\": expected one of stream, datagram"},
      {"links = \"stream\"\n", [&](const TomlTable& t) { return t.choices<LinkKind>("links", links, kLinkKindNames); },
       "links", 1, "expected a list of names from: stream, datagram"},
      {"links = [\n\"stream\",\n\"stream\"]\n",
       [&](const TomlTable& t) { return t.choices<LinkKind>("links", links, kLinkKindNames); }, "links", 3,
       "\"stream\" is listed twice"},
      {"links = [\"stream\", 4]\n", [&](const TomlTable& t) { return t.choices<LinkKind>("links", links, kLinkKindNames); },
       "links", 1, "unknown value an integer: expected names from stream, datagram"},
      {"[limits]\nhigh = 5\n", [&](const TomlTable& t) {
         return t.section("limits", [&](const TomlTable& l) { return l.integers("high", numbers); });
       }, "limits.high", 2, "expected an array of whole numbers, got an integer"},
      {"[limits]\nhigh = [1,\n -2]\n", [&](const TomlTable& t) {
         return t.section("limits", [&](const TomlTable& l) { return l.integers("high", numbers); });
       }, "limits.high", 3, "-2 is out of range: expected 0 to 4294967295"},
      {"limits = 3\n", [&](const TomlTable& t) { return t.section("limits", [](const TomlTable&) { return TomlStatus{}; }); },
       "limits", 1, "expected a table ([limits] or { ... }), got an integer"},
      {"item = 3\n", [&](const TomlTable& t) { return t.each("item", "thing", [](const TomlTable&) { return TomlStatus{}; }); },
       "item", 1, "expected [[item]] entries (an array of tables), each describing one thing"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.text) {
      InputError e = read_error(c.text, c.read);
      CHECK(e.key == c.key);
      CHECK(e.line == c.line);
      CHECK(e.message == c.message);
    }
  }
}

TEST_CASE("an integer's range is its type's unless the reader narrows it", "[toml]") {
  std::uint8_t small = 9;
  InputError e = read_error("count = 256\n", [&](const TomlTable& t) { return t.integer("count", small); });
  CHECK(e.message == "256 is out of range: expected 0 to 255");
  CHECK(small == 9);  // untouched by a failed read
  std::uint64_t big = 0;
  e = read_error("count = -1\n", [&](const TomlTable& t) { return t.integer("count", big); });
  CHECK(e.message == "-1 is out of range: expected 0 to 9223372036854775807");
  std::uint32_t clients = 0;
  e = read_error("count = 0\n", [&](const TomlTable& t) { return t.integer("count", clients, 1, 100); });
  CHECK(e.message == "0 is out of range: expected 1 to 100");
  rc::prop("every value TOML can write reads back into an int64", [] {
    const std::int64_t v = *rc::gen::arbitrary<std::int64_t>();
    TomlFile file = parsed(fmt::format("count = {}\n", v));
    std::int64_t out = 0;
    RC_ASSERT_FALSE(file.read([&](const TomlTable& t) { return t.integer("count", out); }).has_value());
    RC_ASSERT(out == v);
  });
}

TEST_CASE("a missing required key is named at the table that lacks it", "[toml]") {
  InputError e = read_error("name = \"x\"\n[limits]\nlow = 1\n", [](const TomlTable& t) {
    return t.section("limits", [](const TomlTable& l) { return l.require({"low", "high"}); });
  });
  CHECK(e.key == "limits.high");
  CHECK(e.line == 2);
  CHECK(e.message == "missing key");
  e = read_error("\n[[item]]\nnodes = []\n", [](const TomlTable& t) {
    return t.each("item", "item", [](const TomlTable& i) { return i.require("id", "every item needs an id"); });
  });
  CHECK(e.key == "item[0].id");
  CHECK(e.line == 2);
  CHECK(e.message == "missing key: every item needs an id");
}

TEST_CASE("every unknown key of a file is named in one message, in file order, with a hint", "[toml]") {
  Result<TomlFile> file = TomlFile::parse(
      "nmae = \"x\"\n[limits]\nlow = 1\nid = 2\n[limits.inner]\ndept = 3\n[[item]]\nid = 1\n[[item]]\nidd = 2\n",
      "kind.toml", kSchema);
  REQUIRE(file.ok());
  bool read = false;
  TomlStatus status = file.value().read([&](const TomlTable&) {
    read = true;
    return TomlStatus{};
  });
  REQUIRE(status.has_value());
  CHECK_FALSE(read);  // unknown keys come before any value is read
  CHECK(status->key == "nmae");
  CHECK(status->line == 1);
  CHECK(status->message ==
        "unknown key (did you mean 'name'?); accepted here: name, count, ratio, on, link, links, limits, item; "
        "3 more unknown keys: limits.id (line 4) (it belongs in [[item]]), limits.inner.dept (line 6) (did you mean "
        "'depth'?), item[1].idd (line 10) (did you mean 'id'?)");
}

TEST_CASE("a key the schema accepts but no reader read is reported as a bug", "[toml]") {
  InputError e = read_error("name = \"x\"\n[limits]\nlow = 1\nhigh = 2\n", [](const TomlTable& t) -> TomlStatus {
    std::string name;
    std::int64_t low = 0;
    SYNCSTORM_TRY(t.string("name", name));
    return t.section("limits", [&](const TomlTable& l) { return l.integer("low", low); });
  });
  CHECK(e.key == "limits.high");
  CHECK(e.line == 4);
  CHECK(e.message == "key is accepted but was never read (a bug in syncstorm)");
}

TEST_CASE("a reader's first mistake stops it", "[toml]") {
  std::uint32_t count = 0;
  bool on = false;
  InputError e = read_error("count = \"x\"\non = 1\n", [&](const TomlTable& t) -> TomlStatus {
    SYNCSTORM_TRY(t.integer("count", count));
    SYNCSTORM_TRY(t.boolean("on", on));
    return std::nullopt;
  });
  CHECK(e.key == "count");
}

TEST_CASE("entries of an array of tables are named by index", "[toml]") {
  std::vector<std::uint32_t> ids;
  InputError e = read_error("[[item]]\nid = 1\n[[item]]\nid = 2\nnodes = [1, \"two\"]\n", [&](const TomlTable& t) {
    return t.each("item", "item", [&](const TomlTable& i) -> TomlStatus {
      std::uint32_t id = 0;
      std::vector<std::uint32_t> nodes;
      SYNCSTORM_TRY(i.integer("id", id));
      ids.push_back(id);
      return i.integers("nodes", nodes);
    });
  });
  CHECK(ids == std::vector<std::uint32_t>{1, 2});
  CHECK(e.key == "item[1].nodes");
  CHECK(e.line == 5);
  CHECK(e.message == "expected a whole number, got a string");
}

TEST_CASE("a syntax error is an input error with its line, never an exception", "[toml]") {
  Result<TomlFile> file = TomlFile::parse("name = \"x\"\n[limits\n", "kind.toml", kSchema);
  REQUIRE_FALSE(file.ok());
  CHECK(file.error().file == "kind.toml");
  CHECK(file.error().line == 2);
  CHECK(file.error().key.empty());
  CHECK_THAT(file.error().message, Catch::StartsWith("invalid TOML: "));
}
