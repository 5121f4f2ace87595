// The one interface every sync strategy implements. A strategy is a client-replica side and a
// server side (or peers only). Its nodes talk only through messages of bytes delivered by the
// simulator, use timers, and may keep a persistent store: nothing else, so that an external process
// (a real Yjs or Automerge replica) can stand behind the very same interface.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/container/flat_map.hpp>

#include "sim/base/data.hpp"
#include "sim/base/enum_names.hpp"
#include "sim/base/ids.hpp"
#include "sim/base/invariant.hpp"
#include "sim/base/rng.hpp"
#include "sim/base/time.hpp"

namespace syncstorm {

/// A node's durable storage: the browser's IndexedDB, the server's log. It survives a crash only
/// where the scenario gives the node persistence; writes not yet flushed may be lost on a crash.
class Store {
 public:
  void put(const std::string& key, std::string value);
  void erase(const std::string& key);
  /// Appends `bytes` to the value of `key` (an empty value when there is none). A log kept as one
  /// value, as a write-ahead log file is, then costs each write its record's size, where a put of
  /// the whole value would cost the whole log's.
  void append(const std::string& key, std::string_view bytes);
  std::optional<std::string> get(const std::string& key) const;
  /// Every key that starts with `prefix`, in key order.
  std::vector<std::pair<std::string, std::string>> scan(std::string_view prefix) const;
  /// Makes every write so far durable.
  void flush();
  /// How many times flush() was called: the engine's crash points (crash_after_flush) watch it.
  std::uint64_t flushes() const { return flushes_; }
  /// Applies a crash: forgets everything (no persistence) or only the unflushed writes.
  void crash(bool persistent, bool lose_unflushed);
  std::uint64_t bytes() const;
  /// A hint that this store's replica runs next: asks for the cache lines a write and a flush will
  /// read (see sim/prefetch.hpp). Changes nothing.
  void prefetch() const;

 private:
  // Sorted vectors (flat maps): a replica's store is a few to a few thousand records, written a
  // few at a time and nearly always at the end (keys carry increasing ids), and with 100,000
  // replicas one contiguous block per store is what keeps a write's cost flat.
  boost::container::flat_map<std::string, std::string> durable_;
  boost::container::flat_map<std::string, std::optional<std::string>> unflushed_;  ///< nullopt marks an erase
  /// Appends since the last flush to keys with no unflushed put or erase (an append after one of
  /// those is folded into it) go straight onto the durable value; this is each such key's length
  /// before them (none when it was absent), what a crash that loses unflushed writes cuts it back
  /// to. A batch touches a key or two, so a list searched whole is enough.
  std::vector<std::pair<std::string, std::optional<std::size_t>>> append_marks_;
  std::uint64_t flushes_ = 0;
};

/// What a node may do. Handed to every callback; valid only during it.
class Context {
 public:
  virtual ~Context() = default;

  virtual NodeId self() const = 0;
  /// The node's own clock: simulated time with this node's skew and drift. Strategies that read
  /// "wall clock" read this; it is wrong on purpose when the scenario skews clocks.
  virtual Instant local_clock() const = 0;
  virtual std::span<const NodeId> servers() const = 0;
  virtual std::span<const NodeId> clients() const = 0;

  /// Sends `payload` to `to`. On a stream link the message is delivered in order unless the
  /// connection resets first; returns false when there is no live connection to `to` (the bytes are
  /// not sent). A send that itself closes the connection (it crosses a limit_data budget) returns
  /// false too, and so does every later send to `to` in the same callback; on_disconnected comes
  /// afterwards, as its own event. On a datagram link it returns true and the datagram may be lost,
  /// duplicated or late (while either end is offline, it is always lost).
  /// The bytes are copied: `payload` need only live for the call, and a broadcast of one string to
  /// every client costs no copy per client in the caller.
  virtual bool send(NodeId to, std::string_view payload) = 0;
  /// Sends like send(), declaring that `payload` carries no write: nothing in it lets the receiver
  /// show an operation it could not show before (a handshake, a state-vector request, an
  /// acknowledgement that names only the receiver's own writes, presence). The checkers'
  /// happens-before does not flow along it, so what the receiver writes next is not taken to
  /// follow the writes its sender had seen. Without it, a reconnect handshake sent ahead of a
  /// client's offline writes would order every later write of its peers after those writes, and a
  /// strategy that lets a concurrent write win would be accused of losing one. A model that sends
  /// writes this way hides their loss from the checkers: the declaration is the model's promise.
  /// By default it sends an ordinary message, which orders.
  virtual bool send_control(NodeId to, std::string_view payload) { return send(to, payload); }
  /// Sends like send(), declaring that of this node's own writes `payload` carries `last` (which this
  /// node issued) and those before it, none issued after it: a resent message, or one behind which
  /// newer writes wait (a ShareDB client resends its in-flight op after a reconnect while the ops its
  /// user made offline wait behind it). Happens-before then carries the sender's own writes only
  /// through `last`; without it, a peer's write made after this message arrived would "follow" the
  /// waiting writes it never received. Like send_control, the declaration is the model's promise.
  /// By default it sends an ordinary message, which carries all of them.
  virtual bool send_with_own_writes_through(NodeId to, std::string_view payload, OpId last) {
    (void)last;
    return send(to, payload);
  }
  /// Sends like send(), declaring that `payload` lacks `missing` of this node's own writes (each
  /// one this node issued) while it may carry newer ones: a Yjs delete needs nothing before it, so a
  /// reconnecting client's delete can reach the server ahead of the offline inserts it made earlier.
  /// Happens-before then does not carry those writes to the receiver. Name only writes the message
  /// surely lacks: a write named here that it carries is hidden from the checkers. By default it
  /// sends an ordinary message, which carries all of them.
  virtual bool send_without_own_writes(NodeId to, std::string_view payload, std::span<const OpId> missing) {
    (void)missing;
    return send(to, payload);
  }
  /// Sends like send(), declaring that `payload` carries one operation, `op`, and nothing else this
  /// node knows: a server forwarding a client's op to another server, which takes in that op alone.
  /// Happens-before then carries what `op`'s writer had seen when it issued it (as far as this node
  /// could have seen it too), and `op`, instead of everything the sender has seen since: a forward sent after the sender took in a write its
  /// writer never saw would otherwise order that write before whatever the receiver's clients do
  /// next, although they cannot see it. Like send_control, the declaration is the model's promise.
  /// By default it sends an ordinary message, which carries the sender's whole past.
  virtual bool send_carrying_op(NodeId to, std::string_view payload, OpId op) {
    (void)op;
    return send(to, payload);
  }
  /// Only in on_message, and only for a model that declares ModelInfo::holds_messages: what this
  /// message carries waits inside the replica for something it lacks (a CRDT update whose
  /// dependencies have not arrived), so the receiver has not seen it yet. The checkers'
  /// happens-before then does not flow along it until release_held(tag): without it, the
  /// receiver's next write would count as following writes it never had, and a library ordering one
  /// of those after it, as it may for concurrent writes, would be reported as losing it. Sends made
  /// in the same callback still carry the message's past. The declaration is the model's promise: a
  /// message held and never released hides what it ordered from the checkers.
  virtual void hold_message(std::uint64_t tag) { (void)tag; }
  /// What this node held under `tag` (hold_message, in earlier callbacks) is now part of its state:
  /// the pasts of those messages become its own. A crash releases every tag (what the node could
  /// have seen stays counted).
  virtual void release_held(std::uint64_t tag) { (void)tag; }
  /// Whether a stream connection to `to` is up right now.
  virtual bool connected(NodeId to) const = 0;
  /// The server this client is connected to, if any (clients may land on another instance after a
  /// reconnect).
  virtual std::optional<NodeId> connected_server() const = 0;

  /// Calls on_timer(tag) after `delay` unless the node crashes first.
  virtual void set_timer(Duration delay, std::uint64_t tag) = 0;
  /// This node's own random stream.
  virtual Rng& rng() = 0;
  /// This node's durable storage.
  virtual Store& store() = 0;

  /// Tells the simulator what the user saw. With Lifecycle::applied, `target` names what a delete
  /// took away: the element a text delete removed, or the value a list remove removed (0 when the
  /// item was not visible). The resurrection checker counts only what a remove really removed.
  virtual void report(OpId op, Lifecycle lifecycle, OpId target = {}) = 0;

  /// Stops the run with `reason` (it becomes RunResult::aborted). For a replica that can no longer go
  /// on, such as an external process that crashed, hung or broke the protocol: a finding, not a hang.
  virtual void abort(std::string reason) { (void)reason; }
  /// What ModelInfo::begin_run returned for this run (null when the model has no such hook): lets the
  /// nodes of one run share one resource, such as the child process of an external model.
  virtual std::shared_ptr<void> run_session() const { return nullptr; }
};

/// One replica or server of a strategy. A crash destroys the object; a restart makes a new one
/// (only the Store survives, as the scenario says).
///
/// The callback contract:
/// - Callbacks never nest. The engine calls one callback of one node at a time and none from inside
///   a Context call, so a node may iterate its own containers while it sends. What a callback
///   causes (a connection its send closed, on either end) reaches each node as an event of its own
///   after the callback returns.
/// - The connection is down from the moment it closes: inside the same callback connected() is
///   false and send() returns false, though on_disconnected has not come yet.
/// - Events run in order of virtual time; events of one instant run in the order they were
///   scheduled. So an on_disconnected caused inside a callback runs at the same instant, after the
///   events already due then, and before any reconnect.
class Node {
 public:
  virtual ~Node() = default;
  /// The node starts (the first time, or after a restart).
  virtual void on_start(Context& ctx) = 0;
  /// The user of this client replica performs `op`. Only clients have users, so a server need not
  /// override it.
  virtual void on_user_operation(Context& ctx, const Operation& op) { (void)ctx; (void)op; }
  virtual void on_message(Context& ctx, NodeId from, std::string_view payload) = 0;
  virtual void on_timer(Context& ctx, std::uint64_t tag) { (void)ctx; (void)tag; }
  /// A stream connection to `peer` came up (after a connect or a reconnect).
  virtual void on_connected(Context& ctx, NodeId peer) { (void)ctx; (void)peer; }
  /// A stream connection to `peer` reset; what was in flight on it is lost. Over datagram links:
  /// the client's link to its home server went down (it went offline, its server crashed, a fault
  /// reset it); the server hears nothing.
  virtual void on_disconnected(Context& ctx, NodeId peer) { (void)ctx; (void)peer; }
  /// Over datagram links only, on a client: its link to its home server `server` came up (its
  /// first connect, after a restart, after an offline spell). Nothing is connected: datagrams are
  /// lost or not as the network says, and the server hears nothing. An in-process model need not
  /// care (it asks connected_server() when it sends); an external replica hears it as `connected`,
  /// the one way it learns which server is its own. No model acts on it here, so no trace changes.
  virtual void on_datagram_link_up(Context& ctx, NodeId server) { (void)ctx; (void)server; }
  /// The user-visible state in canonical form; nullopt for a node that holds none (a relay).
  virtual std::optional<State> state() const = 0;
  /// Bytes of sync metadata this node holds (tombstones, logs, version vectors), for the bounded-
  /// metadata invariant and the cost figures.
  virtual std::uint64_t metadata_bytes() const { return 0; }
  /// A hint that one of this node's callbacks comes next: ask for the cache lines it will read (see
  /// sim/prefetch.hpp). It must change nothing: the engine calls it, or not, as it sees fit. Worth
  /// writing only for a replica whose state is read on every message, in runs of 10,000 clients.
  /// It comes before a delivery: ask with HintInto::l2, as the engine does for the delivery's lines.
  virtual void prefetch() const {}
};

/// How a strategy's nodes are wired.
enum class Topology : std::uint8_t {
  client_server,  ///< clients talk to servers over stream (WebSocket) links, or datagram links for a
                  ///< model that declares ModelInfo::datagram_links
  peer_to_peer,   ///< clients talk to each other over datagram links; servers only signal
};
/// Its display names, as `syncstorm list --json` prints them.
inline constexpr std::pair<Topology, std::string_view> kTopologyNames[] = {
    {Topology::client_server, "client-server"}, {Topology::peer_to_peer, "peer-to-peer"}};
inline std::string_view to_string(Topology topology) { return name_of(kTopologyNames, topology); }

/// How a strategy's sync metadata may grow over a run, for the bounded-metadata invariant. Every
/// model but one that keeps every change for ever is held to the scenario's absolute bound; the
/// growth check holds the nodes a declaration does not exempt.
enum class MetadataGrowth : std::uint8_t {
  with_state,           ///< every node's metadata grows only with its visible state and its writers
  server_keeps_writes,  ///< servers keep a record per write by design (applied ids, a log); clients
                        ///< are still judged
  keeps_history,        ///< the strategy keeps its history by design but bounds it (event sourcing
                        ///< with retention): only the absolute bound applies
  keeps_every_change,   ///< the strategy keeps every change for ever and promises no bound
                        ///< (Automerge, Loro): neither check applies. Its growth is a figure
                        ///< (`run` prints it against the scenario's bound; `compare` reports the
                        ///< metadata per replica), not a finding: a team that needs the bound
                        ///< learns it does not fit, without the gate calling the library buggy.
};
inline constexpr std::pair<MetadataGrowth, std::string_view> kMetadataGrowthNames[] = {
    {MetadataGrowth::with_state, "with-state"},
    {MetadataGrowth::server_keeps_writes, "server-keeps-writes"},
    {MetadataGrowth::keeps_history, "keeps-history"},
    {MetadataGrowth::keeps_every_change, "keeps-every-change"}};
inline std::string_view to_string(MetadataGrowth growth) { return name_of(kMetadataGrowthNames, growth); }

/// Whether a strategy promises an order across fields and items, where it runs. Two such promises
/// (ModelInfo::writes_follow_reads, ModelInfo::writes_in_order) take these values.
///
/// Writes follow reads: a replica that shows a user's write also shows what that user's replica had
/// shown before the write was made (or a value that may supersede it). Causal delivery keeps it, and
/// so does one server that applies every change in one order and relays them, in that order, over
/// each client's connection. A per-key design need not: a last-writer-wins map merged field by
/// field, across servers or from gossip, may show a field's new value before another field's older
/// write arrives.
///
/// Writes in order (monotonic writes across keys): a replica that shows a user's write also shows
/// that user's earlier writes of other fields and items that its replica had applied (or values
/// that may supersede them). The same designs keep it, when each client's writes reach the server
/// in the order they were made; a design that sends some writes lazily and others at once need not.
enum class OrderPromise : std::uint8_t {
  not_promised,  ///< the check does not judge it
  over_streams,  ///< promised while clients talk to their server over stream links (one ordered
                 ///< connection); over datagram links messages overtake each other and it need not hold
  promised,      ///< promised on every link and deployment it runs on
};

/// Its names, as `syncstorm list --json` prints them.
inline constexpr std::pair<OrderPromise, std::string_view> kOrderPromiseNames[] = {
    {OrderPromise::not_promised, "not-promised"},
    {OrderPromise::over_streams, "over-streams"},
    {OrderPromise::promised, "promised"}};
inline std::string_view to_string(OrderPromise promise) { return name_of(kOrderPromiseNames, promise); }

/// A strategy as the registry knows it: its facts and how to make its nodes.
struct ModelInfo {
  std::string name;
  std::string description;  ///< one line
  DataType data_type = DataType::map;
  Topology topology = Topology::client_server;
  SupersedeRule rule = SupersedeRule::last_writer_wins;
  /// Set for a deliberately buggy baseline: the invariant it is known to break. A model is correct
  /// exactly when it names none, so a baseline cannot forget to say what it breaks.
  std::optional<Invariant> breaks;
  std::function<std::unique_ptr<Node>(NodeId)> make_client;
  std::function<std::unique_ptr<Node>(NodeId)> make_server;  ///< may be empty for peer_to_peer
  /// Replicas run in a child process (models/external.hpp): slower, and need Node.js or the like, so
  /// commands that run every model by default skip them unless asked by name.
  bool external = false;
  /// Its client-server messages survive datagram links (`link = "datagram"`: loss, duplication,
  /// reordering, no connection events), as a strategy written for WebRTC data channels or UDP must.
  /// Off for one written for WebSockets: fits() keeps it off such scenarios, since its verdicts
  /// there would be about a transport it never promised to handle. Peer links are datagrams for
  /// every peer-to-peer model regardless.
  bool datagram_links = false;
  /// Its servers replicate to one another, so it runs with several (`servers` above 1 in a
  /// scenario): after a crash or a partition between them they catch up. Off for a strategy
  /// written around one server: fits() keeps it off such scenarios, since each of its servers
  /// would hold part of the writes and its verdicts there would be about a deployment it never
  /// promised to handle.
  bool multi_server = false;
  /// Its nodes may call Context::hold_message: the engine then keeps each delivered message's
  /// causal past until the callback has said whether it was held. Off for models that never hold.
  bool holds_messages = false;
  /// Called by the engine once at the start of every run; nodes get the result from
  /// Context::run_session(). Empty for models whose nodes share nothing.
  std::function<std::shared_ptr<void>()> begin_run = nullptr;
  /// Whether it promises writes follow reads across fields and items (see OrderPromise): a
  /// declaration the checker holds it to, on map and list runs.
  OrderPromise writes_follow_reads = OrderPromise::not_promised;
  /// Whether it promises that one user's writes of different fields and items become visible in the
  /// order they were made (see OrderPromise): judged as monotonic writes, on map and list runs. The
  /// same key's order is judged for every model.
  OrderPromise writes_in_order = OrderPromise::not_promised;
  /// How its metadata may grow (see MetadataGrowth): a declaration the checker holds it to.
  MetadataGrowth metadata_growth = MetadataGrowth::with_state;
  /// One of the bug suite (models/bugs/): a target for benchmarks of bug finding, many of them found
  /// only after hundreds of seeds. `list` shows it under a heading of its own, and commands that run
  /// every model by default (compare, check) leave it out unless it is named.
  bool bug_suite = false;

  bool correct() const { return !breaks.has_value(); }
};

/// The set of strategies a CLI knows. Passed by value, never a global: a user's own binary adds its
/// models to the shipped ones and hands the registry to syncstorm::cli_main.
class ModelRegistry {
 public:
  void add(ModelInfo info);
  const ModelInfo* find(std::string_view name) const;
  const std::vector<ModelInfo>& all() const { return models_; }
  /// Keeps a model made while resolving a name (an `external:COMMAND`) alive as long as the registry
  /// and returns it. Only the CLI's thread calls this, while parsing, before any run starts.
  const ModelInfo* keep(ModelInfo info) const { return &resolved_.emplace_back(std::move(info)); }

 private:
  std::vector<ModelInfo> models_;  ///< in registration order, which is the order lists print
  mutable std::deque<ModelInfo> resolved_;  ///< a deque: addresses stay valid as it grows
};

/// Every model shipped with syncstorm (models/registry.cpp: one line per model).
ModelRegistry shipped_models();

}  // namespace syncstorm
