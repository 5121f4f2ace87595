#include "models/kit/server_mirror.hpp"

namespace syncstorm {

void ServerMirror::restore(Context& ctx, bool overlay) {
  outbox_.restore(ctx);
  refresh(overlay);
}

void ServerMirror::write(Context& ctx, const Operation& op, std::uint64_t base) {
  outbox_.add(ctx, op, base);  // durable before the user sees it applied (unless in memory only)
  shown_[op.key] = op.id;
  ctx.report(op.id, Lifecycle::applied);
}

bool ServerMirror::acknowledge(Context& ctx, OpId id) {
  if (!outbox_.answer(ctx, id)) return false;
  ctx.report(id, Lifecycle::acknowledged);
  return true;
}

void ServerMirror::update(Context& ctx, KeyId key, OpId value) {
  server_[key] = value;
  ctx.report(value, Lifecycle::seen);
}

void ServerMirror::snapshot(Context& ctx, Fields fresh, bool report_seen) {
  if (report_seen) {
    for (const auto& [key, value] : fresh) {
      auto it = server_.find(key);
      if (it == server_.end() || it->second != value) ctx.report(value, Lifecycle::seen);
    }
  }
  server_ = std::move(fresh);
}

bool ServerMirror::read_ack(Context& ctx, Reader& r) {
  const OpId id{r.u64()};
  return r.ok() && acknowledge(ctx, id);
}

bool ServerMirror::read_update(Context& ctx, Reader& r) {
  const KeyId key{r.u32()};
  const OpId value{r.u64()};
  if (!r.ok()) return false;
  update(ctx, key, value);
  return true;
}

bool ServerMirror::read_snapshot(Context& ctx, Reader& r, bool report_seen) {
  Fields fresh;
  if (!read_fields(r, fresh)) return false;
  snapshot(ctx, std::move(fresh), report_seen);
  return true;
}

void ServerMirror::refresh(bool overlay) {
  shown_ = server_;
  if (overlay) outbox_.overlay(shown_);
}

}  // namespace syncstorm
