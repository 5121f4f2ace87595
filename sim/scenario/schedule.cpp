#include "sim/scenario/schedule.hpp"

#include <algorithm>
#include <cassert>
#include <optional>

#include "sim/base/rng.hpp"
#include "sim/scenario/limits.hpp"

namespace syncstorm {

namespace {

/// Every node a target names; random picks come from `rng`.
std::vector<NodeId> resolve(const Target& target, const Schedule& s, Rng& rng) {
  std::vector<NodeId> nodes;
  switch (target.kind) {
    case Target::Kind::all:
      for (std::uint32_t i = 0; i < s.node_count(); ++i) nodes.push_back(NodeId{i});
      break;
    case Target::Kind::clients:
      for (std::uint32_t i = 0; i < s.clients; ++i) nodes.push_back(s.client(i));
      break;
    case Target::Kind::servers:
      for (std::uint32_t i = 0; i < s.servers; ++i) nodes.push_back(s.server(i));
      break;
    case Target::Kind::client: nodes.push_back(s.client(std::min(target.index, s.clients - 1))); break;
    case Target::Kind::server:
      if (s.servers > 0) nodes.push_back(s.server(std::min(target.index, s.servers - 1)));
      break;
    case Target::Kind::random_client:
      nodes.push_back(s.client(static_cast<std::uint32_t>(rng.below(s.clients))));
      break;
    case Target::Kind::random_server:
      if (s.servers > 0) nodes.push_back(s.server(static_cast<std::uint32_t>(rng.below(s.servers))));
      break;
  }
  return nodes;
}

std::vector<NodeId> all_nodes(const Schedule& s) {
  std::vector<NodeId> nodes;
  for (std::uint32_t i = 0; i < s.node_count(); ++i) nodes.push_back(NodeId{i});
  return nodes;
}

std::vector<NodeId> without(const std::vector<NodeId>& from, const std::vector<NodeId>& remove) {
  std::vector<NodeId> out;
  for (NodeId n : from) {
    if (std::find(remove.begin(), remove.end(), n) == remove.end()) out.push_back(n);
  }
  return out;
}

void shuffle(std::vector<NodeId>& nodes, Rng& rng) {
  for (std::size_t i = nodes.size(); i > 1; --i) std::swap(nodes[i - 1], nodes[rng.below(i)]);
}

/// Fills the sides of a partition fault by its shape.
void shape_partition(ScheduledFault& f, PartitionShape shape, const Target& target, const Schedule& s, Rng& rng) {
  switch (shape) {
    case PartitionShape::isolate:
    case PartitionShape::one_way:
      f.side_a = resolve(target, s, rng);
      f.side_b = without(all_nodes(s), f.side_a);
      f.one_way = shape == PartitionShape::one_way;
      break;
    case PartitionShape::isolate_servers:
      f.side_a = resolve(Target{Target::Kind::servers, 0}, s, rng);
      f.side_b = resolve(Target{Target::Kind::clients, 0}, s, rng);
      break;
    case PartitionShape::halves:
    case PartitionShape::bridge: {
      std::vector<NodeId> nodes = all_nodes(s);
      shuffle(nodes, rng);
      if (shape == PartitionShape::bridge && !nodes.empty()) {
        f.bridge.push_back(nodes.back());
        nodes.pop_back();
      }
      const std::size_t half = nodes.size() / 2;
      f.side_a.assign(nodes.begin(), nodes.begin() + static_cast<std::ptrdiff_t>(half));
      f.side_b.assign(nodes.begin() + static_cast<std::ptrdiff_t>(half), nodes.end());
      break;
    }
  }
  std::sort(f.side_a.begin(), f.side_a.end());
  std::sort(f.side_b.begin(), f.side_b.end());
  std::sort(f.bridge.begin(), f.bridge.end());
}

ScheduledFault concrete(const FaultSpec& spec, const Schedule& s, Rng& rng) {
  ScheduledFault f;
  f.kind = spec.kind;
  f.start = spec.at;
  f.duration = spec.duration;
  f.amount = spec.amount;
  f.bytes = spec.bytes;
  f.ppm = spec.ppm;
  if (spec.kind == FaultKind::partition) {
    shape_partition(f, spec.shape, spec.target, s, rng);
  } else {
    f.side_a = resolve(spec.target, s, rng);
    std::sort(f.side_a.begin(), f.side_a.end());
  }
  return f;
}

/// Swarm mode: a random subset of the candidate kinds, at random intensities and times. Given the
/// model's topology, only kinds that act on a link of its runs are candidates (the others would
/// spend a fault on nothing); every listed kind still takes its coin, so the draws after it stay
/// where they were.
void draw_swarm(const Scenario& scenario, Schedule& s, std::uint64_t seed, std::optional<Topology> topology) {
  const SwarmOptions& swarm = scenario.swarm;
  if (!swarm.enabled || swarm.kinds.empty()) return;
  Rng rng = Rng::derive(seed, "swarm");
  std::vector<FaultKind> candidates;
  for (FaultKind kind : swarm.kinds) {
    if (!topology || fault_acts(kind, s.servers, scenario.network.client_link, *topology)) candidates.push_back(kind);
  }
  std::vector<FaultKind> enabled;
  for (FaultKind kind : swarm.kinds) {
    const bool heads = rng.chance_ppm(500'000);
    if (heads && std::find(candidates.begin(), candidates.end(), kind) != candidates.end()) enabled.push_back(kind);
  }
  if (enabled.empty() && !candidates.empty()) enabled.push_back(candidates[rng.below(candidates.size())]);
  // Datagram loss figures are network settings, drawn once per seed, for the kinds the swarm lists:
  // each is drawn either way, so that listing one or not moves no other draw.
  const auto listed = [&](FaultKind kind) { return std::find(swarm.kinds.begin(), swarm.kinds.end(), kind) != swarm.kinds.end(); };
  const auto drop = static_cast<Ppm>(rng.below(200'001));
  const auto duplicate = static_cast<Ppm>(rng.below(100'001));
  const auto reorder = static_cast<Ppm>(rng.below(200'001));
  if (listed(FaultKind::drop)) s.network.drop = std::max(s.network.drop, drop);
  if (listed(FaultKind::duplicate)) s.network.duplicate = std::max(s.network.duplicate, duplicate);
  if (listed(FaultKind::reorder)) s.network.reorder = std::max(s.network.reorder, reorder);
  // No kind acts on this model's links (a peer-to-peer model on a swarm of connection faults): the
  // run has the swarm's network draws and no fault.
  if (enabled.empty()) return;
  const bool peers = topology == Topology::peer_to_peer;
  const auto count = 1 + rng.below(std::max<std::uint32_t>(swarm.max_faults, 1));
  const Duration window = scenario.workload.duration;
  for (std::uint64_t i = 0; i < count; ++i) {
    FaultSpec spec;
    spec.kind = enabled[rng.below(enabled.size())];
    spec.at = Instant{rng.between(0, std::max<std::int64_t>(window.us - 1, 0))};
    spec.duration = rng.duration_between(Duration::millis(500), std::max(swarm.max_fault_duration, Duration::millis(500)));
    spec.target = rng.chance_ppm(800'000) ? Target{Target::Kind::random_client, 0} : Target{Target::Kind::random_server, 0};
    // Only a client turns hostile or goes offline, and a peer-to-peer model's servers hold none of
    // its data (a fault on them alone would touch nothing of it); the swap keeps the draws (one each
    // way), and so every other fault.
    if (s.servers == 0 || spec.kind == FaultKind::malicious || spec.kind == FaultKind::offline || peers) {
      spec.target = Target{Target::Kind::random_client, 0};
    }
    spec.shape = static_cast<PartitionShape>(rng.below(5));
    // A shape that would leave a side empty here cuts nothing: halves instead (the parser refuses
    // partitions in a one-node swarm). Drawn the same, so every other scenario's runs are unchanged.
    // Isolating the servers cuts nothing of a peer-to-peer model's either: halves too.
    const bool cuts_nothing = empty_side(spec.shape, spec.target, s.servers, s.clients) ||
                              (peers && spec.shape == PartitionShape::isolate_servers);
    if (spec.kind == FaultKind::partition && cuts_nothing) {
      spec.shape = PartitionShape::halves;
    }
    spec.amount = rng.duration_between(Duration::millis(10), Duration::seconds(2));
    spec.bytes = 1'000 + rng.below(100'000);
    spec.ppm = static_cast<Ppm>(rng.below(500'001));
    if (spec.kind == FaultKind::clock_jump && rng.chance_ppm(500'000)) spec.amount = Duration::zero() - spec.amount;
    const bool crash = spec.kind == FaultKind::crash || spec.kind == FaultKind::crash_after_flush;
    if (crash && spec.target.kind == Target::Kind::random_client && !scenario.persistence.client) {
      // A client crash without persistence loses unsent edits by design of the scenario, not of the
      // strategy; swarm mode aims its crashes at servers unless clients persist. A peer-to-peer
      // model's servers hold nothing of its: that crash is drawn and dropped.
      spec.target = s.servers > 0 ? Target{Target::Kind::random_server, 0} : spec.target;
      if (peers && s.servers > 0) {
        (void)concrete(spec, s, rng);
        continue;
      }
    }
    s.faults.push_back(concrete(spec, s, rng));
  }
}

/// Whether the scenario puts `kind` on its runs, listed or as a swarm candidate.
bool scenario_uses(const Scenario& scenario, FaultKind kind) {
  const auto listed = std::any_of(scenario.faults.begin(), scenario.faults.end(), [&](const FaultSpec& f) { return f.kind == kind; });
  const auto& kinds = scenario.swarm.kinds;
  return listed || (scenario.swarm.enabled && std::find(kinds.begin(), kinds.end(), kind) != kinds.end());
}

/// The priority strategy's bursts of correlated faults: a connection dies while a user's write (or
/// its acknowledgement) is on the wire, the moment where resends, duplicates and lost acknowledged
/// writes are born. Each burst picks a random operation and, within two 99th-percentile latencies
/// after it was issued, resets its client's connection or every connection of a server (a
/// correlated reset: all its clients reconnect at once), and, where the scenario crashes nodes,
/// sometimes crashes that server too, at once or (a crash point) right after its next flush to
/// durable storage within a second, the moment a write is stored but not yet applied, acknowledged
/// or announced. A scenario without faults promises a calm network, so it gets no bursts. At most
/// kBurstsMax per run, so the scenario's own faults stay what it is about. Peers carry their data
/// over datagram links, which have no connection to reset: for a peer-to-peer model (given the
/// topology) a burst instead isolates the operation's client for the same two latencies, so the
/// datagrams in flight to and from it are lost, and every draw stays where it was. A peer-to-peer
/// model's servers only introduce peers and hold none of their data, so its bursts crash the writer
/// instead, where the scenario's clients persist (swarm mode's rule for client crashes: without
/// persistence a crashed client loses unsent edits by the scenario's design, not the strategy's);
/// where they do not, the crash is drawn and dropped, so the draws after it stay where they were.
void draw_priority_bursts(const Scenario& scenario, Schedule& s, std::uint64_t seed, std::optional<Topology> topology) {
  constexpr std::uint64_t kBurstsMax = 3;
  const bool faulty = !scenario.faults.empty() || (scenario.swarm.enabled && !scenario.swarm.kinds.empty());
  if (!faulty || s.operations.empty()) return;
  Rng rng = Rng::derive(seed, "explore-bursts");
  const bool peers = topology == Topology::peer_to_peer;
  const bool crash_writer = peers && scenario.persistence.client;
  const bool crashes = (scenario_uses(scenario, FaultKind::crash) || scenario_uses(scenario, FaultKind::crash_after_flush)) &&
                       (s.servers > 0 || crash_writer);
  const std::uint64_t count = 1 + rng.below(kBurstsMax);
  const Duration in_flight = max((peers ? s.network.peer_latency : s.network.latency).p99 * 2, Duration::millis(1));
  for (std::uint64_t i = 0; i < count; ++i) {
    const Operation& op = s.operations[rng.below(s.operations.size())];
    ScheduledFault burst;
    burst.kind = FaultKind::reset;
    burst.start = op.issued_at + rng.duration_between(Duration::micros(1), in_flight);
    burst.duration = Duration::millis(1);
    const bool whole_server = s.servers > 0 && rng.chance_ppm(500'000);
    const NodeId server = s.servers > 0 ? s.server(static_cast<std::uint32_t>(rng.below(s.servers))) : NodeId{0};
    burst.side_a.push_back(whole_server ? server : op.client);
    if (peers) {
      burst.kind = FaultKind::partition;
      burst.duration = in_flight;
      burst.side_a = {op.client};
      burst.side_b = without(all_nodes(s), burst.side_a);
    }
    if (crashes && rng.chance_ppm(333'333)) {
      ScheduledFault crash;
      crash.kind = rng.chance_ppm(500'000) ? FaultKind::crash_after_flush : FaultKind::crash;
      crash.start = burst.start;
      crash.duration = rng.duration_between(Duration::zero(), Duration::seconds(2));
      // A crash point's window must be open a while for a flush to fall in it.
      if (crash.kind == FaultKind::crash_after_flush) crash.duration = max(crash.duration, Duration::seconds(1));
      crash.side_a.push_back(peers ? op.client : server);
      if (!peers || crash_writer) s.faults.push_back(std::move(crash));
    }
    s.faults.push_back(std::move(burst));
  }
}

/// The size of a counter increment, 1 to kCounterAmountDrawnMax, from the roll other data types pick
/// their kind with (a counter has one kind), so every type keeps the same draws. Sizes differ because
/// the counter check sees only a sum: with every increment +1, a lost increment and a doubled one
/// would sum to the truth and neither would show.
std::int64_t counter_magnitude(std::uint32_t roll) {
  static_assert(kPpmOne % limits::kCounterAmountDrawnMax == 0, "every size equally likely");
  return 1 + static_cast<std::int64_t>(roll) / (kPpmOne / limits::kCounterAmountDrawnMax);
}

OpKind draw_kind(DataType type, const WorkloadOptions& w, std::uint32_t roll) {
  switch (type) {
    case DataType::map: return OpKind::map_set;
    case DataType::list:
      if (roll < w.remove_share) return OpKind::list_remove;
      if (roll < w.remove_share + w.update_share) return OpKind::list_update;
      return OpKind::list_add;
    case DataType::counter: return OpKind::counter_add;
    case DataType::text: return roll < w.remove_share ? OpKind::text_delete : OpKind::text_insert;
  }
  return OpKind::map_set;
}

}  // namespace

Instant Schedule::last_heal() const {
  Instant heal = workload_end;
  for (const ScheduledFault& f : faults) heal = max(heal, f.end());
  return heal;
}

namespace {

Schedule draw_schedule(const Scenario& scenario, DataType type, std::optional<Topology> topology, std::uint64_t seed,
                       Exploration explore) {
  Schedule s;
  s.explore = explore;
  s.servers = scenario.servers;
  s.clients = std::max<std::uint32_t>(scenario.workload.clients, 1);
  s.network = scenario.network;
  s.workload_end = Instant::start() + scenario.workload.duration;
  s.settle = scenario.invariants.settle;

  for (std::uint32_t i = 0; i < s.node_count(); ++i) {
    Rng rng = Rng::derive(seed, "clock", i);
    const Duration skew = scenario.clocks.skew_max;
    s.clock_skew.push_back(rng.duration_between(Duration::zero() - skew, skew));
    const auto drift = static_cast<std::int64_t>(scenario.clocks.drift_ppm_max);
    s.clock_drift_ppm.push_back(static_cast<std::int32_t>(rng.between(-drift, drift)));
  }

  // Users. Every operation takes the same five draws whatever the data type, so strategies of
  // different types meet the same timings and keys (common random numbers).
  const WorkloadOptions& w = scenario.workload;
  for (std::uint32_t c = 0; c < s.clients; ++c) {
    Rng rng = Rng::derive(seed, "workload", c);
    Instant at = Instant::start() + rng.exponential(w.think_time_mean);
    while (at < s.workload_end) {
      Operation op;
      op.client = s.client(c);
      op.issued_at = at;
      const auto kind_roll = static_cast<std::uint32_t>(rng.below(kPpmOne));
      op.kind = draw_kind(type, w, kind_roll);
      const bool hot = w.distribution == KeyDistribution::hot && rng.chance_ppm(w.hot_share);
      const std::uint32_t keys = std::max<std::uint32_t>(hot ? std::min(w.hot_keys, w.keys) : w.keys, 1);
      op.key = KeyId{static_cast<std::uint32_t>(rng.below(keys))};
      const bool decrement = rng.chance_ppm(w.decrement_share);
      if (type == DataType::counter) op.amount = (decrement ? -1 : 1) * counter_magnitude(kind_roll);
      op.position_ppm = static_cast<std::uint32_t>(rng.below(kPpmOne + 1));
      s.operations.push_back(op);
      at += max(rng.exponential(w.think_time_mean), Duration::micros(1));
    }
    // Offline periods: the user keeps editing while the client has no network.
    Rng offline = Rng::derive(seed, "offline", c);
    if (offline.chance_ppm(w.offline_clients)) {
      ScheduledFault f;
      f.kind = FaultKind::offline;
      f.duration = offline.duration_between(w.offline_min, std::max(w.offline_min, w.offline_max));
      const std::int64_t latest = std::max<std::int64_t>(w.duration.us - f.duration.us, 0);
      f.start = Instant{offline.between(0, latest)};
      f.side_a.push_back(s.client(c));
      s.faults.push_back(f);
    }
  }

  Rng targets = Rng::derive(seed, "fault-targets");
  for (const FaultSpec& spec : scenario.faults) s.faults.push_back(concrete(spec, s, targets));
  draw_swarm(scenario, s, seed, topology);
  normalise(s);  // bursts pick operations by index: in time order, as every schedule has them
  if (explore == Exploration::priority) {
    draw_priority_bursts(scenario, s, seed, topology);
    normalise(s);
  }
  return s;
}

}  // namespace

Schedule make_schedule(const Scenario& scenario, const ModelInfo& model, std::uint64_t seed, Exploration explore) {
  return draw_schedule(scenario, model.data_type, model.topology, seed, explore);
}

Schedule make_schedule(const Scenario& scenario, DataType type, std::uint64_t seed, Exploration explore) {
  return draw_schedule(scenario, type, std::nullopt, seed, explore);
}

void normalise(Schedule& s) {
  std::stable_sort(s.operations.begin(), s.operations.end(), [](const Operation& a, const Operation& b) {
    return a.issued_at != b.issued_at ? a.issued_at < b.issued_at : a.client < b.client;
  });
  for (std::size_t i = 0; i < s.operations.size(); ++i) s.operations[i].id = OpId{i + 1};
  std::stable_sort(s.faults.begin(), s.faults.end(),
                   [](const ScheduledFault& a, const ScheduledFault& b) { return a.start < b.start; });
}

}  // namespace syncstorm
