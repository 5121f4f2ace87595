// event-log-list and event-log-list-full-resync: an event-sourced list. The first server
// (servers()[0]) owns the log: it appends each accepted operation (de-duplicated by op id) at the next
// position, keeps a version per item, takes a snapshot of every item each kSnapshotEvery events and
// retains only the kRetainedEvents newest events. It stores and flushes before it broadcasts an event
// or acknowledges it, so an acknowledged write is in the durable log. Other servers are followers:
// they replay the leader's log into their own copy (as a client of the leader would), serve their
// clients' catch-up from it, and forward their clients' operations to the leader.
//
// A client keeps the last log position it applied. On every (re)connect it sends that position; the
// server answers with the events after it, or, when they are no longer retained, with its newest
// snapshot and the events after that; then a "caught up" marker. The full-resync variant always
// answers with a snapshot of everything, which is correct but costs more bytes per reconnect. The
// client shows the log's state with its own operations not yet in its copy of the log on top.
//
// event-log-list-fire-and-forget (buggy) is event-log-list as a team writes it when a delete is a
// plain request: the client hides the item at once and sends the remove once, never resending it.
// On a reconnect it drops every remove still unacknowledged, reasoning that the catch-up answer is
// the truth. A remove sent on a connection that died is lost, and the item comes back on its user's
// own screen with no error shown: a silent rollback of a remove (adds and updates keep the outbox).
//
// event-log-list-undo-window (buggy) gives each remove an undo window, as a mail client holds a sent
// message: the item leaves its user's screen at once, but the remove waits kUndoTicks of the client's
// one-second tick before it is sent, outside the order of the client's other writes, which go at
// once; a write of the held item ends its window (the remove goes first, and the write waits for
// it). Over stream links every replica ends right, but a user who deletes one item and then adds
// another is seen by everyone else doing it the other way round: the model still declares its
// users' writes seen in order (monotonic writes). Over datagrams a remove resent late can also land
// after a later write of its item, and now and then a reconnect takes a re-added item off its
// user's screen for a while (read-your-writes): the same flaw, seen from elsewhere.
#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "models/kit/fields.hpp"
#include "models/model.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {
namespace {

/// The value of item `key` this replica shows now (0 when absent): what a remove takes away.
OpId shown_value(const Node& node, KeyId key) {
  if (auto s = node.state()) {
    for (const Item& item : s->items) {
      if (item.id == key) return item.value;
    }
  }
  return OpId{};
}

constexpr std::uint64_t kSnapshotEvery = 16;   ///< events between two snapshots
constexpr std::uint64_t kRetainedEvents = 32;  ///< newest events the log keeps (more than kSnapshotEvery)
constexpr Duration kResendInterval = Duration::seconds(1);  ///< unacknowledged ops resent this often
constexpr std::size_t kAheadMax = 4'096;  ///< events a replica keeps past a gap (bounds its memory)
constexpr int kUndoTicks = 3;  ///< event-log-list-undo-window: ticks a remove waits before it is sent

enum MsgTag : std::uint8_t {
  kOp = 1,         ///< client -> server, follower -> leader: an operation
  kAck = 2,        ///< leader -> sender (relayed by followers): op id, its log position, its client
  kEvent = 3,      ///< server -> clients and followers: position and operation
  kResume = 4,     ///< client -> server, follower -> leader: the last position applied
  kSnapshot = 5,   ///< server -> client: reset flag, position, every item
  kCaughtUp = 6,   ///< server -> client: the end of a catch-up answer
  kPing = 7,       ///< client -> server, each second: its position; a server ahead sends the delta
};

enum TimerTag : std::uint64_t { kTick = 1 };

/// Item id -> the op id of its value: the same shape, and the same wire form, as a map's fields.
using Items = Fields;

void apply_to(Items& items, const Operation& op) {
  if (op.kind == OpKind::list_remove) items.erase(op.key);
  else items[op.key] = op.id;
}

bool is_list(const Operation& op) { return data_type_of(op.kind) == DataType::list; }

/// An operation and the client's previous operation still unacknowledged when it was sent (0 when
/// none): the leader appends a client's operations only in the order they were made, so one lost on a
/// datagram link and resent later cannot land after its successor (monotonic writes).
std::string op_message(const Operation& op, OpId previous) {
  return Writer().u8(kOp).bytes(op.encode()).u64(previous.value).take();
}

std::string event_message(std::uint64_t pos, const Operation& op) {
  return Writer().u8(kEvent).u64(pos).bytes(op.encode()).take();
}

std::string snapshot_message(bool reset, std::uint64_t pos, const Items& items) {
  Writer w;
  w.u8(kSnapshot).u8(reset ? 1 : 0).u64(pos);
  write_fields(w, items);
  return w.take();
}

State list_state(const Items& items) {
  State s;
  s.type = DataType::list;
  for (const auto& [key, value] : items) s.items.push_back(Item{key, value});
  return s;
}

/// One pending operation of a client: unacknowledged, or acknowledged at `pos` but not yet in the
/// client's copy of the log.
struct Pending {
  Operation op;
  std::uint64_t pos = 0;  ///< 0 while unacknowledged
};

/// How a client sends its removes: with its other writes (correct), or outside their order (buggy).
enum class Removes { in_order, fire_and_forget, undo_window };

class Client final : public Node {
 public:
  explicit Client(Removes removes) : removes_(removes) {}

  void on_start(Context& ctx) override {
    restore(ctx);
    refresh();
    ctx.set_timer(kResendInterval, kTick);
  }

  void on_user_operation(Context& ctx, const Operation& op) override {
    if (!is_list(op)) return;
    const OpId removed = op.kind == OpKind::list_remove ? shown_value(*this, op.key) : OpId{};
    pending_[op.id] = Pending{op, 0};
    unacked_[op.id] = op;
    reported_.insert(op.id);  // our own: never reported as seen
    refresh();
    persist(ctx);
    ctx.report(op.id, Lifecycle::applied, removed);
    if (removes_ == Removes::undo_window) {
      // A write of an item whose remove is held ends that remove's window: it goes first, and the
      // write waits for it at the leader, so one item's order is kept (only other items' is not).
      for (auto it = held_.begin(); it != held_.end();) {
        const Operation& held = unacked_.at(it->first);
        if (held.key != op.key) {
          ++it;
          continue;
        }
        it = held_.erase(it);
        if (auto server = ctx.connected_server()) send_op(ctx, *server, held);
      }
      if (op.kind == OpKind::list_remove) {
        held_.emplace(op.id, kUndoTicks);  // sent by the tick once its window has passed
        return;
      }
    }
    if (auto server = ctx.connected_server()) send_op(ctx, *server, op);
  }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) on_ack(ctx, r);
    else if (tag == kEvent) on_event(ctx, from, r);
    else if (tag == kSnapshot) on_snapshot(ctx, r);
    else if (tag == kCaughtUp) on_caught_up(r);
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTick) return;
    ctx.set_timer(kResendInterval, kTick);
    for (auto it = held_.begin(); it != held_.end();) it = --it->second <= 0 ? held_.erase(it) : std::next(it);
    auto server = ctx.connected_server();
    if (!server) return;
    // Datagram links lose messages: resend what is unacknowledged and an unanswered resume.
    if (awaiting_) ctx.send_control(*server, Writer().u8(kResume).u64(last_pos_).take());
    else ctx.send_control(*server, Writer().u8(kPing).u64(last_pos_).take());
    for (const auto& [id, op] : unacked_) {
      if (!sent_once(op) && !held_.contains(id)) send_op(ctx, *server, op);
    }
  }

  void on_connected(Context& ctx, NodeId peer) override {
    if (removes_ == Removes::fire_and_forget) forget_unacknowledged_removes(ctx);
    awaiting_ = true;
    ctx.send_control(peer, Writer().u8(kResume).u64(last_pos_).take());
    for (const auto& [id, op] : unacked_) {
      if (!held_.contains(id)) send_op(ctx, peer, op);
    }
  }

  std::optional<State> state() const override { return shown_; }
  std::uint64_t metadata_bytes() const override {
    return 8 + (pending_.size() + ahead_.size()) * (sizeof(Operation) + 8) + unacked_.size() * sizeof(Operation);
  }

 private:
  /// Sends one of our operations, declaring that it lacks our other unacknowledged ones: over
  /// datagrams an older one may be lost and a newer one still on its way while this one is
  /// appended, and counted whole, its past would order the log's next events after writes the log
  /// does not hold yet.
  void send_op(Context& ctx, NodeId to, const Operation& op) {
    std::vector<OpId> missing;
    missing.reserve(unacked_.size());
    for (const auto& [id, waiting] : unacked_) {
      if (id != op.id) missing.push_back(id);
    }
    ctx.send_without_own_writes(to, op_message(op, previous_unacked(op.id)), missing);
  }

  /// The unacknowledged operation made just before `id`, or 0. The buggy variants' removes are
  /// requests outside this order: the leader would wait for one that is never resent, or not yet
  /// sent (an undo window's remove joins it once sent).
  OpId previous_unacked(OpId id) const {
    for (auto it = unacked_.lower_bound(id); it != unacked_.begin();) {
      --it;
      if (!sent_once(it->second) && !held_.contains(it->first)) return it->first;
    }
    return OpId{};
  }

  /// The fire-and-forget variant's removes: sent when made, never again.
  bool sent_once(const Operation& op) const {
    return removes_ == Removes::fire_and_forget && op.kind == OpKind::list_remove;
  }

  /// The buggy variants' removes: not in the order of the client's other writes (an undo window's,
  /// once sent, may still land after writes made while it was held).
  bool outside_order(const Operation& op) const {
    return removes_ != Removes::in_order && op.kind == OpKind::list_remove;
  }

  /// The buggy variant's reconnect: a remove not acknowledged by now is taken for failed and dropped
  /// without telling the user, so the catch-up shows its item again.
  void forget_unacknowledged_removes(Context& ctx) {
    const std::size_t before = unacked_.size();
    std::erase_if(unacked_, [&](const auto& e) {
      if (e.second.kind != OpKind::list_remove) return false;
      pending_.erase(e.first);
      return true;
    });
    if (unacked_.size() == before) return;
    refresh();
    persist(ctx);
  }

  /// The answer to a resume is complete. Whatever of it a lossy link dropped, the next gap or the
  /// next ping asks for again.
  void on_caught_up(Reader& r) {
    r.u64();
    if (r.ok()) awaiting_ = false;
  }

  void on_ack(Context& ctx, Reader& r) {
    const OpId id{r.u64()};
    const std::uint64_t pos = r.u64();
    if (!r.ok() || unacked_.erase(id) == 0) return;
    // Keep showing the operation until our copy of the log reaches its position.
    if (auto it = pending_.find(id); it != pending_.end()) it->second.pos = pos;
    // The leader appends our operations in the order they were made, so those made before this one
    // are in the log before `pos`, whether or not their own acknowledgement came (over datagrams it
    // may be lost or late, and a later one's may have set a looser bound): once our copy reaches
    // `pos` they must not stay on top of it, where they would hide this newer one and show the user
    // an older value.
    for (auto& [earlier, p] : pending_) {
      if (!(earlier < id)) break;
      if ((p.pos == 0 || p.pos > pos) && !outside_order(p.op)) p.pos = pos;
    }
    settle(ctx);
    ctx.report(id, Lifecycle::acknowledged);
  }

  void on_event(Context& ctx, NodeId from, Reader& r) {
    const std::uint64_t pos = r.u64();
    auto op = Operation::decode(r.bytes());
    if (!r.ok() || !op || !is_list(*op)) return;
    if (pos <= last_pos_) return;
    if (pos > last_pos_ + 1) {
      // A gap: events went by while we were away, or a datagram was lost or overtaken. Keep this
      // one for later and ask once; the answer fills the gap.
      if (ahead_.size() < kAheadMax) ahead_.emplace(pos, *op);
      if (!awaiting_) ctx.send_control(from, Writer().u8(kResume).u64(last_pos_).take());
      awaiting_ = true;
      return;
    }
    apply_event(ctx, pos, *op);
    drain(ctx);
    settle(ctx);
  }

  void apply_event(Context& ctx, std::uint64_t pos, const Operation& op) {
    apply_to(base_, op);
    last_pos_ = pos;
    if (op.client != ctx.self() && reported_.insert(op.id).second) ctx.report(op.id, Lifecycle::seen);
    // The leader appends one client's operations in the order they were made, so our own operation
    // here means every earlier one of ours is in the log already: none may stay on top of the log
    // copy (it would hide whatever the log put after it, and show the user an older value).
    // (The undo window's removes are outside that order: each stays until its own event.)
    if (op.client == ctx.self()) {
      const bool undo_window = removes_ == Removes::undo_window;
      forget_pending([&](const auto& e) {
        return e.first == op.id || (e.first < op.id && !(undo_window && outside_order(e.second.op)));
      });
    } else {
      pending_.erase(op.id);
    }
  }

  /// Applies the kept events that have become contiguous.
  void drain(Context& ctx) {
    std::erase_if(ahead_, [&](const auto& e) { return e.first <= last_pos_; });
    while (!ahead_.empty() && ahead_.begin()->first == last_pos_ + 1) {
      apply_event(ctx, ahead_.begin()->first, ahead_.begin()->second);
      ahead_.erase(ahead_.begin());
    }
  }

  void on_snapshot(Context& ctx, Reader& r) {
    const bool reset = r.u8() != 0;
    const std::uint64_t pos = r.u64();
    Items items;
    if (!read_fields(r, items)) return;
    if (pos < last_pos_ && !reset) return;  // older than what we have: a lagging follower
    base_ = std::move(items);
    last_pos_ = pos;
    for (const auto& [key, value] : base_) {
      if (reported_.insert(value).second) ctx.report(value, Lifecycle::seen);
    }
    drain(ctx);
    settle(ctx);
  }

  /// Drops pending operations the log copy now holds, then shows and stores the result.
  void settle(Context& ctx) {
    forget_pending([&](const auto& e) { return e.second.pos != 0 && e.second.pos <= last_pos_; });
    refresh();
    persist(ctx);
  }

  /// Drops the pending operations `in_log` says the log copy holds (the undo window remembers, per
  /// item, the last of its own writes among them).
  template <typename InLog>
  void forget_pending(InLog in_log) {
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (!in_log(*it)) {
        ++it;
        continue;
      }
      if (removes_ == Removes::undo_window && it->second.op.kind != OpKind::list_remove) {
        OpId& last = own_in_log_[it->second.op.key];
        last = std::max(last, it->first);
      }
      it = pending_.erase(it);
    }
  }

  void refresh() {
    Items view = base_;
    for (const auto& [id, p] : pending_) {
      // An undo window's remove not yet in the log does not take away its user's own later write
      // of the item that is (the write went after it, and shows).
      if (removes_ == Removes::undo_window && p.op.kind == OpKind::list_remove) {
        auto shown = view.find(p.op.key);
        auto own = own_in_log_.find(p.op.key);
        if (shown != view.end() && own != own_in_log_.end() && shown->second == own->second && id < own->second) continue;
      }
      apply_to(view, p.op);
    }
    shown_ = list_state(view);
  }

  void persist(Context& ctx) {
    Writer w;
    w.u64(last_pos_);
    write_fields(w, base_);
    w.u32(static_cast<std::uint32_t>(pending_.size()));
    for (const auto& [id, p] : pending_) w.bytes(p.op.encode()).u64(p.pos);
    w.u32(static_cast<std::uint32_t>(unacked_.size()));
    for (const auto& [id, op] : unacked_) w.bytes(op.encode());
    ctx.store().put("eventlog/client", w.take());
    ctx.store().flush();
  }

  void restore(Context& ctx) {
    auto saved = ctx.store().get("eventlog/client");
    if (!saved) return;
    Reader r(*saved);
    const std::uint64_t pos = r.u64();
    Items base;
    if (!read_fields(r, base)) return;
    std::map<OpId, Pending> pending;
    const std::uint32_t n = r.u32();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      auto op = Operation::decode(r.bytes());
      const std::uint64_t at = r.u64();
      if (op) pending[op->id] = Pending{*op, at};
    }
    std::map<OpId, Operation> unacked;
    const std::uint32_t m = r.u32();
    for (std::uint32_t i = 0; i < m && r.ok(); ++i) {
      if (auto op = Operation::decode(r.bytes())) unacked[op->id] = *op;
    }
    if (!r.ok()) return;
    unacked_ = std::move(unacked);
    last_pos_ = pos;
    base_ = std::move(base);
    pending_ = std::move(pending);
    for (const auto& [key, value] : base_) reported_.insert(value);
    for (const auto& [id, p] : pending_) reported_.insert(id);
    for (const auto& [id, op] : unacked_) reported_.insert(id);
  }

  Items base_;                        ///< the log's state at last_pos_
  std::uint64_t last_pos_ = 0;        ///< the last log position applied
  std::map<OpId, Pending> pending_;   ///< own operations not yet in base_, in issue order
  std::map<OpId, Operation> unacked_; ///< own operations not yet acknowledged: resent until they are
  State shown_{DataType::list, {}, {}, 0, {}};
  bool awaiting_ = false;             ///< a resume is unanswered
  std::map<std::uint64_t, Operation> ahead_;  ///< events past a gap, applied once it fills (not stored)
  std::set<OpId> reported_;           ///< remote writes already reported as seen
  Removes removes_;
  /// The undo window's removes not yet sent, by the ticks they still wait (not stored: a restarted
  /// client sends its unacknowledged removes at once).
  std::map<OpId, int> held_;
  /// The undo window: per item, the last of its user's own writes the log copy holds (not stored).
  std::map<KeyId, OpId> own_in_log_;
};

class Server final : public Node {
 public:
  explicit Server(bool full_resync) : full_resync_(full_resync) {}

  void on_start(Context& ctx) override {
    if (leader(ctx)) restore(ctx);
    ctx.set_timer(kResendInterval, kTick);
  }

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kOp) {
      auto op = Operation::decode(r.bytes());
      const OpId previous{r.u64()};
      if (!r.ok() || !op || !is_list(*op)) return;
      if (leader(ctx)) accept(ctx, from, *op, previous);
      else if (ctx.connected(leader_id(ctx))) ctx.send(leader_id(ctx), op_message(*op, previous));
    } else if (tag == kResume) {
      const std::uint64_t pos = r.u64();
      if (!r.ok()) return;
      if (leader(ctx) || synced_) answer(ctx, from, pos);
      else waiting_[from] = pos;
    } else if (tag == kPing) {
      // A client that lost the newest events (a dropped datagram) gets them; the full-resync variant
      // sends deltas here too, since this is not a reconnect.
      const std::uint64_t pos = r.u64();
      if (r.ok() && (leader(ctx) || synced_) && pos < head_) answer(ctx, from, pos, false);
    } else if (!leader(ctx) && from == leader_id(ctx)) {
      follow(ctx, tag, r, payload);
    }
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    if (tag != kTick) return;
    ctx.set_timer(kResendInterval, kTick);
    // A follower whose resume went unanswered or was overtaken asks again; a synced one pings with
    // its position, so that a lost or reordered newest event still reaches it.
    if (leader(ctx) || !ctx.connected(leader_id(ctx))) return;
    if (!synced_) resume_leader(ctx);
    else ctx.send_control(leader_id(ctx), Writer().u8(kPing).u64(head_).take());
  }

  void on_connected(Context& ctx, NodeId peer) override {
    // Clients ask for their catch-up with their position; a follower asks the leader for its own.
    if (!leader(ctx) && peer == leader_id(ctx)) {
      synced_ = false;
      resume_leader(ctx);
    }
  }

  void on_disconnected(Context& ctx, NodeId peer) override {
    if (!leader(ctx) && peer == leader_id(ctx)) synced_ = false;
  }

  std::optional<State> state() const override { return list_state(items_); }

  std::uint64_t metadata_bytes() const override {
    return (log_.size() + ahead_.size()) * (8 + sizeof(Operation)) + snapshot_items_.size() * 12 + versions_.size() * 12 +
           accepted_.size() * 16;
  }

 private:
  static NodeId leader_id(Context& ctx) { return ctx.servers()[0]; }
  static bool leader(Context& ctx) { return ctx.self() == leader_id(ctx); }

  void accept(Context& ctx, NodeId from, const Operation& op, OpId previous) {
    if (!accepted_.contains(op.id) && previous.valid() && !accepted_.contains(previous)) {
      // Its predecessor has not arrived: lost or overtaken on the way (the client resends both in
      // order). It waits here for it, bounded (beyond, the resend brings it again), and its past
      // waits with it: the leader has not seen it until it is in the log.
      ctx.hold_message(op.id.value);
      if (waiting_ops_.size() < kWaitingOpsMax) waiting_ops_.try_emplace(previous, WaitingOp{from, op});
      return;
    }
    append_and_acknowledge(ctx, from, op);
    // Whatever waited for it, and for those, follows in order.
    OpId last = op.id;
    for (auto next = waiting_ops_.find(last); next != waiting_ops_.end(); next = waiting_ops_.find(last)) {
      const WaitingOp waiting = next->second;
      waiting_ops_.erase(next);
      append_and_acknowledge(ctx, waiting.from, waiting.op);
      last = waiting.op.id;
    }
  }

  void append_and_acknowledge(Context& ctx, NodeId from, const Operation& op) {
    auto known = accepted_.find(op.id);
    std::uint64_t pos = known == accepted_.end() ? 0 : known->second;
    if (pos == 0) {
      pos = head_ + 1;
      append(pos, op);
      accepted_[op.id] = pos;
      ctx.release_held(op.id.value);
      persist(ctx);  // the event is in the durable log before anyone hears of it
      broadcast(ctx, event_message(pos, op));
    }
    ctx.send_control(from, Writer().u8(kAck).u64(op.id.value).u64(pos).u32(op.client.value).take());
  }

  /// Appends at `pos`, takes a snapshot on schedule, and trims the log to its retention bound.
  void append(std::uint64_t pos, const Operation& op) {
    head_ = pos;
    log_[pos] = op;
    apply_to(items_, op);
    versions_[op.key] += 1;
    if (pos % kSnapshotEvery == 0) {
      snapshot_pos_ = pos;
      snapshot_items_ = items_;
    }
    while (!log_.empty() && log_.begin()->first + kRetainedEvents <= head_) log_.erase(log_.begin());
  }

  /// The catch-up for a node that has applied the log up to `pos`.
  void answer(Context& ctx, NodeId to, std::uint64_t pos, bool reconnect = true) {
    const std::uint64_t floor = log_.empty() ? head_ : log_.begin()->first - 1;
    if (pos > head_) {
      // Ahead of us: only the leader may say it lost events; a lagging follower stays silent.
      if (leader(ctx)) ctx.send(to, snapshot_message(true, head_, items_));
    } else if (full_resync_ && reconnect) {
      ctx.send(to, snapshot_message(false, head_, items_));
    } else if (pos < floor) {
      ctx.send(to, snapshot_message(false, snapshot_pos_, snapshot_items_));
      send_events_after(ctx, to, snapshot_pos_);
    } else {
      send_events_after(ctx, to, pos);
    }
    ctx.send(to, Writer().u8(kCaughtUp).u64(head_).take());
  }

  void send_events_after(Context& ctx, NodeId to, std::uint64_t pos) {
    for (auto it = log_.upper_bound(pos); it != log_.end(); ++it) ctx.send(to, event_message(it->first, it->second));
  }

  void broadcast(Context& ctx, const std::string& message) {
    for (NodeId c : ctx.clients()) {
      if (ctx.connected(c)) ctx.send(c, message);
    }
    for (NodeId s : ctx.servers()) {
      if (s != ctx.self() && ctx.connected(s)) ctx.send(s, message);
    }
  }

  void resume_leader(Context& ctx) { ctx.send_control(leader_id(ctx), Writer().u8(kResume).u64(head_).take()); }

  /// A follower replays what the leader sends and relays it to its own clients.
  void follow(Context& ctx, std::uint8_t tag, Reader& r, std::string_view payload) {
    if (tag == kEvent) {
      const std::uint64_t pos = r.u64();
      auto op = Operation::decode(r.bytes());
      if (!r.ok() || !op || !is_list(*op) || pos <= head_) return;
      if (pos > head_ + 1) {
        // Server links may lose or reorder: keep it, and ask the leader to fill the gap.
        if (ahead_.size() < kAheadMax) ahead_.emplace(pos, *op);
        if (synced_) {
          synced_ = false;
          resume_leader(ctx);
        }
        return;
      }
      append(pos, *op);
      relay(ctx, std::string(payload));
      drain_ahead(ctx);
    } else if (tag == kSnapshot) {
      const bool reset = r.u8() != 0;
      const std::uint64_t pos = r.u64();
      Items items;
      if (!read_fields(r, items) || (pos < head_ && !reset)) return;
      install(pos, std::move(items));
      relay(ctx, std::string(payload));
      drain_ahead(ctx);
    } else if (tag == kAck) {
      r.u64();
      r.u64();
      const NodeId client{r.u32()};
      if (r.ok() && ctx.connected(client)) ctx.send_control(client, std::string(payload));
    } else if (tag == kCaughtUp) {
      // Server links may reorder: caught up only once every event up to the named head is here.
      const std::uint64_t head = r.u64();
      if (!r.ok() || head_ < head) return;
      synced_ = true;
      for (const auto& [client, pos] : std::exchange(waiting_, {})) answer(ctx, client, pos);
    }
  }

  void drain_ahead(Context& ctx) {
    std::erase_if(ahead_, [&](const auto& e) { return e.first <= head_; });
    while (!ahead_.empty() && ahead_.begin()->first == head_ + 1) {
      append(ahead_.begin()->first, ahead_.begin()->second);
      relay(ctx, event_message(ahead_.begin()->first, ahead_.begin()->second));
      ahead_.erase(ahead_.begin());
    }
  }

  void install(std::uint64_t pos, Items items) {
    head_ = pos;
    items_ = std::move(items);
    log_.clear();
    snapshot_pos_ = pos;
    snapshot_items_ = items_;
  }

  void relay(Context& ctx, const std::string& message) {
    for (NodeId c : ctx.clients()) {
      if (ctx.connected(c)) ctx.send(c, message);
    }
  }

  void persist(Context& ctx) {
    Writer w;
    w.u64(head_).u64(snapshot_pos_);
    write_fields(w, items_);
    write_fields(w, snapshot_items_);
    w.u32(static_cast<std::uint32_t>(log_.size()));
    for (const auto& [pos, op] : log_) w.u64(pos).bytes(op.encode());
    w.u32(static_cast<std::uint32_t>(versions_.size()));
    for (const auto& [key, version] : versions_) w.u32(key.value).u64(version);
    w.u32(static_cast<std::uint32_t>(accepted_.size()));
    for (const auto& [id, pos] : accepted_) w.u64(id.value).u64(pos);
    ctx.store().put("eventlog/leader", w.take());
    ctx.store().flush();
  }

  void restore(Context& ctx) {
    auto saved = ctx.store().get("eventlog/leader");
    if (!saved) return;
    Reader r(*saved);
    Server s(full_resync_);
    s.head_ = r.u64();
    s.snapshot_pos_ = r.u64();
    read_fields(r, s.items_);
    read_fields(r, s.snapshot_items_);
    const std::uint32_t n = r.u32();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      const std::uint64_t pos = r.u64();
      if (auto op = Operation::decode(r.bytes())) s.log_[pos] = *op;
    }
    const std::uint32_t m = r.u32();
    for (std::uint32_t i = 0; i < m && r.ok(); ++i) {
      const KeyId key{r.u32()};
      s.versions_[key] = r.u64();
    }
    const std::uint32_t k = r.u32();
    for (std::uint32_t i = 0; i < k && r.ok(); ++i) {
      const OpId id{r.u64()};
      s.accepted_[id] = r.u64();
    }
    if (!r.ok()) return;
    head_ = s.head_;
    snapshot_pos_ = s.snapshot_pos_;
    items_ = std::move(s.items_);
    snapshot_items_ = std::move(s.snapshot_items_);
    log_ = std::move(s.log_);
    versions_ = std::move(s.versions_);
    accepted_ = std::move(s.accepted_);
  }

  bool full_resync_;
  std::uint64_t head_ = 0;                     ///< the newest log position
  Items items_;                                ///< the state at head_
  std::map<std::uint64_t, Operation> log_;     ///< retained events by position
  std::uint64_t snapshot_pos_ = 0;
  Items snapshot_items_;                       ///< the state at snapshot_pos_
  std::map<KeyId, std::uint64_t> versions_;    ///< per item: how many events touched it
  std::map<OpId, std::uint64_t> accepted_;     ///< leader: op id -> its position, to de-duplicate resends
  /// Leader: an operation that arrived before its predecessor, by that predecessor (not stored: a
  /// crash loses it, and the client resends it).
  struct WaitingOp {
    NodeId from;
    Operation op;
  };
  static constexpr std::size_t kWaitingOpsMax = 1'024;
  std::map<OpId, WaitingOp> waiting_ops_;
  bool synced_ = false;                        ///< follower: caught up with the leader since connecting
  std::map<std::uint64_t, Operation> ahead_;   ///< follower: events past a gap, appended once it fills
  std::map<NodeId, std::uint64_t> waiting_;    ///< follower: clients (and their positions) to answer once synced
};

enum class Variant { delta, full_resync, fire_and_forget, undo_window };

ModelInfo event_log_info(Variant variant) {
  const bool full_resync = variant == Variant::full_resync;
  const bool fire_and_forget = variant == Variant::fire_and_forget;
  const Removes removes = fire_and_forget                    ? Removes::fire_and_forget
                          : variant == Variant::undo_window ? Removes::undo_window
                                                            : Removes::in_order;
  ModelInfo info{
      .name = "event-log-list",
      .description = "event-sourced server log with snapshots and retention; reconnects get the delta",
      .data_type = DataType::list,
      .topology = Topology::client_server,
      .rule = SupersedeRule::server_order,
      .breaks = std::nullopt,
      .make_client = [removes](NodeId) { return std::make_unique<Client>(removes); },
      .make_server = [full_resync](NodeId) { return std::make_unique<Server>(full_resync); },
      // Event sourcing: the server's log of events is the state, so it grows with the writes.
      .datagram_links = !fire_and_forget,
      .multi_server = true,  // followers replay the leader's log and forward to it
      .holds_messages = true,
      // Writes follow reads: clients apply the leader's log in order, followers replay it.
      .writes_follow_reads = OrderPromise::promised,
      .writes_in_order = OrderPromise::promised,
      .metadata_growth = MetadataGrowth::keeps_history,
  };
  if (full_resync) {
    info.name = "event-log-list-full-resync";
    info.description = "event-sourced server log; every reconnect receives a snapshot of everything";
  } else if (fire_and_forget) {
    info.name = "event-log-list-fire-and-forget";
    info.description = "event-log-list whose removes are sent once and dropped on reconnect if unacknowledged: "
                       "a lost remove brings its item back on its user's screen";
    info.breaks = Invariant::silent_rollback;
  } else if (variant == Variant::undo_window) {
    info.name = "event-log-list-undo-window";
    info.description = "event-log-list whose removes wait 3 s in an undo window before they are sent, "
                       "while adds and updates go at once: a user's delete is seen after their next add";
    info.breaks = Invariant::monotonic_writes;
  }
  return info;
}

}  // namespace

ModelInfo event_log_list_model() { return event_log_info(Variant::delta); }
ModelInfo event_log_list_full_resync_model() { return event_log_info(Variant::full_resync); }
ModelInfo event_log_list_fire_and_forget_model() { return event_log_info(Variant::fire_and_forget); }
ModelInfo event_log_list_undo_window_model() { return event_log_info(Variant::undo_window); }

}  // namespace syncstorm
