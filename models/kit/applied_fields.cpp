#include "models/kit/applied_fields.hpp"

#include "models/kit/store_keys.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {

void AppliedFields::restore(Context& ctx) {
  for (const auto& [name, record] : ctx.store().scan("field/")) {
    Reader r(record);
    const KeyId key{r.u32()};
    const OpId value{r.u64()};
    if (r.ok()) fields_[key] = value;
  }
  marks_.restore(ctx);
  for (const auto& [name, record] : ctx.store().scan("applied/")) {
    Reader r(record);
    const OpId id{r.u64()};
    if (r.ok()) every_id_.insert(id);
  }
}

bool AppliedFields::apply(Context& ctx, NodeId writer, KeyId key, OpId id, std::uint8_t lane) {
  if (dedup_ == Dedup::every_id) {
    if (!every_id_.insert(id).second) return false;
    ctx.store().put(numbered_key("applied/", id.value), Writer().u64(id.value).take());
  } else if (!marks_.first_time(ctx, writer, id, lane)) {
    return false;
  }
  fields_[key] = id;
  ctx.store().put(numbered_key("field/", key.value), Writer().u32(key.value).u64(id.value).take());
  return true;
}

}  // namespace syncstorm
