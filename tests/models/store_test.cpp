// The replicas' store and codec: flush merges any batch of writes, appends and erases into the
// durable records exactly as applying them one by one to an ordered map would; a journal gives back
// its snapshot and records; numbered keys sort as their numbers do; records written through
// Writer::extend are the bytes the field writers write.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "models/kit/journal.hpp"
#include "models/model.hpp"
#include "models/kit/store_keys.hpp"
#include "sim/base/codec.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

TEST_CASE("numbered keys are the prefix and the number in 8 big-endian bytes", "[models][store]") {
  CHECK(numbered_key("rga/p/", 0) == std::string("rga/p/\0\0\0\0\0\0\0\0", 14));
  CHECK(numbered_key("rga/p/", 0x0102030405060708ULL) == "rga/p/\x01\x02\x03\x04\x05\x06\x07\x08");
  CHECK(numbered_key("x/", 18'446'744'073'709'551'615ULL) == "x/\xff\xff\xff\xff\xff\xff\xff\xff");
  rc::prop("numbered keys sort as their numbers", [](std::uint64_t a, std::uint64_t b) {
    RC_ASSERT((numbered_key("x/", a) < numbered_key("x/", b)) == (a < b));
  });
}

TEST_CASE("a flush applies a batch of writes as one-by-one writes to an ordered map would", "[models][store]") {
  rc::prop("the store reads as the reference map with its pending writes, and keeps what was flushed", [] {
    Store store;
    std::map<std::string, std::string> reference;  // what was flushed
    std::map<std::string, std::string> current;    // what reads must see: reference and the writes since
    // Batches large enough to write some keys several times.
    const auto batches = *rc::gen::inRange(1, 12);
    for (int batch = 0; batch < batches; ++batch) {
      const auto writes = *rc::gen::inRange(0, 24);
      for (int i = 0; i < writes; ++i) {
        const std::string key = numbered_key("k/", *rc::gen::inRange<std::uint64_t>(0, 16));
        const int kind = *rc::gen::inRange(0, 6);
        const std::string value = std::to_string(*rc::gen::inRange(0, 1000));
        if (kind == 0) {
          store.erase(key);
          current.erase(key);
        } else if (kind <= 2) {
          store.append(key, value);
          current[key] += value;
        } else {
          store.put(key, value);
          current[key] = value;
        }
        for (const auto& probe : {key, numbered_key("k/", 3)}) {
          const auto it = current.find(probe);
          RC_ASSERT(store.get(probe) == (it == current.end() ? std::nullopt : std::optional<std::string>(it->second)));
        }
      }
      if (*rc::gen::inRange(0, 4) == 0) {
        store.crash(true, true);  // a crash before the flush: the batch is lost
        current = reference;
      } else {
        store.flush();
        reference = current;
        // Only flushed records survive a crash: they must be exactly the reference, as what reads
        // see without one must.
        if (*rc::gen::arbitrary<bool>()) store.crash(true, true);
      }
      const auto records = store.scan("k/");
      const std::map<std::string, std::string> stored(records.begin(), records.end());
      RC_ASSERT(stored == reference);
      std::uint64_t bytes = 0;
      for (const auto& [key, value] : reference) bytes += key.size() + value.size();
      RC_ASSERT(store.bytes() == bytes);
    }
  });
}

TEST_CASE("a journal restores the last snapshot and every record flushed after it", "[models][store]") {
  rc::prop("load returns what was written, in order, across crashes and snapshots", [] {
    Store store;
    Journal journal("j/");
    std::optional<std::string> snapshot;
    std::vector<std::string> records;
    const auto steps = *rc::gen::inRange(1, 60);
    for (int step = 0; step < steps; ++step) {
      const int kind = *rc::gen::inRange(0, 10);
      if (kind == 0) {
        // A crash, then a restart that reloads: nothing flushed is lost.
        store.crash(true, *rc::gen::arbitrary<bool>());
        Journal reloaded("j/");
        const auto saved = reloaded.load(store);
        RC_ASSERT(saved.snapshot == snapshot);
        RC_ASSERT(saved.records == records);
        journal = reloaded;
      } else if (kind == 1 || journal.wants_snapshot()) {
        const std::string state(*rc::gen::inRange<std::size_t>(0, 3000), static_cast<char>('a' + step % 26));
        journal.snapshot(store, state);
        snapshot = state;
        records.clear();
      } else {
        const std::string record = *rc::gen::container<std::string>(rc::gen::character<char>());
        journal.append(store, record);
        records.push_back(record);
      }
    }
    const auto saved = Journal("j/").load(store);
    RC_ASSERT(saved.snapshot == snapshot);
    RC_ASSERT(saved.records == records);
    // The snapshot is renewed before the records outgrow it: the store holds about twice the state.
    RC_ASSERT(store.bytes() <= 2 * (snapshot ? snapshot->size() : 0) + 8192 + 64);
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
