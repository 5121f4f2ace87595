#include "models/kit/outbox.hpp"

#include <cassert>

#include "models/kit/store_keys.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {
std::string Outbox::record_key(OpId id) const { return numbered_key(prefix_, id.value); }

void Outbox::restore(Context& ctx) {
  if (!durable_) return;
  for (const auto& [key, record] : ctx.store().scan(prefix_)) {
    Reader r(record);
    const std::uint64_t base = r.u64();
    auto op = Operation::decode(r.bytes());
    // Only this node writes these records, so a bad one is a bug of ours, not an input error.
    assert(r.ok() && op);
    if (r.ok() && op) pending_[op->id] = Entry{*op, base};
  }
}

void Outbox::add(Context& ctx, const Operation& op, std::uint64_t base) {
  pending_[op.id] = Entry{op, base};
  if (!durable_) return;
  ctx.store().put(record_key(op.id), Writer().u64(base).bytes(op.encode()).take());
  ctx.store().flush();
}

bool Outbox::answer(Context& ctx, OpId id) {
  if (pending_.erase(id) == 0) return false;
  if (durable_) {
    ctx.store().erase(record_key(id));
    ctx.store().flush();
  }
  return true;
}

bool Outbox::touches(KeyId key) const {
  for (const auto& [id, entry] : pending_) {
    if (entry.op.key == key) return true;
  }
  return false;
}

void Outbox::overlay(Fields& fields) const {
  for (const auto& [id, entry] : pending_) fields[entry.op.key] = id;
}

}  // namespace syncstorm
