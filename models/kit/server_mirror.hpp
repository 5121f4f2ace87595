// The client side of a server-ordered map: what the server last said (its snapshot and the updates
// since), the user's writes it has not answered yet (a durable Outbox), and the view the user sees,
// the server's state with the pending writes on top in the order they were made. Shared by the
// article's server-ordered map clients (echo, outbox-map, guarded-map, broker-map), which differ in
// how they talk to the server, not in what they show.
#pragma once

#include <cstdint>
#include <string>

#include "models/kit/fields.hpp"
#include "models/kit/outbox.hpp"
#include "models/model.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {

class ServerMirror {
 public:
  /// `durable` and `prefix` are the outbox's (see Outbox).
  explicit ServerMirror(bool durable = true, std::string prefix = "outbox/") : outbox_(durable, std::move(prefix)) {}

  /// A (re)started replica: the pending writes an earlier incarnation stored are shown again
  /// (`overlay`: see refresh).
  void restore(Context& ctx, bool overlay = true);
  /// The user writes `op` (with `base`, see Outbox::Entry): kept until answered, shown, reported
  /// applied. The caller sends it.
  void write(Context& ctx, const Operation& op, std::uint64_t base = 0);
  /// The server acknowledged `id`: true (and reported) when it was pending.
  bool acknowledge(Context& ctx, OpId id);
  /// The server says `key` now holds `value`.
  void update(Context& ctx, KeyId key, OpId value);
  /// The server's whole state. With `report_seen`, every value that differs from the last known
  /// one is reported seen.
  void snapshot(Context& ctx, Fields fresh, bool report_seen);

  /// The same three from the wire (a u64 op id; a u32 key and a u64 value; write_fields' form):
  /// false on malformed bytes, and read_ack also when the write was not pending.
  bool read_ack(Context& ctx, Reader& r);
  bool read_update(Context& ctx, Reader& r);
  bool read_snapshot(Context& ctx, Reader& r, bool report_seen);

  /// Recomputes the view: the server's state with the pending writes on top. Without `overlay`,
  /// the server's state alone (the outbox-map-no-rebase baseline).
  void refresh(bool overlay = true);

  const Outbox& outbox() const { return outbox_; }
  const Fields& server() const { return server_; }
  const Fields& shown() const { return shown_; }
  std::optional<State> state() const { return to_state(shown_); }

 private:
  Outbox outbox_;
  Fields server_;
  Fields shown_;
};

}  // namespace syncstorm
