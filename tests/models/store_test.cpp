// The replicas' store and codec: flush merges any batch of writes and erases into the durable
// records exactly as applying them one by one to an ordered map would; numbered keys sort as their
// numbers do; records written through Writer::extend are the bytes the field writers write.
#include <map>
#include <optional>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <rapidcheck/catch.h>

#include "models/model.hpp"
#include "models/store_keys.hpp"
#include "sim/codec.hpp"

using namespace syncstorm;

TEST_CASE("numbered keys are the prefix and the number in 20 zero-padded digits", "[models][store]") {
  for (std::uint64_t n : {std::uint64_t{0}, std::uint64_t{7}, std::uint64_t{42}, std::uint64_t{1'000'000},
                          std::uint64_t{18'446'744'073'709'551'615ULL}}) {
    CHECK(numbered_key("rga/op/", n) == fmt::format("rga/op/{:020}", n));
  }
  rc::prop("numbered keys sort as their numbers", [](std::uint64_t a, std::uint64_t b) {
    RC_ASSERT((numbered_key("x/", a) < numbered_key("x/", b)) == (a < b));
  });
}

TEST_CASE("a flush applies a batch of writes as one-by-one writes to an ordered map would", "[models][store]") {
  rc::prop("the store's records equal the reference map's after every flush", [] {
    Store store;
    std::map<std::string, std::string> reference;
    std::map<std::string, std::optional<std::string>> pending;
    const auto batches = *rc::gen::inRange(1, 8);
    for (int batch = 0; batch < batches; ++batch) {
      const auto writes = *rc::gen::inRange(0, 12);
      for (int i = 0; i < writes; ++i) {
        const std::string key = numbered_key("k/", *rc::gen::inRange<std::uint64_t>(0, 16));
        if (*rc::gen::inRange(0, 4) == 0) {
          store.erase(key);
          pending[key] = std::nullopt;
        } else {
          const std::string value = std::to_string(*rc::gen::inRange(0, 1000));
          store.put(key, value);
          pending[key] = value;
        }
      }
      store.flush();
      for (auto& [key, value] : pending) {
        if (value) reference[key] = *value;
        else reference.erase(key);
      }
      pending.clear();
      store.crash(true, true);  // only flushed records survive: they must be exactly the reference
      const auto records = store.scan("k/");
      const std::map<std::string, std::string> stored(records.begin(), records.end());
      RC_ASSERT(stored == reference);
    }
  });
}

TEST_CASE("fields written into Writer::extend's bytes are the bytes u32 and u64 write", "[models][codec]") {
  rc::prop("extend and put give the same bytes as the field writers", [](std::vector<std::pair<std::uint64_t, std::uint32_t>> records) {
    Writer by_field;
    for (const auto& [a, b] : records) by_field.u64(a).u32(b);
    Writer by_extend;
    char* at = by_extend.extend(records.size() * 12);
    for (const auto& [a, b] : records) at = Writer::put_u32(Writer::put_u64(at, a), b);
    RC_ASSERT(by_extend.take() == by_field.take());
  });
}
