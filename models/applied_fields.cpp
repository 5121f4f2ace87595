#include "models/applied_fields.hpp"

#include <fmt/format.h>

#include "sim/codec.hpp"

namespace syncstorm {

void AppliedFields::restore(Context& ctx) {
  for (const auto& [name, record] : ctx.store().scan("field/")) {
    Reader r(record);
    const KeyId key{r.u32()};
    const OpId value{r.u64()};
    if (r.ok()) fields_[key] = value;
  }
  for (const auto& [name, record] : ctx.store().scan("applied/")) {
    Reader r(record);
    const OpId id{r.u64()};
    if (r.ok()) applied_.insert(id);
  }
}

bool AppliedFields::apply(Context& ctx, KeyId key, OpId id) {
  if (!applied_.insert(id).second) return false;
  fields_[key] = id;
  // Zero-padded numbers: the records sort in key and id order.
  ctx.store().put(fmt::format("field/{:010}", key.value), Writer().u32(key.value).u64(id.value).take());
  ctx.store().put(fmt::format("applied/{:020}", id.value), Writer().u64(id.value).take());
  return true;
}

}  // namespace syncstorm
