// A scenario: the network, the faults, the users and the checks of one simulated situation. Plain
// option structs, one doc comment and a unit per knob. Loaded from TOML by scenario_file.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models/model.hpp"  // ModelInfo, for fits()
#include "sim/base/data.hpp"
#include "sim/base/enum_names.hpp"
#include "sim/base/invariant.hpp"
#include "sim/base/time.hpp"

namespace syncstorm {

/// Probabilities are integers in parts per million: no floating point enters a run.
using Ppm = std::uint32_t;
inline constexpr Ppm kPpmOne = 1'000'000;

enum class LinkKind : std::uint8_t {
  stream,    ///< WebSocket over TCP: FIFO and lossless inside one live connection; faults reset it
  datagram,  ///< WebRTC unreliable channel or UDP: per-message delay, drop, duplication, reordering
};
inline constexpr std::pair<LinkKind, std::string_view> kLinkKindNames[] = {{LinkKind::stream, "stream"},
                                                                           {LinkKind::datagram, "datagram"}};

/// One-way latency: min plus a log-normal excess whose median and 99th percentile are given.
struct LatencyOptions {
  Duration min = Duration::millis(5);
  Duration median = Duration::millis(30);
  Duration p99 = Duration::millis(150);
  friend bool operator==(const LatencyOptions&, const LatencyOptions&) = default;
};

enum class BackoffPolicy : std::uint8_t { none, fixed, exponential };
enum class Jitter : std::uint8_t {
  none,
  full,          ///< uniform in [0, delay]
  equal,         ///< delay/2 + uniform in [0, delay/2]
  decorrelated,  ///< uniform in [base, previous * 3], capped
  proportional,  ///< delay * (1 +- randomization), as socket.io and gRPC do
};
inline constexpr std::pair<BackoffPolicy, std::string_view> kBackoffPolicyNames[] = {
    {BackoffPolicy::none, "none"}, {BackoffPolicy::fixed, "fixed"}, {BackoffPolicy::exponential, "exponential"}};
inline constexpr std::pair<Jitter, std::string_view> kJitterNames[] = {{Jitter::none, "none"},
                                                                       {Jitter::full, "full"},
                                                                       {Jitter::equal, "equal"},
                                                                       {Jitter::decorrelated, "decorrelated"},
                                                                       {Jitter::proportional, "proportional"}};

/// How a client reconnects after its stream connection resets.
struct BackoffOptions {
  BackoffPolicy policy = BackoffPolicy::exponential;
  Duration base = Duration::millis(500);       ///< the first delay
  Duration max = Duration::seconds(10);        ///< the cap on any delay
  std::uint32_t multiplier_milli = 2'000;      ///< growth per attempt, x1000 (2000 doubles)
  Jitter jitter = Jitter::full;
  Ppm randomization = 500'000;                 ///< for proportional jitter: +-50%
  bool jitter_first_attempt = true;            ///< false: the first retry waits the un-jittered delay
  friend bool operator==(const BackoffOptions&, const BackoffOptions&) = default;
};

enum class ServerAssignment : std::uint8_t {
  sticky,  ///< a client always reconnects to the same server (client index mod servers)
  random,  ///< each (re)connect picks a server at random, as a load balancer does
};
inline constexpr std::pair<ServerAssignment, std::string_view> kServerAssignmentNames[] = {
    {ServerAssignment::sticky, "sticky"}, {ServerAssignment::random, "random"}};

struct NetworkOptions {
  LinkKind client_link = LinkKind::stream;  ///< client-to-server links
  LatencyOptions latency;                   ///< every link class uses it unless overridden below
  LatencyOptions peer_latency;              ///< client-to-client (peer-to-peer) datagram links
  LatencyOptions server_latency{Duration::micros(200), Duration::millis(1), Duration::millis(5)};
  std::uint64_t bandwidth_bytes_per_s = 0;  ///< per direction of each link; 0 = unlimited
  Ppm drop = 0;                             ///< datagram links: chance a datagram is lost
  Ppm duplicate = 0;                        ///< datagram links: chance a datagram arrives twice
  Ppm reorder = 0;                          ///< datagram links: chance a datagram is held back
  Duration reorder_delay = Duration::millis(50);             ///< the most a held-back datagram waits
  Duration dead_connection_timeout = Duration::seconds(5);  ///< heartbeat: a silent link resets after this
  Duration connect_timeout = Duration::seconds(3);          ///< a connect attempt that hears nothing fails
  ServerAssignment assignment = ServerAssignment::sticky;
  BackoffOptions backoff;
  friend bool operator==(const NetworkOptions&, const NetworkOptions&) = default;
};

/// Per-node clock error. Each node draws its skew uniformly in [-skew_max, +skew_max] and its drift
/// in [-drift_ppm_max, +drift_ppm_max]. Only what a model reads as its local clock is wrong.
struct ClockOptions {
  Duration skew_max = Duration::zero();
  std::uint32_t drift_ppm_max = 0;
};

struct PersistenceOptions {
  bool client = false;          ///< clients keep their Store across a crash (IndexedDB)
  bool server = true;           ///< servers keep their Store across a crash (a durable log)
  /// A crash loses writes made since the last flush(): a machine's crash, the default. False is a
  /// process's crash, whose writes the operating system keeps, so the crash flushes them.
  bool lose_unflushed = true;
};

enum class KeyDistribution : std::uint8_t {
  uniform,  ///< every key equally likely
  hot,      ///< `hot_share` of operations touch the first `hot_keys` keys
};
inline constexpr std::pair<KeyDistribution, std::string_view> kKeyDistributionNames[] = {
    {KeyDistribution::uniform, "uniform"}, {KeyDistribution::hot, "hot"}};

/// Users: what they do and how often. Operations are drawn before the run, per client, so every
/// strategy meets the same user intents.
struct WorkloadOptions {
  std::uint32_t clients = 5;
  Duration think_time_mean = Duration::seconds(1);  ///< Poisson arrivals: the mean gap per client
  Duration duration = Duration::seconds(30);        ///< users act in [0, duration)
  std::uint32_t keys = 10;                          ///< fields or item ids users touch
  KeyDistribution distribution = KeyDistribution::uniform;
  std::uint32_t hot_keys = 2;
  Ppm hot_share = 800'000;
  Ppm remove_share = 250'000;    ///< list: share of removes; text: share of deletes
  Ppm update_share = 250'000;    ///< list: share of updates (the rest are adds)
  Ppm decrement_share = 0;       ///< counter: share of negative increments
  Ppm offline_clients = 0;       ///< share of clients that go offline once and keep editing
  Duration offline_min = Duration::seconds(5);
  Duration offline_max = Duration::seconds(20);
};

enum class FaultKind : std::uint8_t {
  partition,   ///< nodes on different sides cannot reach each other (shape decides the sides)
  crash,       ///< the target crashes, and restarts after `duration` (0 = at once)
  reset,       ///< reset_peer: the target's stream connections reset at once
  offline,     ///< a client loses the network for `duration` and does not reconnect before it ends
  latency,     ///< adds `amount` to every message to or from the target
  jitter,      ///< adds uniform [0, amount] to every message to or from the target
  bandwidth,   ///< caps the target's links at `bytes` per second
  down,        ///< the target refuses connections and its live connections close
  timeout,     ///< data to or from the target stops; connections close after `amount`
  slow_close,  ///< a reset reaches the target's peer only `amount` later (half-open window)
  slicer,      ///< messages are cut into `bytes`-sized slices, each paying `amount` extra delay
  limit_data,  ///< a connection closes once `bytes` have crossed it
  drop,        ///< datagram links: extra loss of `ppm`
  duplicate,   ///< datagram links: extra duplication of `ppm`
  reorder,     ///< datagram links: extra reordering of `ppm`
  clock_jump,  ///< the target's local clock jumps by `amount` (may be negative)
  /// The target client turns hostile: every `amount` the engine sends, on its connection to its
  /// server, one hostile message of at most `bytes` (garbage, a truncation of its own message, a
  /// replay of another client's, or an oversized one).
  malicious,
  /// A crash point: the target crashes right after its first flush to durable storage in the
  /// window [start, start + duration) (the callback that flushed has run and sent), and restarts
  /// when the window ends; a target that flushes nothing in it does not crash. The moment a
  /// durability bug needs (a write stored but not yet applied, acknowledged or announced), which a
  /// crash at a random time rarely meets. New kinds go last, so older kinds keep their numbers.
  crash_after_flush,
};
inline constexpr std::pair<FaultKind, std::string_view> kFaultKindNames[] = {
    {FaultKind::partition, "partition"}, {FaultKind::crash, "crash"},
    {FaultKind::reset, "reset"},         {FaultKind::offline, "offline"},
    {FaultKind::latency, "latency"},     {FaultKind::jitter, "jitter"},
    {FaultKind::bandwidth, "bandwidth"}, {FaultKind::down, "down"},
    {FaultKind::timeout, "timeout"},     {FaultKind::slow_close, "slow_close"},
    {FaultKind::slicer, "slicer"},       {FaultKind::limit_data, "limit_data"},
    {FaultKind::drop, "drop"},           {FaultKind::duplicate, "duplicate"},
    {FaultKind::reorder, "reorder"},     {FaultKind::clock_jump, "clock_jump"},
    {FaultKind::malicious, "malicious"}, {FaultKind::crash_after_flush, "crash_after_flush"},
};
std::string_view to_string(FaultKind kind);
std::optional<FaultKind> parse_fault_kind(std::string_view text);
inline constexpr FaultKind kAllFaultKinds[] = {
    FaultKind::partition, FaultKind::crash,   FaultKind::reset,      FaultKind::offline,
    FaultKind::latency,   FaultKind::jitter,  FaultKind::bandwidth,  FaultKind::down,
    FaultKind::timeout,   FaultKind::slow_close, FaultKind::slicer,  FaultKind::limit_data,
    FaultKind::drop,      FaultKind::duplicate, FaultKind::reorder,  FaultKind::clock_jump,
    FaultKind::malicious, FaultKind::crash_after_flush,
};
/// One line describing a fault kind, for `syncstorm list`.
std::string_view describe(FaultKind kind);

enum class PartitionShape : std::uint8_t {
  isolate,          ///< the target against everyone else
  halves,           ///< all nodes split into two random halves
  isolate_servers,  ///< every server against every client
  bridge,           ///< two halves, and one node that still reaches both
  one_way,          ///< the target can hear everyone but nobody hears it
};
inline constexpr std::pair<PartitionShape, std::string_view> kPartitionShapeNames[] = {
    {PartitionShape::isolate, "isolate"},
    {PartitionShape::halves, "halves"},
    {PartitionShape::isolate_servers, "isolate_servers"},
    {PartitionShape::bridge, "bridge"},
    {PartitionShape::one_way, "one_way"}};
std::string_view to_string(PartitionShape shape);

/// Which nodes a fault hits.
struct Target {
  enum class Kind : std::uint8_t {
    all,            ///< every node
    clients,        ///< every client
    servers,        ///< every server
    client,         ///< client number `index`
    server,         ///< server number `index`
    random_client,  ///< one client drawn per seed
    random_server,  ///< one server drawn per seed
  };
  Kind kind = Kind::all;
  std::uint32_t index = 0;
  friend bool operator==(const Target&, const Target&) = default;
};
/// The targets named by a word alone; client:N and server:N carry a number.
inline constexpr std::pair<Target::Kind, std::string_view> kWholeTargetNames[] = {
    {Target::Kind::all, "all"},
    {Target::Kind::clients, "clients"},
    {Target::Kind::servers, "servers"},
    {Target::Kind::random_client, "random_client"},
    {Target::Kind::random_server, "random_server"}};
std::string to_string(const Target& target);

/// One fault as the scenario file states it.
struct FaultSpec {
  FaultKind kind = FaultKind::partition;
  Instant at;                                   ///< when it starts
  Duration duration = Duration::seconds(10);    ///< how long it lasts (crash: until the restart)
  Target target;
  PartitionShape shape = PartitionShape::isolate;
  Duration amount = Duration::zero();           ///< latency, jitter, timeout, slow_close, slicer, clock_jump, malicious (gap)
  std::uint64_t bytes = 0;                      ///< bandwidth (per second), slicer, limit_data, malicious (largest message)
  Ppm ppm = 0;                                  ///< drop, duplicate, reorder
  std::uint32_t line = 0;                       ///< where the scenario file states it, for messages
};

/// Swarm testing: each seed enables a random subset of `kinds` at random intensities and times, as
/// TigerBeetle's VOPR and FoundationDB's simulator do, so one sweep meets gentle and brutal networks.
struct SwarmOptions {
  bool enabled = false;
  std::vector<FaultKind> kinds;        ///< candidate fault kinds
  std::uint32_t max_faults = 4;        ///< at most this many faults per seed
  Duration max_fault_duration = Duration::seconds(15);
};

/// Which checks apply and their bounds.
struct InvariantOptions {
  std::vector<Invariant> enabled{std::begin(kAllInvariants), std::end(kAllInvariants)};
  Duration settle = Duration::seconds(20);             ///< quiet time after the last heal before checking
  Duration convergence_bound = Duration::seconds(15);  ///< converging later than this after the heal fails
  std::uint64_t metadata_bytes_max = 1 << 20;          ///< per replica, after settle
  /// The growth check: a node's metadata at the end may be at most this many times (in thousandths)
  /// what it held at a sample in the first half of the writes, scaled by how much the state it serves
  /// (visible elements, writers) grew since; bounded metadata stays within that, a log or a sibling
  /// kept per write outgrows it.
  std::uint32_t metadata_growth_milli_max = 1'500;
  /// ... plus this much, so that a handful of bytes of slack in a small run is never a finding.
  std::uint64_t metadata_growth_bytes_min = 1 << 10;
};

struct Scenario {
  std::string name;         ///< the file's stem unless the file says otherwise
  std::string description;  ///< one line; what the scenario shows
  std::string file;         ///< where it was loaded from ("" when built in code)
  std::uint32_t servers = 1;
  std::optional<DataType> data_type;  ///< pins the data type: models of other types do not fit
  std::vector<std::string> models;    ///< when not empty, only these models fit (a scenario about them)
  NetworkOptions network;
  ClockOptions clocks;
  PersistenceOptions persistence;
  WorkloadOptions workload;
  std::vector<FaultSpec> faults;
  SwarmOptions swarm;
  InvariantOptions invariants;
};

/// Why a partition of this shape and target would leave a side empty among `servers` and `clients`,
/// and so cut nothing, if it would. The parser refuses such a fault; the swarm draws halves instead.
std::optional<std::string> empty_side(PartitionShape shape, const Target& target, std::uint32_t servers,
                                      std::uint32_t clients);

/// The first of the scenario's listed faults that would touch no link of a run of `model` (its
/// index in `faults`), if any. drop, duplicate and reorder act on datagram links only (a peer
/// model's, or clients' with link = "datagram"); bandwidth, down, timeout, slow_close and
/// limit_data on clients' stream connections only. A peer-to-peer model's servers only introduce
/// peers and carry none of its data: for it, malicious and the stream kinds act on nothing, nor
/// does any fault whose target is servers alone (a reset of a peer loses the datagrams in flight to
/// and from it). Such a fault would run and do nothing.
std::optional<std::size_t> inert_fault(const Scenario& scenario, const ModelInfo& model);

/// Whether a fault as listed touches servers only: its target names servers, or it is a partition
/// that isolates them (halves and bridges split every node whatever the target).
bool targets_servers_only(const FaultSpec& spec);

/// Whether a fault of `kind` acts on some link of a run with `servers` servers whose clients use
/// `client_link`, of a model of `topology`: the rule inert_fault applies to listed faults, and the
/// one swarm mode draws its kinds by for a model (make_schedule).
bool fault_acts(FaultKind kind, std::uint32_t servers, LinkKind client_link, Topology topology);

/// True when `model` can run on `scenario`: the data type it pins, the models it names, the
/// topology, what the model declares of datagram links and several servers, and every listed
/// fault acting on a link the run has.
bool fits(const Scenario& scenario, const ModelInfo& model);

}  // namespace syncstorm
