// States: the fingerprint convergence sampling compares tells states apart exactly as equality
// does (it replaced the recorded digest there, so a collision would move convergence times).
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <cstdint>
#include <vector>

#include "sim/base/data.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

namespace {

/// A state of `type` from small numbers, so that two drawn states are often equal.
State state_from(DataType type, const std::vector<std::uint8_t>& numbers) {
  State s;
  s.type = type;
  for (std::size_t i = 0; i + 1 < numbers.size(); i += 2) {
    const std::uint32_t key = numbers[i] % 3;
    const std::uint64_t value = numbers[i + 1] % 3;
    switch (type) {
      case DataType::map: s.fields.emplace_back(KeyId{key}, OpId{value}); break;
      case DataType::list: s.items.push_back(Item{KeyId{key}, OpId{value}}); break;
      case DataType::counter: s.counter += static_cast<std::int64_t>(value) - 1; break;
      case DataType::text: s.text.push_back(OpId{value}); break;
    }
  }
  return s;
}

}  // namespace

TEST_CASE("state fingerprints are equal exactly when the states are", "[sim][state]") {
  rc::prop("fingerprint equality is state equality", [](const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
    const auto type = *rc::gen::element(DataType::map, DataType::list, DataType::counter, DataType::text);
    const auto other = *rc::gen::element(DataType::map, DataType::list, DataType::counter, DataType::text);
    const State x = state_from(type, a), y = state_from(other, b);
    RC_ASSERT((x.fingerprint() == y.fingerprint()) == (x == y));
    RC_ASSERT((x.digest() == y.digest()) == (x == y));
  });
  // Order and multiplicity matter: a text with two elements swapped, or one repeated, differs.
  const auto text = [](std::vector<OpId> elements) {
    State s;
    s.type = DataType::text;
    s.text = std::move(elements);
    return s;
  };
  CHECK(text({OpId{1}, OpId{2}}).fingerprint() != text({OpId{2}, OpId{1}}).fingerprint());
  CHECK(text({OpId{1}, OpId{2}}).fingerprint() != text({OpId{1}, OpId{1}, OpId{2}}).fingerprint());
  State empty_list;
  empty_list.type = DataType::list;
  CHECK(State{}.fingerprint() != empty_list.fingerprint());
}
