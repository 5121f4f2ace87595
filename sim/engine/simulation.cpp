// The runtime: one event queue ordered by (time, sequence), nodes with their contexts, the network
// with its two link kinds, the faults of the schedule, and the records the checkers read.
#include "sim/engine/simulation.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <map>
#include <memory>
#include <utility>

#include <fmt/format.h>

#include "sim/engine/event_queue.hpp"
#include "sim/engine/hostile.hpp"
#include "sim/base/prefetch.hpp"
#include "sim/engine/trace.hpp"

namespace syncstorm {

namespace {

/// Limits on everything: a model that never goes quiet must not hang a sweep.
/// The event limit is 20 million or 1,000 per node, whichever is larger: a 100,000-client storm
/// legitimately needs more than 20 million.
constexpr std::uint64_t kMaxEvents = 20'000'000;
constexpr std::uint64_t kMaxEventsPerNode = 1'000;
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

}  // namespace

class Simulation;

namespace {

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
  std::uint64_t conn_bytes = 0;
  Instant link_free_up;        ///< bandwidth: when the upstream is free again
  Instant link_free_down;
  std::optional<std::uint64_t> digest;  ///< State::fingerprint, counted in digest_counts_ (live, trusted, holds a state)
  // Cold: the node's durable storage.
  Store store;
};

}  // namespace

class Simulation {
 public:
  Simulation(const Scenario& scenario, const ModelInfo& model, const Schedule& schedule, std::uint64_t seed,
             const RunOptions& options)
      : scenario_(scenario),
        model_(model),
        schedule_(schedule),
        seed_(seed),
        trace_(options.trace_out),
        cache_hints_(options.cache_hints) {}

  RunResult run();

  // Context calls.
  Instant local_clock(std::uint32_t i) const {
    const NodeRuntime& n = nodes_[i];
    const std::int64_t drift = now_.us / 1'000'000 * n.drift_ppm + (now_.us % 1'000'000) * n.drift_ppm / 1'000'000;
    return now_ + n.skew + Duration{drift};
  }
  std::span<const NodeId> server_ids() const { return server_ids_; }
  std::span<const NodeId> client_ids() const { return client_ids_; }
  bool send(NodeId from, NodeId to, std::string_view payload);
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
  /// Remembers that `node` showed `op`, a write of a field or item, for OpRecord::seen_before.
  void note_seen_write(NodeId node, const Operation& op);
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
    call(touch(n), n.context);
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
  /// How many clients' operations the node could have seen.
  static std::uint32_t writers_seen(const NodeRuntime& n) {
    const CausalPast& past = n.past_in_snapshot ? n.past_snapshot->past : n.past;
    return static_cast<std::uint32_t>(past.size());
  }
  /// The node's past, to change: copied out of a snapshot it shares first.
  static CausalPast& own_past(NodeRuntime& n) {
    if (n.past_in_snapshot) {
      n.past = n.past_snapshot->past;
      n.past_in_snapshot = false;
    }
    return n.past;
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
  bool in_callback_ = false;      ///< a model callback is on the stack (see invoke)
  bool prefetch_nodes_ = false;  ///< set by setup(): whether prefetch() is worth its cost
  // Convergence sampling costs O(nodes touched since the last sample), not O(nodes): the digests of
  // the live replicas are kept counted, and they agree when one distinct digest is left.
  std::vector<std::uint32_t> dirty_nodes_;
  std::vector<std::size_t> metadata_sample_ops_;  ///< operation indexes that sample_metadata runs before
  std::map<std::uint64_t, std::uint32_t> digest_counts_;
  std::uint64_t last_snapshot_id_ = 0;  ///< ids of causal-past snapshots, from 1 (see PastSnapshot)
  std::vector<NodeId> server_ids_;
  std::vector<NodeId> client_ids_;
  /// Under server order: per node, the (key, write) pairs it last reported seen, at most
  /// kSeenBeforeMax per key, oldest first; copied into OpRecord::seen_before when it issues a write.
  std::vector<std::vector<std::pair<KeyId, OpId>>> seen_writes_;
  /// Map and list runs: per client, the sorted (key, value) entries its state showed at the last
  /// sample of its current incarnation, for History::view_regressions.
  std::vector<std::vector<std::pair<std::uint32_t, std::uint64_t>>> views_;
  std::vector<std::optional<Packet>> packets_;
  std::vector<Instant> server_fifo_;  ///< last delivery per (server, server) pair
  std::vector<std::uint64_t> free_slots_;
  Payload last_payload_;  ///< the last send's bytes, which the next send shares when it sends the same
  std::vector<std::size_t> active_faults_;  ///< indices into schedule_.faults, in start order
  /// For each active partition fault: a side per node (0 none, 1 a, 2 b, 3 bridge).
  std::vector<std::pair<std::size_t, std::vector<std::uint8_t>>> partitions_;
  std::uint64_t next_message_id_ = 0;
  std::uint64_t next_epoch_ = 0;
  std::uint32_t connected_clients_ = 0;
  std::uint32_t reachable_clients_ = 0;  ///< kept up to date, so no event scans every client
  Instant last_disruption_ = Instant::never();
  RunResult result_;
  /// What the model's begin_run hook made for this run (an external model's child process). Nodes
  /// hold their own references, so it lives until the last of them is destroyed.
  std::shared_ptr<void> session_;
  /// The malicious faults' traffic; null when the schedule has none, so honest runs pay nothing.
  std::unique_ptr<HostileTraffic> hostile_;
};

namespace {
Instant NodeContext::local_clock() const { return sim_->local_clock(index_); }
std::span<const NodeId> NodeContext::servers() const { return sim_->server_ids(); }
std::span<const NodeId> NodeContext::clients() const { return sim_->client_ids(); }
bool NodeContext::send(NodeId to, std::string_view payload) { return sim_->send(NodeId{index_}, to, payload); }
bool NodeContext::connected(NodeId to) const { return sim_->connected(NodeId{index_}, to); }
std::optional<NodeId> NodeContext::connected_server() const { return sim_->connected_server(NodeId{index_}); }
void NodeContext::set_timer(Duration delay, std::uint64_t tag) { sim_->set_timer(NodeId{index_}, delay, tag); }
Rng& NodeContext::rng() { return sim_->rng(NodeId{index_}); }
Store& NodeContext::store() { return sim_->store(NodeId{index_}); }
void NodeContext::report(OpId op, Lifecycle lifecycle, OpId target) { sim_->report(NodeId{index_}, op, lifecycle, target); }
void NodeContext::abort(std::string reason) { sim_->abort(std::move(reason)); }
std::shared_ptr<void> NodeContext::run_session() const { return sim_->run_session(); }
}  // namespace

void Simulation::setup() {
  if (model_.begin_run) session_ = model_.begin_run();
  const std::uint32_t count = schedule_.node_count();
  nodes_.resize(count);
  node_objects_.assign(count, nullptr);
  prefetch_nodes_ = cache_hints_ && count >= kPrefetchNodesMin;
  for (std::uint32_t i = 0; i < count; ++i) {
    NodeRuntime& n = nodes_[i];
    n.server = i < schedule_.servers;
    (n.server ? server_ids_ : client_ids_).push_back(NodeId{i});
    n.context.bind(this, i);
    n.rng = Rng::derive(seed_, "node", schedule_.stream_of(i));
    n.net_rng = Rng::derive(seed_, "network", schedule_.stream_of(i));
    n.skew = i < schedule_.clock_skew.size() ? schedule_.clock_skew[i] : Duration::zero();
    n.drift_ppm = i < schedule_.clock_drift_ppm.size() ? schedule_.clock_drift_ppm[i] : 0;
  }
  server_fifo_.assign(static_cast<std::size_t>(schedule_.servers) * schedule_.servers, Instant::start());
  History& h = result_.history;
  h.type = model_.data_type;
  h.rule = model_.rule;
  // Seen writes matter to the checkers wherever a field or item has writes to rank.
  if (h.type == DataType::map || h.type == DataType::list) seen_writes_.resize(count);
  if (h.type == DataType::map || h.type == DataType::list) views_.resize(count);
  h.growth_judges_clients = model_.metadata_growth != MetadataGrowth::keeps_history;
  h.growth_judges_servers = model_.metadata_growth == MetadataGrowth::with_state;
  // External replicas answer metadata queries over a pipe: sampling them mid-run is not cheap.
  const bool judged = (h.growth_judges_clients || h.growth_judges_servers) && !model_.external;
  if (judged && schedule_.operations.size() >= kMetadataSampleOpsMin) {
    for (std::uint32_t permille : kMetadataSamplesPermille) {
      metadata_sample_ops_.push_back(schedule_.operations.size() * permille / 1'000);
    }
  }
  h.ops.resize(schedule_.operations.size());
  for (std::size_t i = 0; i < schedule_.operations.size(); ++i) {
    h.ops[i].op = schedule_.operations[i];
    assert(schedule_.operations[i].id.value == i + 1 && "schedules are normalised");
    push(schedule_.operations[i].issued_at, EvKind::user_op, 0, i);
  }
  for (std::size_t i = 0; i < schedule_.faults.size(); ++i) {
    push(schedule_.faults[i].start, EvKind::fault_start, 0, i);
    push(schedule_.faults[i].end(), EvKind::fault_end, 0, i);
  }
  for (const ScheduledFault& f : schedule_.faults) {
    if (f.kind != FaultKind::malicious) continue;
    for (NodeId n : f.side_a) {
      if (!is_server(n)) h.untrusted.push_back(n);
    }
  }
  std::sort(h.untrusted.begin(), h.untrusted.end());
  h.untrusted.erase(std::unique(h.untrusted.begin(), h.untrusted.end()), h.untrusted.end());
  if (!h.untrusted.empty()) hostile_ = std::make_unique<HostileTraffic>(seed_);
  h.last_heal = schedule_.last_heal();
  h.end = schedule_.end();
  // Samples before the last heal watch client views only; from the heal on they also judge
  // convergence. Sampling reads states and records no trace event.
  if (!views_.empty() && Instant::start() + kSampleEvery < h.last_heal) {
    push(Instant::start() + kSampleEvery, EvKind::sample, 0, 1);
  }
  push(h.last_heal, EvKind::sample, 0);
  for (std::uint32_t i = 0; i < count; ++i) start_node(i);
}

void Simulation::start_node(std::uint32_t i) {
  NodeRuntime& n = nodes_[i];
  const bool was_reachable = reachable(n);
  n.up = true;
  if (!was_reachable && reachable(n)) ++reachable_clients_;
  n.node = n.server ? model_.make_server(NodeId{i}) : model_.make_client(NodeId{i});
  assert(n.node && "the model makes a node for every role the scenario has");
  node_objects_[i] = n.node.get();
  invoke(n, [&](Node& model, Context& ctx) { model.on_start(ctx); });
  if (!n.server && !n.offline) {
    n.attempt = 0;
    n.connecting = true;
    push(now_, EvKind::connect_attempt, i, ++n.connect_token);
  }
}

void Simulation::crash_node(std::uint32_t i) {
  NodeRuntime& n = nodes_[i];
  if (!n.up) return;
  ++result_.metrics.crashes;
  const bool persistent = n.server ? scenario_.persistence.server : scenario_.persistence.client;
  record(TraceKind::crash, i, 0, n.incarnation, persistent ? 1 : 0);
  if (reachable(n)) --reachable_clients_;
  n.up = false;  // first, so that a dead node hears nothing of its own connections closing
  mark_dirty(n);  // its digest leaves the convergence count
  if (n.server) {
    for (NodeId c : client_ids_) {
      NodeRuntime& cn = nodes_[c.value];
      if (cn.conn_up && cn.conn_server.value == i) reset_connection(c.value, kReasonCrash);
      else if (cn.server_side_up && cn.conn_server.value == i) cn.server_side_up = false;
    }
  } else {
    reset_connection(i, kReasonCrash);
  }
  ++n.incarnation;  // timers of the old incarnation never fire
  ++n.connect_token;
  n.connecting = false;
  n.node.reset();
  node_objects_[i] = nullptr;
  n.store.crash(persistent, scenario_.persistence.lose_unflushed);
}

bool Simulation::connected(NodeId from, NodeId to) const {
  if (to.value >= nodes_.size()) return false;
  const NodeRuntime& a = nodes_[from.value];
  const NodeRuntime& b = nodes_[to.value];
  if (!a.up || !b.up || a.offline || b.offline) return false;
  if (a.server && b.server) return !cut(from, to);
  if (!a.server && !b.server) return model_.topology == Topology::peer_to_peer && !cut(from, to);
  if (schedule_.network.client_link == LinkKind::datagram) return true;
  if (a.server) return b.server_side_up && b.conn_server == from;
  return a.conn_up && a.conn_server == to;
}

bool Simulation::send(NodeId from, NodeId to, std::string_view payload) {
  if (to.value >= nodes_.size() || to == from) return false;
  NodeRuntime& src = nodes_[from.value];
  if (!src.up) return false;
  if (payload.size() > kMaxMessageBytes) {
    result_.aborted = fmt::format("node {} sent a message of {} bytes (limit {})", from.value, payload.size(), kMaxMessageBytes);
    return false;
  }
  const bool server_link = is_server(from) && is_server(to);
  const bool peer_link = !is_server(from) && !is_server(to);
  if (peer_link && model_.topology != Topology::peer_to_peer) return false;
  const LinkKind link = server_link ? LinkKind::stream : peer_link ? LinkKind::datagram : schedule_.network.client_link;
  Rng& rng = src.net_rng;
  Metrics& m = result_.metrics;
  const std::uint64_t id = ++next_message_id_;
  const std::size_t bytes = payload.size();

  // A broadcast's sends carry the same bytes: they share one block (see Payload).
  if (!last_payload_.holds(payload)) last_payload_ = Payload(payload);
  Packet p{from, to, id, 0, link, last_payload_, past_of(from.value)};
  Duration delay = latency(server_link ? schedule_.network.server_latency
                                       : peer_link ? schedule_.network.peer_latency : schedule_.network.latency,
                           rng) +
                   fault_delay(from, to, bytes, rng);
  Instant at = now_ + delay;

  if (link == LinkKind::stream && !server_link) {
    const std::uint32_t client = is_server(from) ? to.value : from.value;
    NodeRuntime& c = nodes_[client];
    const bool up = is_server(from) ? (c.server_side_up && c.conn_server == from) : (c.conn_up && c.conn_server == to);
    if (!up) return false;
    p.epoch = c.epoch;
    ++m.messages_sent;
    m.bytes_sent += bytes;
    record(TraceKind::send, from.value, to.value, id, bytes);
    // Bandwidth: messages queue behind each other on the link.
    const std::uint64_t bandwidth = schedule_.network.bandwidth_bytes_per_s;
    Instant& link_free = is_server(from) ? c.link_free_down : c.link_free_up;
    if (bandwidth > 0 || fault_active_on(from, FaultKind::bandwidth) || fault_active_on(to, FaultKind::bandwidth)) {
      std::uint64_t bw = bandwidth;
      for (std::size_t fi : active_faults_) {
        const ScheduledFault& f = schedule_.faults[fi];
        if (f.kind == FaultKind::bandwidth && f.bytes > 0 &&
            (std::binary_search(f.side_a.begin(), f.side_a.end(), from) || std::binary_search(f.side_a.begin(), f.side_a.end(), to))) {
          bw = bw == 0 ? f.bytes : std::min(bw, f.bytes);
        }
      }
      const Instant begin = max(now_, link_free);
      link_free = begin + Duration{static_cast<std::int64_t>(bytes * 1'000'000 / std::max<std::uint64_t>(bw, 1))};
      at = link_free + delay;
    }
    // Data into a black hole (timeout fault) never arrives, and neither does anything sent after it
    // on the same connection, even once the fault has ended: TCP delivers bytes in order or not at
    // all. The connection dies at its dead check.
    if (c.swallowed || fault_active_on(from, FaultKind::timeout) || fault_active_on(to, FaultKind::timeout)) {
      c.swallowed = true;
      ++m.messages_dropped;
      record(TraceKind::drop, from.value, to.value, id, bytes);
      return true;
    }
    const Duration stall = at - now_;  // latency, delay faults and bandwidth queueing
    // A partition stalls a live connection: TCP retransmits until it heals or the connection dies.
    Instant heals;
    if (cut(from, to, &heals)) at = max(at, heals + schedule_.network.latency.min);
    // A stream that stalls longer than the heartbeat allows is declared dead and reset, as a
    // WebSocket ping/pong would; without this one tail draw, or one large message queued on a
    // throttled link, would hold every later message behind it.
    if (stall > schedule_.network.dead_connection_timeout) {
      push(now_ + schedule_.network.dead_connection_timeout, EvKind::dead_check, client,
           c.epoch | (std::uint64_t{1} << 63));
    }
    Instant& fifo = is_server(from) ? c.last_down_delivery : c.last_up_delivery;
    at = max(at, fifo);
    fifo = at;
    c.conn_bytes += bytes;
    for (std::size_t fi : active_faults_) {
      const ScheduledFault& f = schedule_.faults[fi];
      if (f.kind == FaultKind::limit_data && c.conn_bytes > f.bytes &&
          (std::binary_search(f.side_a.begin(), f.side_a.end(), from) || std::binary_search(f.side_a.begin(), f.side_a.end(), to))) {
        // The bytes that cross the budget close the connection instead of crossing it: this send
        // fails, as every later one on the connection does (its ends hear of the reset as events).
        ++m.messages_dropped;
        record(TraceKind::drop, from.value, to.value, id, bytes);
        reset_connection(client, kReasonLimitData);
        return false;
      }
    }
  } else {
    ++m.messages_sent;
    m.bytes_sent += bytes;
    record(TraceKind::send, from.value, to.value, id, bytes);
    if (server_link) {
      // Servers talk over long-lived TCP connections: FIFO per ordered pair, and a partition stalls
      // them until it heals (they reconnect at once) instead of losing what was sent.
      Instant heals;
      if (cut(from, to, &heals)) at = max(at, heals + schedule_.network.server_latency.min);
      Instant& fifo = server_fifo_[from.value * schedule_.servers + to.value];
      at = max(at, fifo);
      fifo = at;
    } else if (cut(from, to) || src.offline || nodes_[to.value].offline) {
      // An offline node has no network: on a datagram link nothing leaves it and nothing reaches it.
      ++m.messages_dropped;
      record(TraceKind::drop, from.value, to.value, id, bytes);
      return true;
    }
    if (link == LinkKind::datagram) {
      const NetworkOptions& net = schedule_.network;
      if (rng.chance_ppm(net.drop) || rng.chance_ppm(fault_ppm(from, to, FaultKind::drop))) {
        ++m.messages_dropped;
        record(TraceKind::drop, from.value, to.value, id, bytes);
        return true;
      }
      if (rng.chance_ppm(net.reorder) || rng.chance_ppm(fault_ppm(from, to, FaultKind::reorder))) {
        at += rng.duration_between(Duration::zero(), net.reorder_delay);
      }
      if (rng.chance_ppm(net.duplicate) || rng.chance_ppm(fault_ppm(from, to, FaultKind::duplicate))) {
        ++m.messages_duplicated;
        record(TraceKind::duplicate, from.value, to.value, id, bytes);
        Packet copy = p;
        const Instant copy_at = now_ + latency(peer_link ? net.peer_latency : net.latency, rng);
        push(copy_at, EvKind::deliver, to.value, keep_packet(std::move(copy)));
      }
    }
  }
  push(at, EvKind::deliver, to.value, keep_packet(std::move(p)));
  return true;
}

std::uint64_t Simulation::keep_packet(Packet p) {
  if (free_slots_.empty()) {
    packets_.push_back(std::move(p));
    return packets_.size() - 1;
  }
  const std::uint64_t slot = free_slots_.back();
  free_slots_.pop_back();
  packets_[slot] = std::move(p);
  // Slots are taken from the top of free_slots_, so the one a later send takes is known. A
  // broadcast takes thousands in a row, freed long before and cold: ask for one a few sends ahead
  // (a hint, as prefetch()).
  if (prefetch_nodes_ && free_slots_.size() > kSlotLookahead) {
    prefetch_block(&packets_[free_slots_[free_slots_.size() - 1 - kSlotLookahead]], sizeof(packets_[slot]));
  }
  return slot;
}

void Simulation::deliver(std::uint64_t slot) {
  Packet p = std::move(*packets_[slot]);
  packets_[slot].reset();
  free_slots_.push_back(slot);
  Metrics& m = result_.metrics;
  NodeRuntime& dst = nodes_[p.to.value];
  const NodeRuntime& src = nodes_[p.from.value];
  // An offline node hears nothing, and what it sent is cut on arrival as a partition cuts it: an
  // offline fault is a partition of the node from everyone, on every link.
  bool lost = !dst.up || !src.up || dst.offline || src.offline;
  if (!lost && p.link == LinkKind::stream && p.epoch != 0) {
    const NodeRuntime& c = nodes_[is_server(p.from) ? p.to.value : p.from.value];
    lost = c.epoch != p.epoch || !c.conn_up;
  } else if (!lost && cut(p.from, p.to)) {
    if (is_server(p.from) && is_server(p.to)) {
      // A partition began while this was in flight between servers: it waits for the heal, in order.
      Instant heals;
      cut(p.from, p.to, &heals);
      Instant& fifo = server_fifo_[p.from.value * schedule_.servers + p.to.value];
      fifo = max(fifo, heals + schedule_.network.server_latency.min);
      assert(free_slots_.back() == slot && "the slot freed above is still the last one");
      free_slots_.pop_back();
      packets_[slot] = std::move(p);
      push(fifo, EvKind::deliver, packets_[slot]->to.value, slot);
      return;
    }
    lost = true;
  }
  if (lost) {
    ++m.messages_dropped;
    record(TraceKind::drop, p.to.value, p.from.value, p.id, p.payload.size());
    return;
  }
  ++m.messages_delivered;
  record(TraceKind::deliver, p.to.value, p.from.value, p.id, p.payload.size());
  if (dst.server) count_server_load(now_);
  if (hostile_ && dst.server && !is_server(p.from)) hostile_->remember(p.from, p.to, p.payload.view());
  if (p.past) {
    const PastSnapshot& sent = *p.past;
    // past_snapshot_id is the snapshot's id while there is one: no read of the (cold) snapshot.
    assert(!dst.past_snapshot || dst.past_snapshot->id == dst.past_snapshot_id);
    const std::uint64_t current = dst.past_snapshot ? dst.past_snapshot_id : 0;
    if (current != 0 && sent.id == current) {
      // The same past: nothing to take in.
    } else if (current != 0 && sent.base == current) {
      // The receiver's past is exactly the sender's previous one, so it becomes exactly this one.
      share_past(dst, p.past, false);
    } else {
      bool became_sent = false;
      const bool grew = own_past(dst).merge(sent.past, &became_sent);
      // Now exactly the sender's past: share its snapshot, so that its next one is taken in whole.
      if (became_sent) share_past(dst, p.past, true);
      else if (grew) dst.past_snapshot.reset();
    }
  }
  invoke(dst, [&](Node& model, Context& ctx) { model.on_message(ctx, p.from, p.payload.view()); });
}

void Simulation::user_operation(std::size_t index) {
  if (result_.history.metadata_samples.size() < metadata_sample_ops_.size() &&
      index >= metadata_sample_ops_[result_.history.metadata_samples.size()]) {
    sample_metadata(index);
  }
  OpRecord& r = result_.history.ops[index];
  const std::uint32_t client = r.op.client.value;
  NodeRuntime& n = nodes_[client];
  if (!n.up) {
    ++result_.metrics.intents_lost;
    record(TraceKind::intent_lost, client, 0, r.op.id.value, static_cast<std::uint64_t>(r.op.kind));
    return;
  }
  r.issued = true;
  r.sequence = own_past(n).advance(r.op.client);
  n.past_snapshot.reset();
  const auto snapshot = past_of(client);
  r.past = std::shared_ptr<const CausalPast>(snapshot, &snapshot->past);
  if (!seen_writes_.empty()) {
    for (const auto& [key, seen] : seen_writes_[client]) {
      if (key == r.op.key) r.seen_before.push_back(seen);
    }
  }
  ++result_.metrics.operations;
  record(TraceKind::operation, client, r.op.key.value, r.op.id.value, static_cast<std::uint64_t>(r.op.kind));
  invoke(n, [&](Node& model, Context& ctx) { model.on_user_operation(ctx, r.op); });
}

void Simulation::report(NodeId node, OpId op, Lifecycle lifecycle, OpId target) {
  History& h = result_.history;
  if (op.value == 0 || op.value > h.ops.size()) return;  // a model reporting an id that never existed
  OpRecord& r = h.ops[op.value - 1];
  Metrics& m = result_.metrics;
  const std::int64_t since = (now_ - r.op.issued_at).us;
  if (lifecycle == Lifecycle::seen) {
    if (node != r.op.client && m.remote_latency_us.size() < kMaxLatencySamples) m.remote_latency_us.push_back(since);
    if (node != r.op.client && r.issued && !seen_writes_.empty()) note_seen_write(node, r.op);
    return;
  }
  if (node != r.op.client || !r.issued) return;  // only its own replica speaks for what its user saw
  switch (lifecycle) {
    case Lifecycle::applied:
      if (r.applied) return;
      r.applied = now_;
      r.target = target;
      ++m.applied;
      if (m.local_latency_us.size() < kMaxLatencySamples) m.local_latency_us.push_back(since);
      record(TraceKind::applied, node.value, 0, op.value, target.value);
      break;
    case Lifecycle::acknowledged:
      if (r.acknowledged) return;
      r.acknowledged = now_;
      ++m.acknowledged;
      if (m.ack_latency_us.size() < kMaxLatencySamples) m.ack_latency_us.push_back(since);
      record(TraceKind::acknowledged, node.value, 0, op.value, 0);
      break;
    case Lifecycle::rejected:
      if (r.rejected) return;
      r.rejected = now_;
      ++m.rejected;
      record(TraceKind::rejected, node.value, 0, op.value, 0);
      break;
    case Lifecycle::seen: break;
  }
}

void Simulation::note_seen_write(NodeId node, const Operation& op) {
  if (op.kind != OpKind::map_set && op.kind != OpKind::list_add && op.kind != OpKind::list_update) return;
  std::vector<std::pair<KeyId, OpId>>& seen = seen_writes_[node.value];
  std::size_t same_key = 0;
  auto oldest = seen.end();
  for (auto it = seen.begin(); it != seen.end(); ++it) {
    if (it->first != op.key) continue;
    if (it->second == op.id) return;
    if (same_key++ == 0) oldest = it;
  }
  if (same_key >= kSeenBeforeMax) seen.erase(oldest);
  seen.emplace_back(op.key, op.id);
}

bool Simulation::cut(NodeId from, NodeId to, Instant* heals) const {
  bool result = false;
  for (const auto& [fi, sides] : partitions_) {
    const std::uint8_t a = sides[from.value];
    const std::uint8_t b = sides[to.value];
    if (a == 0 || b == 0 || a == 3 || b == 3 || a == b) continue;
    const ScheduledFault& f = schedule_.faults[fi];
    if (f.one_way && a != 1) continue;  // one way: only side a -> side b is cut
    result = true;
    if (heals == nullptr) return true;
    *heals = max(*heals, f.end());
  }
  return result;
}

bool Simulation::fault_active_on(NodeId n, FaultKind kind) const {
  for (std::size_t fi : active_faults_) {
    const ScheduledFault& f = schedule_.faults[fi];
    if (f.kind == kind && std::binary_search(f.side_a.begin(), f.side_a.end(), n)) return true;
  }
  return false;
}

Duration Simulation::fault_delay(NodeId a, NodeId b, std::size_t bytes, Rng& rng) const {
  Duration extra;
  for (std::size_t fi : active_faults_) {
    const ScheduledFault& f = schedule_.faults[fi];
    const bool hit = std::binary_search(f.side_a.begin(), f.side_a.end(), a) ||
                     std::binary_search(f.side_a.begin(), f.side_a.end(), b);
    if (!hit) continue;
    switch (f.kind) {
      case FaultKind::latency: extra += f.amount; break;
      case FaultKind::jitter: extra += rng.duration_between(Duration::zero(), f.amount); break;
      case FaultKind::slicer: {
        const std::uint64_t slice = std::max<std::uint64_t>(f.bytes, 1);
        extra += f.amount * static_cast<std::int64_t>((bytes + slice - 1) / slice);
        break;
      }
      default: break;
    }
  }
  return extra;
}

Ppm Simulation::fault_ppm(NodeId a, NodeId b, FaultKind kind) const {
  Ppm ppm = 0;
  for (std::size_t fi : active_faults_) {
    const ScheduledFault& f = schedule_.faults[fi];
    if (f.kind == kind && (std::binary_search(f.side_a.begin(), f.side_a.end(), a) ||
                           std::binary_search(f.side_a.begin(), f.side_a.end(), b))) {
      ppm = std::max(ppm, f.ppm);
    }
  }
  return ppm;
}

void Simulation::fault_start(std::size_t index) {
  const ScheduledFault& f = schedule_.faults[index];
  record(TraceKind::fault_start, f.side_a.empty() ? 0 : f.side_a.front().value, 0, index, static_cast<std::uint64_t>(f.kind));
  active_faults_.push_back(index);
  switch (f.kind) {
    case FaultKind::partition: {
      std::vector<std::uint8_t> sides(nodes_.size(), 0);
      for (NodeId n : f.side_a) sides[n.value] = 1;
      for (NodeId n : f.side_b) sides[n.value] = 2;
      for (NodeId n : f.bridge) sides[n.value] = 3;
      partitions_.emplace_back(index, std::move(sides));
      // Live connections across the cut go silent; heartbeats notice after the dead-connection timeout.
      for (NodeId c : client_ids_) {
        const NodeRuntime& cn = nodes_[c.value];
        if (cn.conn_up && (cut(c, cn.conn_server) || cut(cn.conn_server, c))) {
          push(now_ + schedule_.network.dead_connection_timeout, EvKind::dead_check, c.value, cn.epoch);
        }
      }
      break;
    }
    case FaultKind::crash:
      for (NodeId n : f.side_a) crash_node(n.value);
      last_disruption_ = now_;
      break;
    case FaultKind::reset:
    case FaultKind::down:
      for (NodeId n : f.side_a) {
        if (is_server(n)) {
          for (NodeId c : client_ids_) {
            if (nodes_[c.value].conn_up && nodes_[c.value].conn_server == n) {
              reset_connection(c.value, f.kind == FaultKind::reset ? kReasonFault : kReasonDown);
            }
          }
        } else {
          reset_connection(n.value, f.kind == FaultKind::reset ? kReasonFault : kReasonDown);
        }
      }
      last_disruption_ = now_;
      break;
    case FaultKind::offline:
      for (NodeId n : f.side_a) {
        if (is_server(n)) continue;
        if (reachable(nodes_[n.value])) --reachable_clients_;
        nodes_[n.value].offline = true;
        ++nodes_[n.value].connect_token;
        nodes_[n.value].connecting = false;
        reset_connection(n.value, kReasonOffline);
      }
      break;
    case FaultKind::timeout:
      for (NodeId c : client_ids_) {
        const NodeRuntime& cn = nodes_[c.value];
        if (cn.conn_up && (std::binary_search(f.side_a.begin(), f.side_a.end(), c) ||
                           std::binary_search(f.side_a.begin(), f.side_a.end(), cn.conn_server))) {
          push(now_ + f.amount, EvKind::dead_check, c.value, cn.epoch | (std::uint64_t{1} << 63));
        }
      }
      break;
    case FaultKind::clock_jump:
      for (NodeId n : f.side_a) nodes_[n.value].skew += f.amount;
      break;
    case FaultKind::malicious:
      for (NodeId n : f.side_a) {
        if (!is_server(n)) push(now_ + max(f.amount, Duration::millis(1)), EvKind::attack, n.value, index);
      }
      break;
    default: break;  // latency, jitter, bandwidth, slicer, limit_data, slow_close, drop, duplicate,
                     // reorder act on each message while active
  }
}

void Simulation::fault_end(std::size_t index) {
  const ScheduledFault& f = schedule_.faults[index];
  record(TraceKind::fault_end, f.side_a.empty() ? 0 : f.side_a.front().value, 0, index, static_cast<std::uint64_t>(f.kind));
  std::erase(active_faults_, index);
  std::erase_if(partitions_, [&](const auto& p) { return p.first == index; });
  switch (f.kind) {
    case FaultKind::crash:
      for (NodeId n : f.side_a) {
        NodeRuntime& node = nodes_[n.value];
        if (node.up) continue;
        const bool persistent = node.server ? scenario_.persistence.server : scenario_.persistence.client;
        record(TraceKind::restart, n.value, 0, node.incarnation, persistent ? 1 : 0);
        start_node(n.value);
      }
      break;
    case FaultKind::offline:
      for (NodeId n : f.side_a) {
        NodeRuntime& node = nodes_[n.value];
        if (is_server(n) || !node.offline) continue;
        node.offline = false;
        if (reachable(node)) ++reachable_clients_;
        if (node.up && !node.conn_up) {
          node.attempt = 0;
          node.connecting = true;
          push(now_, EvKind::connect_attempt, n.value, ++node.connect_token);
        }
      }
      break;
    default: break;
  }
}

Duration Simulation::backoff(NodeRuntime& n) {
  const BackoffOptions& b = schedule_.network.backoff;
  Rng& rng = n.rng;
  Duration delay;
  switch (b.policy) {
    case BackoffPolicy::none: delay = Duration::zero(); break;
    case BackoffPolicy::fixed: delay = b.base; break;
    case BackoffPolicy::exponential: {
      delay = b.base;
      for (std::uint32_t i = 0; i < n.attempt && delay < b.max; ++i) {
        delay = Duration{delay.us * static_cast<std::int64_t>(b.multiplier_milli) / 1000};
      }
      break;
    }
  }
  delay = min(delay, b.max);
  if (n.attempt == 0 && !b.jitter_first_attempt) return delay;
  switch (b.jitter) {
    case Jitter::none: break;
    case Jitter::full: delay = rng.duration_between(Duration::zero(), delay); break;
    case Jitter::equal: delay = delay / 2 + rng.duration_between(Duration::zero(), delay / 2); break;
    case Jitter::decorrelated: {
      const Duration previous = n.attempt == 0 ? b.base : n.previous_backoff;
      delay = min(b.max, rng.duration_between(b.base, max(b.base, previous * 3)));
      break;
    }
    case Jitter::proportional: {
      const Duration spread{delay.us * static_cast<std::int64_t>(b.randomization) / kPpmOne};
      delay = rng.duration_between(delay - spread, delay + spread);
      break;
    }
  }
  n.previous_backoff = delay;
  return max(delay, Duration::zero());
}

void Simulation::schedule_reconnect(std::uint32_t client) {
  NodeRuntime& n = nodes_[client];
  if (!n.up || n.offline || n.conn_up) return;
  const Duration delay = backoff(n);
  n.connecting = true;
  push(now_ + delay, EvKind::connect_attempt, client, ++n.connect_token);
}

void Simulation::connect_attempt(std::uint32_t client, std::uint64_t token) {
  NodeRuntime& n = nodes_[client];
  if (token != n.connect_token || !n.up || n.offline || n.conn_up || server_ids_.empty()) return;
  if (schedule_.network.client_link == LinkKind::datagram) {
    // Datagram links have no connection: the client is "connected" to its home server at once.
    n.conn_server = server_ids_[(client - schedule_.servers) % server_ids_.size()];
    n.conn_up = n.server_side_up = true;
    n.epoch = ++next_epoch_;
    n.connecting = false;
    return;
  }
  ++result_.metrics.connect_attempts;
  const NodeId server = schedule_.network.assignment == ServerAssignment::random
                            ? server_ids_[n.rng.below(server_ids_.size())]
                            : server_ids_[(client - schedule_.servers) % server_ids_.size()];
  record(TraceKind::connect_attempt, client, server.value, n.connect_token, n.attempt);
  const NodeId self{client};
  const Duration one_way = latency(schedule_.network.latency, n.net_rng);
  const NodeRuntime& s = nodes_[server.value];
  const bool refused = !s.up || fault_active_on(server, FaultKind::down) || fault_active_on(self, FaultKind::down);
  const Duration timeout = schedule_.network.connect_timeout;
  if (cut(self, server) || cut(server, self)) {
    push(now_ + timeout, EvKind::connect_result, client, token, server.value | (kConnectCut << 24));
    return;
  }
  if (!refused) count_server_load(now_ + one_way);
  // The client gives up after its timeout whatever the handshake would have taken: a tail draw of
  // 50 s must not leave it "connecting" past the end of the run with no backoff running.
  if (one_way * 2 > timeout) {
    push(now_ + timeout, EvKind::connect_result, client, token, server.value | (kConnectTimedOut << 24));
    return;
  }
  push(now_ + one_way * 2, EvKind::connect_result, client, token, server.value | ((refused ? kConnectRefused : 0u) << 24));
}

void Simulation::connect_result(std::uint32_t client, std::uint64_t token, std::uint32_t b) {
  NodeRuntime& n = nodes_[client];
  if (token != n.connect_token || !n.up || n.offline || n.conn_up) return;
  const NodeId server{b & 0xffffff};
  const NodeId self{client};
  NodeRuntime& s = nodes_[server.value];
  const bool failed = (b >> 24) != 0 || !s.up || cut(self, server) || cut(server, self) ||
                      fault_active_on(server, FaultKind::down) || fault_active_on(self, FaultKind::down);
  if (failed) {
    record(TraceKind::connect_failed, client, server.value, n.connect_token, b >> 24);
    ++n.attempt;
    schedule_reconnect(client);
    return;
  }
  if (n.server_side_up) {
    // A half-open connection (slow close) is still alive in the old server's view: it learns of its
    // death now, when the new connection takes over the session, and before it hears of the new one.
    n.server_side_up = false;
    NodeRuntime& old = nodes_[n.conn_server.value];
    if (old.up) invoke(old, [&](Node& model, Context& ctx) { model.on_disconnected(ctx, self); });
  }
  n.conn_up = n.server_side_up = true;
  n.conn_server = server;
  n.epoch = ++next_epoch_;
  n.swallowed = false;
  n.connecting = false;
  n.last_up_delivery = n.last_down_delivery = now_;
  n.link_free_up = n.link_free_down = now_;
  n.conn_bytes = 0;
  ++result_.metrics.connections_established;
  ++connected_clients_;
  // A timeout fault swallows data on every connection of its target, new ones included, and closes
  // each after its timeout (as Toxiproxy's timeout toxic does); otherwise a connection made during
  // the fault would stay up having silently lost what crossed it.
  for (std::size_t fi : active_faults_) {
    const ScheduledFault& f = schedule_.faults[fi];
    if (f.kind == FaultKind::timeout && (std::binary_search(f.side_a.begin(), f.side_a.end(), self) ||
                                         std::binary_search(f.side_a.begin(), f.side_a.end(), server))) {
      push(now_ + f.amount, EvKind::dead_check, client, n.epoch | (std::uint64_t{1} << 63));
    }
  }
  record(TraceKind::connected, client, server.value, n.epoch, n.attempt);
  n.attempt = 0;
  note_all_connected();
  invoke(s, [&](Node& model, Context& ctx) { model.on_connected(ctx, self); });
  // The server's callback may have closed the connection again (a send over a limit_data budget).
  if (n.up && n.conn_up) invoke(n, [&](Node& model, Context& ctx) { model.on_connected(ctx, server); });
}

void Simulation::reset_connection(std::uint32_t client, ResetReason reason) {
  NodeRuntime& n = nodes_[client];
  if (!n.conn_up) return;
  const NodeId server = n.conn_server;
  n.conn_up = false;
  --connected_clients_;
  ++result_.metrics.connection_resets;
  record(TraceKind::reset, client, server.value, n.epoch, reason);
  if (schedule_.network.client_link == LinkKind::datagram) n.server_side_up = false;
  const bool slow = fault_active_on(NodeId{client}, FaultKind::slow_close) || fault_active_on(server, FaultKind::slow_close);
  if (slow && n.server_side_up) {
    Duration delay;
    for (std::size_t fi : active_faults_) {
      const ScheduledFault& f = schedule_.faults[fi];
      if (f.kind == FaultKind::slow_close) delay = max(delay, f.amount);
    }
    push(now_ + delay, EvKind::server_hears_reset, server.value, n.epoch, client);
  } else if (n.server_side_up) {
    n.server_side_up = false;
    if (nodes_[server.value].up) tell_disconnected(server.value, NodeId{client});
  }
  if (n.up && n.node) tell_disconnected(client, server);
  if (n.up && !n.offline && !n.conn_up) {
    n.attempt = 0;
    schedule_reconnect(client);
  }
}

void Simulation::count_server_load(Instant at, std::uint32_t count) {
  const auto bucket = static_cast<std::size_t>(at.us / kLoadBucket.us);
  auto& load = result_.metrics.server_load;
  if (bucket >= load.size()) load.resize(bucket + 1, 0);
  load[bucket] += count;
}

void Simulation::note_all_connected() {
  if (last_disruption_ == Instant::never()) return;
  if (connected_clients_ >= reachable_clients_) {
    result_.metrics.all_reconnected_us = (now_ - last_disruption_).us;
    last_disruption_ = Instant::never();
  }
}

void Simulation::attack(std::uint32_t client, std::size_t fault_index) {
  const ScheduledFault& f = schedule_.faults[fault_index];
  if (now_ >= f.end()) return;
  // A hand-edited repro may hold a zero gap or size; the scenario loader refuses both.
  push(now_ + max(f.amount, Duration::millis(1)), EvKind::attack, client, fault_index);
  const NodeRuntime& n = nodes_[client];
  if (!n.up || !n.conn_up) return;  // it attacks through its live connection, as a real client must
  HostileKind kind = HostileKind::garbage;
  std::string payload = hostile_->craft(NodeId{client}, n.conn_server, std::max<std::uint64_t>(f.bytes, 64), kind);
  ++result_.metrics.hostile_messages;
  record(TraceKind::hostile, client, n.conn_server.value, static_cast<std::uint64_t>(kind), payload.size());
  send(NodeId{client}, n.conn_server, payload);
}

void Simulation::sample_convergence(bool before_heal) {
  History& h = result_.history;
  for (std::uint32_t i : dirty_nodes_) {
    NodeRuntime& n = nodes_[i];
    n.dirty = false;
    if (n.digest) {
      auto counted = digest_counts_.find(*n.digest);
      assert(counted != digest_counts_.end() && counted->second > 0);
      if (--counted->second == 0) digest_counts_.erase(counted);
      n.digest.reset();
    }
    // A crash ends a client's session: its next incarnation's view starts afresh.
    if (!n.up && !views_.empty()) views_[i].clear();
    // A hostile client's replica is not judged (see History::untrusted).
    if (!n.up || h.is_untrusted(NodeId{i})) continue;
    if (auto state = n.node->state()) {
      n.digest = state->fingerprint();  // only compared within this run
      ++digest_counts_[*n.digest];
      if (!views_.empty() && !n.server) note_view(i, *state);
    }
  }
  dirty_nodes_.clear();
  if (before_heal) {
    if (now_ + kSampleEvery < h.last_heal) push(now_ + kSampleEvery, EvKind::sample, 0, 1);
    return;
  }
  const bool agree = digest_counts_.size() <= 1;
  if (!agree) h.converged_at.reset();
  else if (!h.converged_at) h.converged_at = now_;
  if (now_ + kSampleEvery <= h.end) push(now_ + kSampleEvery, EvKind::sample, 0);
}

void Simulation::note_view(std::uint32_t i, const State& state) {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> view;
  if (state.type == DataType::map) {
    view.reserve(state.fields.size());
    for (const auto& [key, value] : state.fields) view.emplace_back(key.value, value.value);
  } else if (state.type == DataType::list) {
    view.reserve(state.items.size());
    for (const Item& item : state.items) view.emplace_back(item.id.value, item.value.value);
  }
  std::sort(view.begin(), view.end());
  History& h = result_.history;
  const auto recorded = [&h](std::uint64_t id) { return id >= 1 && id <= h.ops.size(); };
  // A later-issued write can never be what an earlier one legitimately gives way to, so only a
  // change to an earlier-issued value, or to nothing, is worth a record.
  const auto earlier = [&h](std::uint64_t a, std::uint64_t b) {
    return std::pair{h.ops[a - 1].op.issued_at, a} < std::pair{h.ops[b - 1].op.issued_at, b};
  };
  std::vector<std::pair<std::uint32_t, std::uint64_t>>& previous = views_[i];
  auto now_it = view.begin();
  for (const auto& [key, from] : previous) {
    while (now_it != view.end() && now_it->first < key) ++now_it;
    const bool present = now_it != view.end() && now_it->first == key;
    const std::uint64_t to = present ? now_it->second : 0;
    if (to == from || !recorded(from) || (present && (!recorded(to) || !earlier(to, from)))) continue;
    if (h.view_regressions.size() >= kViewRegressionsMax) break;
    h.view_regressions.push_back({NodeId{i}, now_, KeyId{key}, OpId{from}, OpId{to}});
  }
  previous = std::move(view);
}

/// Twice a run, outside the hot loop: reads every live node's metadata and state without touching it,
/// so the run goes on exactly as without the sample (no event, no trace record).
void Simulation::sample_metadata(std::size_t before) {
  History& h = result_.history;
  MetadataSampling& sampling = h.metadata_samples.emplace_back();
  sampling.before = schedule_.operations[before].id;
  sampling.nodes.resize(nodes_.size());
  for (std::uint32_t i = 0; i < nodes_.size(); ++i) {
    const NodeRuntime& n = nodes_[i];
    if (!n.up || h.is_untrusted(NodeId{i})) continue;
    MetadataSample& s = sampling.nodes[i];
    s.taken = true;
    s.bytes = n.node->metadata_bytes();
    s.visible = visible_elements(n.node->state());
    s.writers = writers_seen(n);
  }
}

void Simulation::dispatch(const Event& e) {
  const std::uint32_t node = e.node();
  switch (e.kind()) {
    case EvKind::deliver: deliver(e.a); break;
    case EvKind::timer: {
      NodeRuntime& n = nodes_[node];
      if (!n.up || n.incarnation != e.b) break;
      ++result_.metrics.timers;
      record(TraceKind::timer, node, 0, e.a, e.b);
      invoke(n, [&](Node& model, Context& ctx) { model.on_timer(ctx, e.a); });
      break;
    }
    case EvKind::user_op: user_operation(e.a); break;
    case EvKind::fault_start: fault_start(e.a); break;
    case EvKind::fault_end: fault_end(e.a); break;
    case EvKind::connect_attempt: connect_attempt(node, e.a); break;
    case EvKind::connect_result: connect_result(node, e.a, e.b); break;
    case EvKind::dead_check: {
      NodeRuntime& n = nodes_[node];
      const bool timeout = (e.a >> 63) != 0;
      const std::uint64_t epoch = e.a & ~(std::uint64_t{1} << 63);
      if (!n.conn_up || n.epoch != epoch) break;
      const NodeId c{node};
      if (timeout || cut(c, n.conn_server) || cut(n.conn_server, c)) {
        reset_connection(node, timeout ? kReasonTimeout : kReasonPartition);
      }
      break;
    }
    case EvKind::server_hears_reset: {
      NodeRuntime& c = nodes_[e.b];
      if (c.epoch != e.a || !c.server_side_up) break;
      c.server_side_up = false;
      NodeRuntime& s = nodes_[node];
      if (s.up) invoke(s, [&](Node& model, Context& ctx) { model.on_disconnected(ctx, NodeId{e.b}); });
      break;
    }
    case EvKind::disconnected: {
      NodeRuntime& n = nodes_[node];
      // A crash since the reset took the connection's callbacks with it (a restarted node never had it).
      if (!n.up || n.incarnation != e.b) break;
      invoke(n, [&](Node& model, Context& ctx) { model.on_disconnected(ctx, NodeId{static_cast<std::uint32_t>(e.a)}); });
      break;
    }
    case EvKind::restart: start_node(node); break;
    case EvKind::sample: sample_convergence(e.a == 1); break;
    case EvKind::attack: attack(node, e.a); break;
  }
}

RunResult Simulation::run() {
  setup();
  const Instant end = result_.history.end;
  const std::uint64_t max_events = std::max(kMaxEvents, std::uint64_t{schedule_.node_count()} * kMaxEventsPerNode);
  Metrics& m = result_.metrics;
  while (!queue_.empty()) {
    if (queue_.top().at > end) break;
    const Event e = queue_.pop();
    if (prefetch_nodes_) prefetch();
    now_ = e.at;
    ++m.events;
    dispatch(e);
    if (!result_.aborted.empty()) break;
    if (m.events >= max_events) {
      result_.aborted = fmt::format("the run exceeded {} events by {:.3f} s of simulated time: a model that never goes quiet?",
                                    max_events, (now_ - Instant::start()).to_seconds());
      break;
    }
  }
  now_ = end;
  m.simulated_us = end.us;
  History& h = result_.history;
  for (std::uint32_t i = 0; i < nodes_.size(); ++i) {
    NodeRuntime& n = nodes_[i];
    NodeFinal f;
    f.node = NodeId{i};
    f.server = n.server;
    f.live = n.up;
    if (n.up) {
      f.state = n.node->state();
      f.metadata_bytes = n.node->metadata_bytes();
      f.writers = writers_seen(n);
      m.metadata_bytes_max = std::max(m.metadata_bytes_max, f.metadata_bytes);
    }
    record(TraceKind::digest, i, 0, f.state ? f.state->digest() : 0, f.metadata_bytes);
    h.finals.push_back(std::move(f));
  }
  if (h.converged_at) m.convergence_us = (*h.converged_at - h.last_heal).us;
  for (std::uint32_t load : m.server_load) m.server_load_peak = std::max(m.server_load_peak, load);
  if (result_.aborted.empty()) result_.violations = check_invariants(h, scenario_.invariants);
  result_.trace_hash = trace_.hash();
  return std::move(result_);
}

RunResult run_simulation(const Scenario& scenario, const ModelInfo& model, const Schedule& schedule, std::uint64_t seed,
                         const RunOptions& options) {
  Simulation sim(scenario, model, schedule, seed, options);
  return sim.run();
}

}  // namespace syncstorm
