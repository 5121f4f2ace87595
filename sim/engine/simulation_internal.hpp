// The engine's internals, shared by its three parts and by nothing else: simulation.cpp (the event
// loop, the nodes and the records the checkers read), network.cpp (stream and datagram links,
// connections, reconnects) and faults.cpp (what each fault kind does while it is active). Outside
// sim/engine/, use simulation.hpp.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstring>
#include <map>
#include <memory>
#include <utility>

#include <boost/container/static_vector.hpp>
#include <fmt/format.h>

#include "sim/base/prefetch.hpp"
#include "sim/engine/event_queue.hpp"
#include "sim/engine/hostile.hpp"
#include "sim/engine/priority.hpp"
#include "sim/engine/simulation.hpp"
#include "sim/engine/trace.hpp"
#include "sim/scenario/limits.hpp"

namespace syncstorm::engine_internal {

/// Limits on everything: a model that never goes quiet must not hang a sweep. The event limit is
/// 20 million or 1,000 per node, whichever is larger (sim/scenario/limits.hpp says why).
constexpr std::uint64_t kMaxEvents = limits::kEventsMax;
constexpr std::uint64_t kMaxEventsPerNode = limits::kEventsPerNodeMax;
constexpr std::size_t kMaxMessageBytes = 64u << 20;
constexpr std::size_t kMaxLatencySamples = 200'000;
constexpr Duration kLoadBucket = Duration::millis(100);
constexpr Duration kSampleEvery = Duration::millis(100);
/// The growth check's samples: every node's metadata just before the operation at each of these
/// fractions (in parts per thousand) of the schedule is due. Two points in the first half, so that a
/// run's second half of writes is what they are judged by; none in runs with too few operations.
constexpr std::uint32_t kMetadataSamplesPermille[] = {250, 500};
constexpr std::size_t kMetadataSampleOpsMin = 16;
/// Below this many nodes their records stay in the caches and prefetching them only costs time.
constexpr std::uint32_t kPrefetchNodesMin = 1'000;
/// How many sends ahead keep_packet() asks for the packet slot that send will take.
constexpr std::size_t kSlotLookahead = 4;

enum class EvKind : std::uint8_t {
  deliver,          ///< a = packet slot
  timer,            ///< node, a = tag, b = incarnation
  user_op,          ///< a = operation index
  fault_start,      ///< a = fault index
  fault_end,        ///< a = fault index
  connect_attempt,  ///< node = client, a = connect token
  connect_result,   ///< node = client, a = connect token, b = server | (failure reason << 24)
  dead_check,       ///< node = client, a = epoch: reset if the path is still cut
  server_hears_reset,  ///< node = server, a = epoch, b = client (slow_close)
  restart,          ///< node
  sample,           ///< convergence sampling after the heal
  attack,           ///< node = a malicious fault's client, a = fault index: send one hostile message
  disconnected,     ///< node, a = peer, b = incarnation: a reset caused inside a callback, told afterwards
  crash_point,      ///< node, a = fault index: a crash_after_flush fault's node flushed in a callback
};

/// Why a connect attempt failed, in the high byte of a connect_result event (0: it did not).
enum ConnectFailure : std::uint32_t {
  kConnectRefused = 1,
  kConnectCut = 2,
  kConnectTimedOut = 3,
};

enum ResetReason : std::uint64_t {
  kReasonFault = 1,
  kReasonCrash = 2,
  kReasonPartition = 3,
  kReasonOffline = 4,
  kReasonDown = 5,
  kReasonTimeout = 6,
  kReasonLimitData = 7,
};

/// A node's causal past as its messages carry it: immutable, and shared by every message the node
/// sends until its past grows. Pasts only grow, so a snapshot holds its sender's previous one
/// (`base`): a receiver whose past is exactly `base` takes this snapshot as its own past without
/// reading either (the common case on a relay's broadcast: with 10,000 clients, reading each
/// client's cold list of every writer's count was a fifth of a reconnect storm).
struct PastSnapshot {
  CausalPast past;
  std::uint64_t id = 0;
  std::uint64_t base = 0;  ///< the sender's previous snapshot (0: none)
};

/// A message's bytes, in one block with their count of holders. Copies share the block: a
/// broadcast sends the same bytes to every client (send() shares them when a payload equals the
/// one before), so a relay to 100,000 clients keeps one block, not 100,000 heap strings, and each
/// delivery reads a line that is already cached. The count is not atomic: a run's packets never
/// leave the thread that runs it.
class Payload {
 public:
  Payload() = default;
  explicit Payload(std::string_view bytes) {
    assert(bytes.size() <= kMaxMessageBytes);
    block_ = static_cast<Header*>(::operator new(sizeof(Header) + bytes.size()));
    block_->holders = 1;
    block_->size = static_cast<std::uint32_t>(bytes.size());
    if (!bytes.empty()) std::memcpy(block_ + 1, bytes.data(), bytes.size());
  }
  Payload(const Payload& other) noexcept : block_(other.block_) {
    if (block_ != nullptr) ++block_->holders;
  }
  Payload(Payload&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}
  Payload& operator=(Payload other) noexcept {
    std::swap(block_, other.block_);
    return *this;
  }
  ~Payload() {
    if (block_ != nullptr && --block_->holders == 0) ::operator delete(block_, sizeof(Header) + block_->size);
  }

  std::string_view view() const {
    return block_ == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(block_ + 1), block_->size);
  }
  std::size_t size() const { return block_ == nullptr ? 0 : block_->size; }
  /// Whether these are the bytes `bytes` (then a send shares this block).
  bool holds(std::string_view bytes) const { return block_ != nullptr && view() == bytes; }
  /// The block's first byte and its length, for a cache hint.
  const void* block() const { return block_; }
  std::size_t block_bytes() const { return block_ == nullptr ? 0 : sizeof(Header) + block_->size; }

 private:
  struct Header {
    std::uint32_t holders;
    std::uint32_t size;
  };
  Header* block_ = nullptr;
};

/// 64 bytes with std::optional's flag: a packet slot is one cache line.
struct Packet {
  NodeId from;
  NodeId to;
  std::uint64_t id = 0;
  std::uint64_t epoch = 0;  ///< stream: the connection it travels on; 0 otherwise
  LinkKind link = LinkKind::stream;
  Payload payload;
  std::shared_ptr<const PastSnapshot> past;
};
static_assert(sizeof(std::optional<Packet>) == 64);

struct NodeRuntime;

class Simulation;

class NodeContext final : public Context {
 public:
  NodeContext() = default;
  void bind(Simulation* sim, std::uint32_t index) {
    sim_ = sim;
    index_ = index;
  }
  NodeId self() const override { return NodeId{index_}; }
  Instant local_clock() const override;
  std::span<const NodeId> servers() const override;
  std::span<const NodeId> clients() const override;
  bool send(NodeId to, std::string_view payload) override;
  bool send_control(NodeId to, std::string_view payload) override;
  bool send_with_own_writes_through(NodeId to, std::string_view payload, OpId last) override;
  bool send_without_own_writes(NodeId to, std::string_view payload, std::span<const OpId> missing) override;
  bool send_carrying_op(NodeId to, std::string_view payload, OpId op) override;
  void hold_message(std::uint64_t tag) override;
  void release_held(std::uint64_t tag) override;
  bool connected(NodeId to) const override;
  std::optional<NodeId> connected_server() const override;
  void set_timer(Duration delay, std::uint64_t tag) override;
  Rng& rng() override;
  Store& store() override;
  void report(OpId op, Lifecycle lifecycle, OpId target) override;
  void abort(std::string reason) override;
  std::shared_ptr<void> run_session() const override;

 private:
  Simulation* sim_ = nullptr;
  std::uint32_t index_ = 0;
};

/// Per-node state the engine keeps beside the model's Node object. Line-aligned, so that a record
/// spans the fewest cache lines (six).
struct alignas(64) NodeRuntime {
  // Hot: read on every event addressed to the node. Kept together at the front.
  bool up = false;                 ///< set by start_node
  bool server = false;
  bool dirty = false;              ///< in dirty_nodes_: touched (or crashed) since the last sample
  std::uint32_t incarnation = 0;
  std::unique_ptr<Node> node;
  NodeContext context;             ///< inline: nodes_ is sized once and never moves
  Rng rng{0};                      ///< handed to the model
  Rng net_rng{0};                  ///< the network's draws for messages this node sends
  // Warm: causality and clocks.
  CausalPast past;                                    ///< stale while past_in_snapshot
  std::shared_ptr<const PastSnapshot> past_snapshot;  ///< the node's past exactly, while it has not grown
  bool past_in_snapshot = false;                      ///< the past is past_snapshot's, not yet copied to `past`
  std::uint64_t past_snapshot_id = 0;                 ///< the last snapshot that was the node's past
  Duration skew;
  std::int32_t drift_ppm = 0;
  // A client's one stream connection.
  bool conn_up = false;          ///< the client's view
  bool server_side_up = false;   ///< the server's view (differs during a slow close)
  bool connecting = false;
  bool offline = false;
  /// A timeout fault swallowed data on this connection: a byte stream cannot deliver past bytes it
  /// lost, so nothing more crosses it, either way, until it resets.
  bool swallowed = false;
  NodeId conn_server;
  std::uint32_t attempt = 0;
  std::uint64_t epoch = 0;
  std::uint64_t connect_token = 0;  ///< invalidates a pending attempt when it changes
  Duration previous_backoff;
  Instant last_up_delivery;    ///< FIFO on the connection, client -> server
  Instant last_down_delivery;  ///< FIFO on the connection, server -> client
  Instant link_free_up;        ///< bandwidth: when the upstream is free again
  Instant link_free_down;
  std::optional<std::uint64_t> digest;  ///< State::fingerprint, counted in digest_counts_ (live, trusted, holds a state)
  // Cold: the node's durable storage.
  Store store;
};

class Simulation {
 public:
  Simulation(const Scenario& scenario, const ModelInfo& model, const Schedule& schedule, std::uint64_t seed,
             const RunOptions& options)
      : scenario_(scenario),
        model_(model),
        schedule_(schedule),
        seed_(seed),
        trace_(options.trace_out),
        cache_hints_(options.cache_hints),
        on_send_(options.on_send),
        priority_(schedule.explore == Exploration::priority ? PriorityPlan::draw(schedule, seed) : PriorityPlan()) {}

  RunResult run();

  // Context calls.
  Instant local_clock(std::uint32_t i) const {
    const NodeRuntime& n = nodes_[i];
    const std::int64_t drift = now_.us / 1'000'000 * n.drift_ppm + (now_.us % 1'000'000) * n.drift_ppm / 1'000'000;
    return now_ + n.skew + Duration{drift};
  }
  std::span<const NodeId> server_ids() const { return server_ids_; }
  std::span<const NodeId> client_ids() const { return client_ids_; }
  /// `carries_writes` false: a control message (Context::send_control), which carries no causal past.
  /// `own_through` valid: the message carries the sender's own writes only through that one
  /// (Context::send_with_own_writes_through). `own_missing` not empty: the message lacks those of
  /// the sender's own writes (Context::send_without_own_writes). `carried_op` valid: the message
  /// carries that one operation and its past, nothing else of the sender's (Context::send_carrying_op).
  bool send(NodeId from, NodeId to, std::string_view payload, bool carries_writes = true, OpId own_through = {},
            std::span<const OpId> own_missing = {}, OpId carried_op = {});
  /// The past a message of `from` carries when it holds `from`'s own writes only through `last`;
  /// null (and the run aborted) when `from` did not issue `last`.
  std::shared_ptr<const PastSnapshot> past_through(std::uint32_t from, OpId last);
  /// The past a message of `from` carries when it lacks `missing` of `from`'s own writes; null (and
  /// the run aborted) when `from` did not issue one of them.
  std::shared_ptr<const PastSnapshot> past_without(std::uint32_t from, std::span<const OpId> missing);
  /// The past a message of `from` carries when it holds operation `op` alone: what `op`'s writer had
  /// seen when it issued it, `op` included, as far as `from` could have seen it too; null (and the
  /// run aborted) when `from` could not have seen `op`.
  std::shared_ptr<const PastSnapshot> past_of_op(std::uint32_t from, OpId op);
  /// Keeps `p` until its delivery; returns its slot in packets_.
  std::uint64_t keep_packet(Packet p);
  bool connected(NodeId from, NodeId to) const;
  std::optional<NodeId> connected_server(NodeId client) const {
    const NodeRuntime& n = nodes_[client.value];
    if (n.server || !n.conn_up) return std::nullopt;
    return n.conn_server;
  }
  void set_timer(NodeId node, Duration delay, std::uint64_t tag) {
    push(now_ + max(delay, Duration::zero()), EvKind::timer, node.value, tag, nodes_[node.value].incarnation);
  }
  Rng& rng(NodeId node) { return nodes_[node.value].rng; }
  Store& store(NodeId node) { return nodes_[node.value].store; }
  void report(NodeId node, OpId op, Lifecycle lifecycle, OpId target);
  /// Context::hold_message: marks the message being delivered to `node` as held under `tag`.
  void hold_message(NodeId node, std::uint64_t tag);
  /// Context::release_held: the pasts `node` held under `tag` (every tag: nullopt) become its own.
  void release_held(NodeId node, std::optional<std::uint64_t> tag);
  /// Remembers that `node` showed `op`, a write of a field or item, for OpRecord::seen_before; and,
  /// for a model that promises writes follow reads, a write or remove as read (note_read).
  void note_seen_write(NodeId node, const Operation& op);
  /// For a model that promises writes follow reads: `op` is now the latest write of its key `node`'s
  /// user has read (another user's write or remove it reported seen, or its own it applied).
  void note_read(NodeId node, const Operation& op);
  void abort(std::string reason) {
    if (result_.aborted.empty()) result_.aborted = std::move(reason);
  }
  const std::shared_ptr<void>& run_session() const { return session_; }

 private:
  /// 32 bytes, so that a cache line holds two and the queue stays small at 100,000 nodes.
  struct Event {
    Instant at;
    std::uint64_t seq;
    std::uint64_t a;
    std::uint32_t node_kind;  ///< the node in the low 24 bits, the EvKind in the high 8
    std::uint32_t b;
    std::uint32_t node() const { return node_kind & 0xffffff; }
    EvKind kind() const { return static_cast<EvKind>(node_kind >> 24); }
  };
  static_assert(sizeof(Event) == 32);

  void push(Instant at, EvKind kind, std::uint32_t node, std::uint64_t a = 0, std::uint32_t b = 0) {
    assert(node < (1u << 24) && "node ids fit in 24 bits (the scenario loader caps clients far below)");
    queue_.push(at, Event{at, 0, a, node | (static_cast<std::uint32_t>(kind) << 24), b});
  }
  void record(TraceKind kind, std::uint32_t node, std::uint32_t peer = 0, std::uint64_t a = 0, std::uint64_t b = 0) {
    trace_.record(TraceEvent{now_, kind, node, peer, a, b});
  }

  void setup();
  void dispatch(const Event& e);
  void start_node(std::uint32_t i);
  void crash_node(std::uint32_t i);
  /// Node `i` flushed its store in the callback that just ran: an armed crash point crashes it, as
  /// an event of its own right after (never inside a callback).
  void crash_point_flushed(std::uint32_t i);
  /// Whether node `i` is down through a crash that has not ended: a crash fault active on it, or a
  /// crash point that fired in a window still open.
  bool held_down(NodeId i) const;
  /// A crash of node `i` ended: restarts it, unless another crash still holds it down.
  void restart_crashed(NodeId i);
  void deliver(std::uint64_t slot);
  void user_operation(std::size_t index);
  void fault_start(std::size_t index);
  void fault_end(std::size_t index);
  void connect_attempt(std::uint32_t client, std::uint64_t token);
  void connect_result(std::uint32_t client, std::uint64_t token, std::uint32_t b);
  void schedule_reconnect(std::uint32_t client);
  void reset_connection(std::uint32_t client, ResetReason reason);
  /// Takes in every touched node's state: its digest for convergence (from the last heal on, when
  /// `before_heal` is false) and a client's view for the session checks.
  void sample_convergence(bool before_heal);
  /// Compares client `i`'s state with its last sampled view and records the regressions.
  void note_view(std::uint32_t i, const State& state);
  /// A client view: sorted (key, value) entries, a text element being its own key.
  using View = std::vector<std::pair<std::uint32_t, std::uint64_t>>;
  /// For a model that promises writes follow reads: records in History::read_gaps each write of
  /// another user that `view` shows and `previous` did not, beside a key that lacks what that
  /// user had read (see ReadGap).
  void note_read_gaps(std::uint32_t i, const View& view, const View& previous);
  void sample_metadata(std::size_t before);
  void count_server_load(Instant at, std::uint32_t n = 1);
  void note_all_connected();
  void attack(std::uint32_t client, std::size_t fault_index);
  /// Runs one model callback: the only place that calls into a Node. Callbacks never nest (the
  /// contract in models/model.hpp): a model that iterates its own containers while it sends must not
  /// find them changed under it by a callback the send caused.
  template <class Call>
  void invoke(NodeRuntime& n, Call&& call) {
    assert(!in_callback_ && "a model callback never runs inside another");
    in_callback_ = true;
    struct Leave {
      bool& flag;
      ~Leave() { flag = false; }
    } leave{in_callback_};
    if (crash_points_.empty()) {
      call(touch(n), n.context);
      return;
    }
    const std::uint64_t flushes = n.store.flushes();
    call(touch(n), n.context);
    if (n.store.flushes() != flushes) crash_point_flushed(n.context.self().value);
  }
  /// Tells node `i` that its connection to `peer` reset: at once, or, when a callback is running
  /// (its send closed the connection), as an event of its own once that callback has returned.
  void tell_disconnected(std::uint32_t i, NodeId peer) {
    NodeRuntime& n = nodes_[i];
    if (!in_callback_) {
      invoke(n, [&](Node& model, Context& ctx) { model.on_disconnected(ctx, peer); });
      return;
    }
    push(now_, EvKind::disconnected, i, peer.value, n.incarnation);
  }
  /// A client that should be connected: up and not offline. Counted in reachable_clients_.
  static bool reachable(const NodeRuntime& n) { return !n.server && n.up && !n.offline; }

  /// One link class's latency with its log-normal spread computed once per run, not per message.
  struct LatencySampler {
    Duration min;
    Duration median_excess;
    std::int64_t sigma = 0;
    explicit LatencySampler(const LatencyOptions& l = {})
        : min(l.min), median_excess(max(l.median - l.min, Duration::zero())),
          sigma(Rng::lognormal_sigma(median_excess, max(l.p99 - l.min, Duration::zero()))) {}
    Duration draw(Rng& rng) const { return min + rng.lognormal_with(median_excess, sigma); }
  };
  const LatencySampler& sampler(const LatencyOptions& l) const {
    if (&l == &schedule_.network.server_latency) return server_latency_;
    if (&l == &schedule_.network.peer_latency) return peer_latency_;
    return client_latency_;
  }
  Duration latency(const LatencyOptions& l, Rng& rng) const { return sampler(l).draw(rng); }
  /// A message's base delay on a link with latency `l`: a random draw, or under the priority
  /// strategy the band of `owner`'s priority within the link's [min, p99] (see PriorityPlan).
  Duration message_latency(const LatencyOptions& l, std::uint32_t owner, Rng& rng) const {
    if (schedule_.explore != Exploration::priority) return latency(l, rng);
    return priority_.delay(owner, now_, l.min, l.p99, rng);
  }
  Duration backoff(NodeRuntime& n);
  /// Extra delay the active faults add to a message between a and b.
  Duration fault_delay(NodeId a, NodeId b, std::size_t bytes, Rng& rng) const;
  /// Extra datagram loss, duplication or reordering from active faults.
  Ppm fault_ppm(NodeId a, NodeId b, FaultKind kind) const;
  bool fault_active_on(NodeId n, FaultKind kind) const;
  /// Whether an active partition cuts from -> to; `heals` receives the latest end of such cuts.
  bool cut(NodeId from, NodeId to, Instant* heals = nullptr) const;
  bool is_server(NodeId n) const { return n.value < schedule_.servers; }
  /// The model's node, marked as possibly changed: convergence sampling re-reads only such nodes.
  Node& touch(NodeRuntime& n) {
    mark_dirty(n);
    return *n.node;
  }
  void mark_dirty(NodeRuntime& n) {
    if (n.dirty) return;
    n.dirty = true;
    dirty_nodes_.push_back(static_cast<std::uint32_t>(&n - nodes_.data()));
  }
  std::shared_ptr<const PastSnapshot> past_of(std::uint32_t i) {
    NodeRuntime& n = nodes_[i];
    if (!n.past_snapshot) {
      assert(!n.past_in_snapshot);  // a past that grew was copied out first (own_past)
      auto snapshot = std::make_shared<PastSnapshot>();
      snapshot->past = n.past;
      snapshot->id = ++last_snapshot_id_;
      snapshot->base = n.past_snapshot_id;
      n.past_snapshot_id = snapshot->id;
      n.past_snapshot = std::move(snapshot);
    }
    return n.past_snapshot;
  }
  /// Everything the messages delivered to node `i` carried, held ones included: what can have
  /// changed its replica. A held message may still take effect in part (Yjs parks an update whose
  /// structs lack a predecessor, yet applies its deletes of items the document has at once).
  std::shared_ptr<const CausalPast> delivered_past(std::uint32_t i) {
    const auto past = past_of(i);
    const auto held = held_.find(i);
    if (held == held_.end() || held->second.empty()) return std::shared_ptr<const CausalPast>(past, &past->past);
    auto all = std::make_shared<CausalPast>(past->past);
    for (const auto& [tag, carried] : held->second) {
      if (carried) all->merge(carried->past);
    }
    return all;
  }
  /// What the node could have seen, read in place.
  static const CausalPast& past_now(const NodeRuntime& n) { return n.past_in_snapshot ? n.past_snapshot->past : n.past; }
  /// How many clients' operations the node could have seen.
  static std::uint32_t writers_seen(const NodeRuntime& n) { return static_cast<std::uint32_t>(past_now(n).size()); }
  /// The node's past, to change: copied out of a snapshot it shares first.
  static CausalPast& own_past(NodeRuntime& n) {
    if (n.past_in_snapshot) {
      n.past = n.past_snapshot->past;
      n.past_in_snapshot = false;
    }
    return n.past;
  }
  /// Takes `past` into the node's own (a node's past only grows).
  static void merge_past(NodeRuntime& n, const PastSnapshot& past) {
    if (own_past(n).merge(past.past)) n.past_snapshot.reset();
  }
  /// The node's past is now exactly `snapshot`'s (whose id it records, as the base of its next).
  static void share_past(NodeRuntime& n, const std::shared_ptr<const PastSnapshot>& snapshot, bool copied) {
    n.past_snapshot = snapshot;
    n.past_in_snapshot = !copied;
    n.past_snapshot_id = snapshot->id;
  }

  /// With 10,000 nodes and more their records no longer fit the caches, and the misses of each event
  /// were most of its cost: its node's record, the model object, the packet and its payload, then
  /// the sorted vectors the model searches (its store's records, its own fields), each probe of a
  /// binary search waiting for the one before. So while one event runs, the next two are fetched
  /// in two steps:
  /// - the event after next: its node's record, its model object (found in node_objects_, 8 bytes a
  ///   node, which mostly stays cached) and its packet, whose addresses need nothing cold to compute;
  /// - the next event, whose record, object and packet were asked for one event ago: what they
  ///   point to (the store's records, what the model's own prefetch() names, the payload, and for
  ///   a delivery the sender's fields that deliver() checks).
  /// A delivery's lines are asked for into L2, other events' into L1 (see HintInto).
  /// The next two are usually the queue's first two now; when an event pushes an earlier one, a hint
  /// is wasted. Hints only: nothing read here changes what runs, so traces are the same with or
  /// without.
  void prefetch() {
    if (queue_.empty()) return;
    if (const Event* after = queue_.second(); after != nullptr && after->node() < nodes_.size()) {
      if (after->kind() == EvKind::deliver) {
        prefetch_own_lines<HintInto::l2>(*after);
        if (after->a < packets_.size()) prefetch_block<HintInto::l2>(&packets_[after->a], sizeof(packets_[after->a]));
      } else {
        prefetch_own_lines<HintInto::l1>(*after);
      }
    }
    const Event& next = queue_.top();
    if (next.node() >= nodes_.size()) return;
    // Messages change a replica's state; timers and connection events mostly do not, and asking
    // for a store's or a model's records for them only crowds out the lines that are needed. (User
    // operations are few, and their events carry no node.)
    if (next.kind() != EvKind::deliver) return;
    const NodeRuntime& n = nodes_[next.node()];
    n.store.prefetch();
    if (n.node) n.node->prefetch();
    if (next.a < packets_.size()) {
      if (const auto& packet = packets_[next.a]) {
        prefetch_block<HintInto::l2>(packet->payload.block(), packet->payload.block_bytes());
        // deliver() also reads the sender's record (is it up; on a stream, is the connection the
        // packet left on still open). A client's is cold when the receiver is a server (servers
        // are few, and their records stay cached): the lines of those fields.
        if (packet->from.value < nodes_.size() && !is_server(packet->from)) {
          const NodeRuntime& sender = nodes_[packet->from.value];
          prefetch_block<HintInto::l2>(&sender.up, sizeof(sender.up));
          prefetch_block<HintInto::l2>(&sender.epoch, sizeof(sender.epoch));
          prefetch_block<HintInto::l2>(&sender.conn_up, sizeof(sender.conn_up));
        }
      }
    }
  }

  /// The event's node record and model object, whose addresses need nothing cold to compute.
  /// Always inlined, as prefetch_block is: GCC drops calls to a function that only prefetches.
  template <HintInto into>
  [[gnu::always_inline]] void prefetch_own_lines(const Event& event) const {
    prefetch_block<into>(&nodes_[event.node()], sizeof(NodeRuntime));
    if (const Node* object = node_objects_[event.node()]) prefetch_block<into>(object, 2 * kCacheLine);
  }

  const Scenario& scenario_;
  const ModelInfo& model_;
  const Schedule& schedule_;
  const LatencySampler client_latency_{schedule_.network.latency};
  const LatencySampler peer_latency_{schedule_.network.peer_latency};
  const LatencySampler server_latency_{schedule_.network.server_latency};
  std::uint64_t seed_;
  Trace trace_;
  EventQueue<Event> queue_;
  Instant now_;
  std::vector<NodeRuntime> nodes_;
  std::vector<const Node*> node_objects_;  ///< nodes_[i].node.get(), packed for prefetch()
  bool cache_hints_;              ///< RunOptions::cache_hints
  std::function<void(std::uint64_t, std::string_view)> on_send_;  ///< RunOptions::on_send
  PriorityPlan priority_;         ///< the priority strategy's plan; inactive under random
  bool in_callback_ = false;      ///< a model callback is on the stack (see invoke)
  /// Held messages (Context::hold_message). `delivering_` names the node whose on_message is running
  /// (none outside one); `hold_tag_` the tag it held that message under; `released_now_` keeps the
  /// pasts it released in the same callback, which a hold must not take back. `held_` keeps, per
  /// node that holds any, its held messages' pasts by tag until it releases them or crashes.
  std::optional<std::uint32_t> delivering_;
  std::optional<std::uint64_t> hold_tag_;
  std::vector<std::shared_ptr<const PastSnapshot>> released_now_;
  using HeldPast = std::pair<std::uint64_t, std::shared_ptr<const PastSnapshot>>;
  std::map<std::uint32_t, std::vector<HeldPast>> held_;
  bool prefetch_nodes_ = false;  ///< set by setup(): whether prefetch() is worth its cost
  // Convergence sampling costs O(nodes touched since the last sample), not O(nodes): the digests of
  // the live replicas are kept counted, and they agree when one distinct digest is left.
  std::vector<std::uint32_t> dirty_nodes_;
  std::vector<std::size_t> metadata_sample_ops_;  ///< operation indexes that sample_metadata runs before
  std::map<std::uint64_t, std::uint32_t> digest_counts_;
  std::uint64_t last_snapshot_id_ = 0;  ///< ids of causal-past snapshots, from 1 (see PastSnapshot)
  std::vector<NodeId> server_ids_;
  std::vector<NodeId> client_ids_;
  /// Under server order: per node and key, the writes it last reported seen, at most kSeenBeforeMax,
  /// oldest first; copied into OpRecord::seen_before when it issues a write of that key.
  using SeenWrites = boost::container::static_vector<OpId, kSeenBeforeMax>;
  std::vector<std::map<KeyId, SeenWrites>> seen_writes_;
  /// For a model that promises writes follow reads: per client, the writes its user last read (other
  /// users' writes it reported seen, its own it applied), one per key, at most kReadBeforeMax, oldest
  /// first; copied into
  /// OpRecord::read_before when it issues a write. Empty for other models.
  using ReadWrites = boost::container::static_vector<OpId, kReadBeforeMax>;
  std::vector<ReadWrites> reads_;
  /// Map and list runs: per client, the sorted (key, value) entries its state showed at the last
  /// sample of its current incarnation, for History::view_regressions.
  std::vector<std::vector<std::pair<std::uint32_t, std::uint64_t>>> views_;
  /// The view note_view builds, swapped with the node's previous one: no allocation per sample.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> view_scratch_;
  std::vector<std::optional<Packet>> packets_;
  std::vector<Instant> server_fifo_;  ///< last delivery per (server, server) pair
  /// Peer-to-peer runs: per node, the last message id sent before a reset fault on it. A datagram
  /// between peers sent at or before that id and still in flight is lost, as a handover loses what
  /// a phone's old network carried (packet ids grow with every send).
  std::vector<std::uint64_t> peer_reset_through_;
  std::vector<std::uint64_t> free_slots_;
  Payload last_payload_;  ///< the last send's bytes, which the next send shares when it sends the same
  std::vector<std::size_t> active_faults_;  ///< indices into schedule_.faults, in start order
  /// Armed crash points: (node, fault index) of each open crash_after_flush window whose node has
  /// not flushed yet. Empty in nearly every run, which keeps invoke() at one test.
  std::vector<std::pair<std::uint32_t, std::size_t>> crash_points_;
  /// Crash points that fired, (node, fault index): the node stays down until that window ends.
  std::vector<std::pair<std::uint32_t, std::size_t>> crash_points_fired_;
  /// For each active partition fault: a side per node (0 none, 1 a, 2 b, 3 bridge).
  std::vector<std::pair<std::size_t, std::vector<std::uint8_t>>> partitions_;
  /// For each active limit_data fault and client it has seen traffic of: the connection (its epoch)
  /// and the bytes it carried since the fault began. Erased at the fault's end.
  std::map<std::pair<std::size_t, std::uint32_t>, std::pair<std::uint64_t, std::uint64_t>> limit_data_bytes_;
  std::uint64_t next_message_id_ = 0;
  std::uint64_t next_epoch_ = 0;
  std::uint32_t connected_clients_ = 0;
  /// Per node: a client without its stream connection at the last heal that has not had one since
  /// (History::clients_back). Filled by the first sample from the heal on.
  std::vector<std::uint8_t> cut_at_heal_;
  std::uint32_t reachable_clients_ = 0;  ///< kept up to date, so no event scans every client
  Instant last_disruption_ = Instant::never();
  RunResult result_;
  /// What the model's begin_run hook made for this run (an external model's child process). Nodes
  /// hold their own references, so it lives until the last of them is destroyed.
  std::shared_ptr<void> session_;
  /// The malicious faults' traffic; null when the schedule has none, so honest runs pay nothing.
  std::unique_ptr<HostileTraffic> hostile_;
};

}  // namespace syncstorm::engine_internal
