#include "sim/base/data.hpp"

#include <fmt/format.h>

#include "sim/base/codec.hpp"
#include "sim/base/rng.hpp"

namespace syncstorm {

std::string_view to_string(DataType type) { return name_of(kDataTypeNames, type); }

std::optional<DataType> parse_data_type(std::string_view text) { return parse_enum(kDataTypeNames, text); }

std::string_view to_string(OpKind kind) { return name_of(kOpKindNames, kind); }

std::optional<OpKind> parse_op_kind(std::string_view text) { return parse_enum(kOpKindNames, text); }

DataType data_type_of(OpKind kind) {
  switch (kind) {
    case OpKind::map_set: return DataType::map;
    case OpKind::list_add:
    case OpKind::list_update:
    case OpKind::list_remove: return DataType::list;
    case OpKind::counter_add: return DataType::counter;
    case OpKind::text_insert:
    case OpKind::text_delete: return DataType::text;
  }
  return DataType::map;
}

std::string_view to_string(Lifecycle lifecycle) { return name_of(kLifecycleNames, lifecycle); }

std::string_view to_string(SupersedeRule rule) { return name_of(kSupersedeRuleNames, rule); }

std::string_view describe(SupersedeRule rule) {
  switch (rule) {
    case SupersedeRule::last_writer_wins: return "a write may be superseded by any write that did not happen before it";
    case SupersedeRule::add_wins: return "a remove takes away only the adds and updates it had seen; concurrent writes may win";
    case SupersedeRule::remove_wins: return "a concurrent remove wins over an add";
    case SupersedeRule::server_order:
      return "the server orders writes as it likes, except that a write never gives way to its own client's earlier "
             "write (monotonic writes) nor to one acknowledged, or shown on its client, before it was issued";
  }
  return "?";
}

std::string Operation::encode() const {
  Writer w;
  w.u64(id.value).u32(client.value).i64(issued_at.us).u8(static_cast<std::uint8_t>(kind));
  w.u32(key.value).i64(amount).u32(position_ppm);
  return w.take();
}

std::optional<Operation> Operation::decode(std::string_view bytes) {
  Reader r(bytes);
  Operation op;
  op.id.value = r.u64();
  op.client.value = r.u32();
  op.issued_at.us = r.i64();
  const std::uint8_t kind = r.u8();
  op.key.value = r.u32();
  op.amount = r.i64();
  op.position_ppm = r.u32();
  if (!r.ok() || kind > static_cast<std::uint8_t>(OpKind::text_delete)) return std::nullopt;
  op.kind = static_cast<OpKind>(kind);
  return op;
}

std::string State::encode() const {
  Writer w;
  w.u8(static_cast<std::uint8_t>(type));
  switch (type) {
    case DataType::map:
      w.u32(static_cast<std::uint32_t>(fields.size()));
      for (const auto& [key, value] : fields) w.u32(key.value).u64(value.value);
      break;
    case DataType::list:
      w.u32(static_cast<std::uint32_t>(items.size()));
      for (const Item& item : items) w.u32(item.id.value).u64(item.value.value);
      break;
    case DataType::counter: w.i64(counter); break;
    case DataType::text:
      w.u32(static_cast<std::uint32_t>(text.size()));
      for (OpId element : text) w.u64(element.value);
      break;
  }
  return w.take();
}

std::uint64_t State::digest() const { return fnv1a64(encode()); }

std::uint64_t State::fingerprint() const {
  // Four independent chains, word i of the content into chain i % 4: each step waits only on its own
  // chain's multiply, so the processor runs four at once (one chain spent most of its time waiting).
  std::uint64_t a = 0x9e3779b97f4a7c15ULL, b = 0xc2b2ae3d27d4eb4fULL, c = 0x165667b19e3779f9ULL,
                d = 0x27d4eb2f165667c5ULL;
  const auto mix = [](std::uint64_t& h, std::uint64_t v) {
    h = (h ^ v) * 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
  };
  // Pairs of words (a map's fields, a list's items), two pairs a step.
  const auto pairs = [&](const auto& entries, auto first, auto second) {
    std::size_t i = 0;
    for (; i + 2 <= entries.size(); i += 2) {
      mix(a, first(entries[i])), mix(b, second(entries[i]));
      mix(c, first(entries[i + 1])), mix(d, second(entries[i + 1]));
    }
    if (i < entries.size()) mix(a, first(entries[i])), mix(b, second(entries[i]));
  };
  mix(a, static_cast<std::uint64_t>(type));
  switch (type) {
    case DataType::map:
      mix(b, fields.size());
      pairs(fields, [](const auto& f) { return std::uint64_t{f.first.value}; }, [](const auto& f) { return f.second.value; });
      break;
    case DataType::list:
      mix(b, items.size());
      pairs(items, [](const Item& item) { return std::uint64_t{item.id.value}; }, [](const Item& item) { return item.value.value; });
      break;
    case DataType::counter: mix(b, static_cast<std::uint64_t>(counter)); break;
    case DataType::text: {
      mix(b, text.size());
      std::size_t i = 0;
      for (; i + 4 <= text.size(); i += 4) {
        mix(a, text[i].value), mix(b, text[i + 1].value), mix(c, text[i + 2].value), mix(d, text[i + 3].value);
      }
      for (; i < text.size(); ++i) mix(a, text[i].value);
      break;
    }
  }
  // Chains folded in a fixed order, so content moved from one chain to another changes the result.
  mix(a, b), mix(a, c), mix(a, d);
  return a;
}

std::string State::describe(std::size_t max_entries) const {
  std::string out;
  auto more = [&](std::size_t total) {
    if (total > max_entries) out += fmt::format(", ... ({} more)", total - max_entries);
  };
  switch (type) {
    case DataType::map:
      out = "{";
      for (std::size_t i = 0; i < fields.size() && i < max_entries; ++i) {
        out += fmt::format("{}k{}=op{}", i ? ", " : "", fields[i].first.value, fields[i].second.value);
      }
      more(fields.size());
      out += "}";
      break;
    case DataType::list:
      out = "[";
      for (std::size_t i = 0; i < items.size() && i < max_entries; ++i) {
        out += fmt::format("{}item{}=op{}", i ? ", " : "", items[i].id.value, items[i].value.value);
      }
      more(items.size());
      out += "]";
      break;
    case DataType::counter: out = fmt::format("{}", counter); break;
    case DataType::text:
      out = "\"";
      for (std::size_t i = 0; i < text.size() && i < max_entries; ++i) {
        out += fmt::format("{}op{}", i ? " " : "", text[i].value);
      }
      more(text.size());
      out += "\"";
      break;
  }
  return out;
}

}  // namespace syncstorm
