// lww-map and lww-map-wallclock: a per-field last-writer-wins register map. Clients apply a write at
// once, stamp it and send it to their server; the server merges (pointwise maximum of stamps),
// stores, acknowledges, and relays what changed to the other clients and servers. A client that
// reconnects resends its unacknowledged writes and receives the server's full state.
//
// The two variants differ only in where a stamp's time comes from. lww-map uses a hybrid logical
// clock, so a write made after seeing another always wins over it. lww-map-wallclock reads the
// node's own clock alone: under clock skew a causally later write can carry the smaller stamp and
// lose, so a write the user was told is saved disappears (the canary for lost acknowledged writes).
#include "models/crdt/lww_map.hpp"

#include <memory>

#include "sim/base/rng.hpp"

#include "models/model.hpp"
#include "models/kit/store_keys.hpp"
#include "sim/base/prefetch.hpp"

namespace syncstorm {
namespace lww {

Stamp HybridClock::tick(Instant now, NodeId node, OpId op) {
  if (now.us > time_us) {
    time_us = now.us;
    logical = 0;
  } else {
    ++logical;
  }
  return Stamp{time_us, logical, node.value, op.value};
}

void HybridClock::observe(const Stamp& seen) {
  if (std::pair(seen.time_us, seen.logical) > std::pair(time_us, logical)) {
    time_us = seen.time_us;
    logical = seen.logical;
  }
}

bool Map::set(KeyId key, const Stamp& stamp) {
  auto [it, inserted] = fields.try_emplace(key, stamp);
  if (inserted) return true;
  if (!(it->second < stamp)) return false;
  it->second = stamp;
  return true;
}

bool Map::merge(const Map& other) {
  bool changed = false;
  for (const auto& [key, stamp] : other.fields) changed = set(key, stamp) || changed;
  return changed;
}

State Map::to_state() const {
  State s;
  s.type = DataType::map;
  for (const auto& [key, stamp] : fields) s.fields.emplace_back(key, OpId{stamp.op});
  return s;
}

std::uint64_t Map::metadata_bytes() const { return fields.size() * sizeof(Stamp); }

void Map::encode(Writer& w) const {
  w.u32(static_cast<std::uint32_t>(fields.size()));
  for (const auto& [key, stamp] : fields) {
    w.u32(key.value).i64(stamp.time_us).u32(stamp.logical).u32(stamp.node).u64(stamp.op);
  }
}

std::optional<Map> Map::decode(Reader& r) {
  Map m;
  const std::uint32_t n = r.u32();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    const KeyId key{r.u32()};
    Stamp stamp;
    stamp.time_us = r.i64();
    stamp.logical = r.u32();
    stamp.node = r.u32();
    stamp.op = r.u64();
    m.set(key, stamp);
  }
  if (!r.ok()) return std::nullopt;
  return m;
}

}  // namespace lww

namespace {

using lww::Map;
using lww::Stamp;

enum Tag : std::uint8_t {
  kPut = 1,      ///< client -> server: one write (a Map of one entry), then the client's clock
  kAck = 2,      ///< server -> client: the write with this op id is stored durably; then the high mark
  kEntries = 3,  ///< server -> anyone: winning entries (a delta, or the full state), then the high mark
  kSync = 4,     ///< client -> server, every period: u64 digest of the client's map, then its clock
};

/// Timer tag; the resend and anti-entropy period is kPeriod.
constexpr std::uint64_t kTimer = 1;
constexpr Duration kPeriod = Duration::seconds(1);
/// A client sends its digest at least every this many periods, even while relays keep arriving.
constexpr std::uint64_t kSyncEvery = 5;

// Every message ends with its sender's clock: a server's high mark (the largest stamp it has merged
// or been shown), a client's hybrid clock. The simulator counts a node as having seen every write
// its sender had seen before any message reached it, so the receiver's clock must move past all of
// them, not only past the entries the message happens to carry (a relay of another field, an
// acknowledgement or a digest carries none of them). Over a datagram link this matters both ways:
// a client's resend of an older write can reach the server before its newer write does, and the
// server's next relay then carries the newer write's past to other clients without its stamp.
void write_mark(Writer& w, const lww::HybridClock& mark) { w.i64(mark.time_us).u32(mark.logical); }

std::optional<Stamp> read_mark(Reader& r) {
  Stamp mark;
  mark.time_us = r.i64();
  mark.logical = r.u32();
  if (!r.ok()) return std::nullopt;
  return mark;
}

std::string encode_entries(const Map& map, const lww::HybridClock& mark) {
  Writer w;
  w.u8(kEntries);
  map.encode(w);
  write_mark(w, mark);
  return w.take();
}

/// A digest of a map's bytes. A client sends its digest every period and a server that holds
/// something else answers with its full state: this repairs relays lost on datagram links, where no
/// connection event triggers a catch-up.
std::uint64_t digest(const Map& map) {
  Writer w;
  map.encode(w);
  return fnv1a64(w.take());
}

std::string field_key(KeyId key) { return numbered_key("lww/f/", key.value); }
std::string outbox_key(OpId id) { return numbered_key("lww/o/", id.value); }

/// A store record: one field and its winning stamp (or a pending write and its stamp).
std::string stamp_record(KeyId key, const Stamp& s) {
  return Writer().u32(key.value).i64(s.time_us).u32(s.logical).u32(s.node).u64(s.op).take();
}

std::optional<std::pair<KeyId, Stamp>> read_stamp_record(std::string_view record) {
  Reader r(record);
  const KeyId key{r.u32()};
  Stamp s{r.i64(), r.u32(), r.u32(), r.u64()};
  if (!r.ok()) return std::nullopt;
  return std::pair{key, s};
}

std::string encode_put(KeyId key, const Stamp& stamp, const lww::HybridClock& clock) {
  Map one;
  one.set(key, stamp);
  Writer w;
  w.u8(kPut);
  one.encode(w);
  write_mark(w, clock);
  return w.take();
}

class LwwClient final : public Node {
 public:
  explicit LwwClient(bool wallclock) : wallclock_(wallclock) {}

  void on_start(Context& ctx) override {
    restore(ctx);
    ctx.set_timer(kPeriod, kTimer);
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (op.kind != OpKind::map_set) return;
    const Stamp stamp = wallclock_ ? Stamp{ctx.local_clock().us, 0, ctx.self().value, op.id.value}
                                   : clock_.tick(ctx.local_clock(), ctx.self(), op.id);
    map_.set(op.key, stamp);
    digest_.reset();
    shown_.reset();
    outbox_[op.id] = {op.key, stamp};
    ctx.store().put(field_key(op.key), stamp_record(op.key, stamp));
    ctx.store().put(outbox_key(op.id), stamp_record(op.key, stamp));
    persist_clock(ctx);  // the write must survive a crash before the user is shown it as done locally
    ctx.report(op.id, Lifecycle::applied);
    if (auto server = ctx.connected_server()) ctx.send(*server, encode_put(op.key, stamp, clock_));
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    heard_ = true;
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      const OpId id{r.u64()};
      const auto mark = read_mark(r);
      if (!mark) return;
      clock_.observe(*mark);
      const bool acknowledged = outbox_.erase(id) > 0;
      if (acknowledged) ctx.store().erase(outbox_key(id));
      persist_clock(ctx);
      if (acknowledged) ctx.report(id, Lifecycle::acknowledged);
    } else if (tag == kEntries) {
      auto incoming = Map::decode(r);
      const auto mark = read_mark(r);
      if (!incoming || !mark) return;
      clock_.observe(*mark);
      absorb(ctx, *incoming);
    }
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTimer) return;
    ++ticks_;
    if (auto server = ctx.connected_server()) {
      resend(ctx, *server);
      // While relays keep arriving the digests differ anyway (some are in flight): sync when the
      // server has gone quiet, and every kSyncEvery periods regardless.
      if (!heard_ || ticks_ % kSyncEvery == 0) {
        if (!digest_) digest_ = digest(map_);
        Writer w;
        w.u8(kSync).u64(*digest_);
        write_mark(w, clock_);
        ctx.send_control(*server, w.take());
      }
    }
    heard_ = false;
    ctx.set_timer(kPeriod, kTimer);
  }

  void on_connected(Context& ctx, NodeId peer) override { resend(ctx, peer); }

  std::optional<State> state() const override {
    // Sampled every 100 ms; most samples follow a timer tick that changed nothing.
    if (!shown_) shown_ = map_.to_state();
    return shown_;
  }
  // Every message a client gets sets fields of its map (its sorted vector is searched each time)
  // and moves its clock, which lies past the lines the engine asks for.
  void prefetch() const override {
    prefetch_block<HintInto::l2>(this, sizeof(*this));
    prefetch_elements<HintInto::l2>(map_.fields);
  }
  std::uint64_t metadata_bytes() const override {
    return map_.metadata_bytes() + outbox_.size() * (sizeof(OpId) + sizeof(KeyId) + sizeof(Stamp));
  }

 private:
  void absorb(Context& ctx, const Map& incoming) {
    bool changed = false;
    for (const auto& [key, stamp] : incoming.fields) {
      clock_.observe(stamp);
      if (!map_.set(key, stamp)) continue;
      changed = true;
      digest_.reset();
      shown_.reset();
      ctx.store().put(field_key(key), stamp_record(key, stamp));
      // A stamp wins a field at most once (later winners are larger), so this reports once per op.
      if (stamp.node != ctx.self().value) ctx.report(OpId{stamp.op}, Lifecycle::seen);
    }
    if (changed) persist_clock(ctx);
  }

  void resend(Context& ctx, NodeId server) {
    for (const auto& [id, entry] : outbox_) ctx.send(server, encode_put(entry.first, entry.second, clock_));
  }

  // The store holds one record per field ("lww/f/KEY") and per pending write ("lww/o/ID"),
  // and the clock: a change writes what changed, not the whole map (with thousands of clients each
  // relay was a whole-map encode per client).
  void persist_clock(Context& ctx) {
    ctx.store().put("lww/clock", Writer().i64(clock_.time_us).u32(clock_.logical).take());
    ctx.store().flush();
  }

  void restore(Context& ctx) {
    const auto saved = ctx.store().get("lww/clock");
    if (!saved) return;
    Reader r(*saved);
    lww::HybridClock clock{r.i64(), r.u32()};
    Map map;
    for (const auto& [name, record] : ctx.store().scan("lww/f/")) {
      auto field = read_stamp_record(record);
      if (!field) return;  // a corrupt store is treated as empty
      map.set(field->first, field->second);
    }
    std::map<OpId, std::pair<KeyId, Stamp>> outbox;
    for (const auto& [name, record] : ctx.store().scan("lww/o/")) {
      auto entry = read_stamp_record(record);
      if (!entry) return;
      outbox[OpId{entry->second.op}] = *entry;
    }
    if (!r.ok()) return;
    map_ = std::move(map);
    clock_ = clock;
    outbox_ = std::move(outbox);
    digest_.reset();
    shown_.reset();
  }

  bool wallclock_;
  Map map_;
  std::optional<std::uint64_t> digest_;  ///< digest(map_) while map_ is unchanged
  mutable std::optional<State> shown_;   ///< map_.to_state() while map_ is unchanged
  lww::HybridClock clock_;
  std::map<OpId, std::pair<KeyId, Stamp>> outbox_;  ///< applied here, not yet acknowledged
  bool heard_ = false;       ///< a server message arrived since the last timer tick
  std::uint64_t ticks_ = 0;  ///< timer ticks since this node started
};

class LwwServer final : public Node {
 public:
  void on_start(Context& ctx) override {
    Map map;
    bool whole = true;
    for (const auto& [name, record] : ctx.store().scan("lww/f/")) {
      auto field = read_stamp_record(record);
      whole = whole && field.has_value();
      if (field) map.set(field->first, field->second);
    }
    if (whole) map_ = std::move(map);  // a corrupt store is treated as empty
    // Winners dominate every stamp they beat; a client's clock shown to this server is stored apart.
    for (const auto& [key, stamp] : map_.fields) mark_.observe(stamp);
    if (const auto saved = ctx.store().get("lww/mark")) {
      Reader r(*saved);
      if (const auto mark = read_mark(r)) mark_.observe(*mark);
    }
    // Anti-entropy between servers repairs forwards lost while a server-to-server link was down.
    ctx.set_timer(kPeriod, kTimer);  // anti-entropy; it sends nothing while this is the only server
  }


  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kSync) {
      const std::uint64_t theirs = r.u64();
      const auto mark = read_mark(r);
      if (!mark) return;
      observe_sender(ctx, *mark);
      if (!digest_) digest_ = digest(map_);
      if (theirs != *digest_) ctx.send(from, encode_entries(map_, mark_));
      return;
    }
    if (tag != kPut && tag != kEntries) return;
    auto incoming = Map::decode(r);
    const auto mark = read_mark(r);
    if (!incoming || !mark) return;
    Map delta;
    for (const auto& [key, stamp] : incoming->fields) {
      mark_.observe(stamp);
      if (map_.set(key, stamp)) delta.set(key, stamp);
    }
    // A client's clock, or another server's mark: it covers writes whose own messages to this
    // server are still due (and every later message of ours carries it on).
    observe_sender(ctx, *mark);
    if (!delta.fields.empty()) persist(ctx, delta);  // durable before anyone is told
    if (tag == kPut) {
      for (const auto& [key, stamp] : incoming->fields) {
        Writer w;
        w.u8(kAck).u64(stamp.op);
        write_mark(w, mark_);
        ctx.send_control(from, w.take());
      }
    }
    if (delta.fields.empty()) return;
    const std::string message = encode_entries(delta, mark_);
    for (NodeId client : ctx.clients()) {
      if (client != from && ctx.connected(client)) ctx.send(client, message);
    }
    if (tag == kPut) {
      for (NodeId server : ctx.servers()) {
        if (server != ctx.self()) ctx.send(server, message);
      }
    }
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTimer) return;
    const std::string message = encode_entries(map_, mark_);
    for (NodeId server : ctx.servers()) {
      if (server != ctx.self()) ctx.send(server, message);
    }
    ctx.set_timer(kPeriod, kTimer);
  }

  /// Clients and other servers alike catch up from the full state (entries are few: a small pool).
  void on_connected(Context& ctx, NodeId peer) override { ctx.send(peer, encode_entries(map_, mark_)); }

  std::optional<State> state() const override { return map_.to_state(); }
  std::uint64_t metadata_bytes() const override { return map_.metadata_bytes(); }

 private:
  /// Moves the mark past a sender's clock, stored before any message of ours carries it (a restart
  /// must not send a lower mark after a higher one went out).
  void observe_sender(Context& ctx, const Stamp& mark) {
    const auto before = std::pair(mark_.time_us, mark_.logical);
    mark_.observe(mark);
    if (std::pair(mark_.time_us, mark_.logical) == before) return;
    Writer w;
    write_mark(w, mark_);
    ctx.store().put("lww/mark", w.take());
    ctx.store().flush();
  }

  void persist(Context& ctx, const Map& delta) {
    digest_.reset();
    for (const auto& [key, stamp] : delta.fields) ctx.store().put(field_key(key), stamp_record(key, stamp));
    ctx.store().flush();
  }

  Map map_;
  std::optional<std::uint64_t> digest_;  ///< digest(map_) while map_ is unchanged
  lww::HybridClock mark_;  ///< the largest stamp merged here: the high mark every message carries
};

ModelInfo make_info(bool wallclock) {
  ModelInfo info;
  info.name = wallclock ? "lww-map-wallclock" : "lww-map";
  info.description = wallclock
                         ? "LWW map stamped by each node's own clock: under skew a causally later write loses"
                         : "per-field last-writer-wins map with hybrid logical clocks, relayed by a server";
  info.data_type = DataType::map;
  info.topology = Topology::client_server;
  info.rule = SupersedeRule::last_writer_wins;
  if (wallclock) info.breaks = Invariant::lost_acknowledged_write;
  info.make_client = [wallclock](NodeId) { return std::make_unique<LwwClient>(wallclock); };
  info.make_server = [](NodeId) { return std::make_unique<LwwServer>(); };
  // Resends until acknowledged, digests answered with full state, stamps that order any arrival:
  // loss, duplication and reordering leave it correct (the datagram-relay scenario holds it to it).
  info.datagram_links = true;
  info.multi_server = true;  // servers relay to each other and exchange digests
  return info;
}

}  // namespace

ModelInfo lww_map_model() { return make_info(false); }
ModelInfo lww_map_wallclock_model() { return make_info(true); }

}  // namespace syncstorm
