#include "sim/scenario/scenario.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace syncstorm {

std::string_view to_string(FaultKind kind) { return name_of(kFaultKindNames, kind); }

std::optional<FaultKind> parse_fault_kind(std::string_view text) { return parse_enum(kFaultKindNames, text); }

std::string_view describe(FaultKind kind) {
  switch (kind) {
    case FaultKind::partition: return "nodes on different sides cannot reach each other (isolate, halves, isolate_servers, bridge, one_way)";
    case FaultKind::crash: return "a node crashes, losing volatile memory and unflushed writes (unless [persistence] lose_unflushed = false), and restarts after the duration";
    case FaultKind::reset: return "reset_peer: the target's connections to servers reset at once; in-flight stream messages are lost (a peer's datagrams in flight too)";
    case FaultKind::offline: return "a client loses the network for the duration while its user keeps editing";
    case FaultKind::latency: return "adds a fixed delay to every message to or from the target";
    case FaultKind::jitter: return "adds a uniform random delay to every message to or from the target";
    case FaultKind::bandwidth: return "caps the target's links at a number of bytes per second";
    case FaultKind::down: return "the target refuses connections and its live connections close";
    case FaultKind::timeout: return "data to or from the target stops; its connections close after the timeout";
    case FaultKind::slow_close: return "a connection reset reaches the peer only after a delay (half-open window)";
    case FaultKind::slicer: return "messages are cut into slices, each paying an extra delay";
    case FaultKind::limit_data: return "a connection closes once a number of bytes have crossed it since the fault began";
    case FaultKind::drop: return "datagram links lose an extra share of datagrams";
    case FaultKind::duplicate: return "datagram links deliver an extra share of datagrams twice";
    case FaultKind::reorder: return "datagram links hold back an extra share of datagrams";
    case FaultKind::clock_jump: return "the target's local clock jumps forward or back";
    case FaultKind::malicious:
      return "a client also sends garbage, truncated, replayed (another user's) and oversized messages to its server";
    case FaultKind::crash_after_flush:
      return "a node crashes right after its first flush to durable storage in the window, and restarts when the window ends";
  }
  return "?";
}

std::string_view to_string(PartitionShape shape) { return name_of(kPartitionShapeNames, shape); }

std::string to_string(const Target& target) {
  switch (target.kind) {
    case Target::Kind::client: return fmt::format("client:{}", target.index);
    case Target::Kind::server: return fmt::format("server:{}", target.index);
    default: return std::string(name_of(kWholeTargetNames, target.kind));
  }
}

std::optional<std::string> empty_side(PartitionShape shape, const Target& target, std::uint32_t servers,
                                      std::uint32_t clients) {
  const std::uint64_t nodes = std::uint64_t{servers} + clients;
  switch (shape) {
    case PartitionShape::isolate:
    case PartitionShape::one_way:
      if (nodes < 2) return "a partition needs two nodes, and this scenario has one";
      if (target.kind == Target::Kind::clients && servers == 0) {
        return "every node of this scenario is a client, so the other side would be empty: isolate client:N or "
               "random_client, or split it with shape = \"halves\"";
      }
      return std::nullopt;
    case PartitionShape::halves:
      if (nodes < 2) return "a partition needs two nodes, and this scenario has one";
      return std::nullopt;
    case PartitionShape::bridge:
      if (nodes < 3) {
        return fmt::format("a bridge needs a node on each side besides itself, three nodes, and this scenario has {}",
                           nodes);
      }
      return std::nullopt;
    case PartitionShape::isolate_servers:
      if (servers == 0) return "isolate_servers needs servers, and this scenario has none";
      return std::nullopt;
  }
  return std::nullopt;
}

bool fault_acts(FaultKind kind, std::uint32_t servers, LinkKind client_link, Topology topology) {
  // A peer-to-peer model's servers only introduce peers: its connections to them carry none of the
  // data, so what acts on those connections alone acts on nothing of the model's.
  const bool peers = topology == Topology::peer_to_peer;
  const bool to_servers = servers > 0 && !peers;  // every client connects to a server when there is one
  const bool streams = to_servers && client_link == LinkKind::stream;
  const bool datagrams = peers || (to_servers && client_link == LinkKind::datagram);
  switch (kind) {
    case FaultKind::drop:
    case FaultKind::duplicate:
    case FaultKind::reorder: return datagrams;
    case FaultKind::reset: return to_servers || peers;  // a peer's reset loses the datagrams in flight
    case FaultKind::malicious: return to_servers;  // a hostile client attacks its server
    case FaultKind::bandwidth:
    case FaultKind::down:
    case FaultKind::timeout:
    case FaultKind::slow_close:
    case FaultKind::limit_data: return streams;
    default: return true;
  }
}

bool targets_servers_only(const FaultSpec& spec) {
  if (spec.kind == FaultKind::partition) {
    if (spec.shape == PartitionShape::isolate_servers) return true;
    // Halves and bridges split every node at random, whatever the target names.
    if (spec.shape != PartitionShape::isolate && spec.shape != PartitionShape::one_way) return false;
  }
  switch (spec.target.kind) {
    case Target::Kind::servers:
    case Target::Kind::server:
    case Target::Kind::random_server: return true;
    default: return false;
  }
}

std::optional<std::size_t> inert_fault(const Scenario& scenario, const ModelInfo& model) {
  for (std::size_t i = 0; i < scenario.faults.size(); ++i) {
    const FaultSpec& f = scenario.faults[i];
    if (!fault_acts(f.kind, scenario.servers, scenario.network.client_link, model.topology)) return i;
    // A peer-to-peer model's servers hold none of its data: a fault on them alone touches nothing.
    if (model.topology == Topology::peer_to_peer && targets_servers_only(f)) return i;
  }
  return std::nullopt;
}

bool fits(const Scenario& scenario, const ModelInfo& model) {
  if (scenario.data_type && *scenario.data_type != model.data_type) return false;
  if (!scenario.models.empty() &&
      std::find(scenario.models.begin(), scenario.models.end(), model.name) == scenario.models.end()) {
    return false;
  }
  if (model.topology == Topology::client_server && scenario.servers == 0) return false;
  if (scenario.network.client_link == LinkKind::datagram && !model.datagram_links) return false;
  if (model.topology == Topology::client_server && scenario.servers > 1 && !model.multi_server) return false;
  return !inert_fault(scenario, model);
}

}  // namespace syncstorm
