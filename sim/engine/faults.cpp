// The faults: what each kind of the schedule does while it is active (partitions and offline nodes
// cut paths, delays, loss, duplication and reordering act on each message, crashes restart nodes,
// a malicious client sends hostile traffic). The network asks these functions about every message.
#include "sim/engine/simulation_internal.hpp"

namespace syncstorm::engine_internal {

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
  release_held(NodeId{i}, std::nullopt);  // what it held is gone with it, but it could have seen it
  // A crash ends a client's session: its next incarnation's view starts afresh, even when it is
  // back before the next sample (a reload between two samples was judged against the old view).
  if (!views_.empty()) views_[i].clear();
  if (!reads_.empty()) reads_[i].clear();  // what its user had read went with the session
}

void Simulation::crash_point_flushed(std::uint32_t i) {
  for (const auto& [node, fault] : crash_points_) {
    if (node == i) push(now_, EvKind::crash_point, i, fault);
  }
}

bool Simulation::held_down(NodeId i) const {
  if (fault_active_on(i, FaultKind::crash)) return true;
  return std::any_of(crash_points_fired_.begin(), crash_points_fired_.end(), [&](const auto& p) { return p.first == i.value; });
}

void Simulation::restart_crashed(NodeId i) {
  NodeRuntime& node = nodes_[i.value];
  // A node another crash still holds down stays down: that one's end restarts it.
  if (node.up || held_down(i)) return;
  const bool persistent = node.server ? scenario_.persistence.server : scenario_.persistence.client;
  record(TraceKind::restart, i.value, 0, node.incarnation, persistent ? 1 : 0);
  start_node(i.value);
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
    case FaultKind::crash_after_flush:
      // Armed: the node crashes after its first callback in the window that flushes its store (a
      // node down when it opens runs none until it restarts).
      for (NodeId n : f.side_a) crash_points_.emplace_back(n.value, index);
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
          // A peer's reset is its network changing under it (a phone's handover): the datagrams in
          // flight to and from it are lost.
          if (f.kind == FaultKind::reset && !peer_reset_through_.empty()) peer_reset_through_[n.value] = next_message_id_;
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
  std::erase_if(limit_data_bytes_, [&](const auto& entry) { return entry.first.first == index; });
  switch (f.kind) {
    case FaultKind::crash_after_flush:
      // The window closes: an armed point is disarmed; one that fired ends its crash here.
      std::erase_if(crash_points_, [&](const auto& p) { return p.second == index; });
      for (NodeId n : f.side_a) {
        if (std::erase(crash_points_fired_, std::pair<std::uint32_t, std::size_t>{n.value, index}) == 0) continue;
        restart_crashed(n);
      }
      break;
    case FaultKind::crash:
      for (NodeId n : f.side_a) restart_crashed(n);
      break;
    case FaultKind::offline:
      for (NodeId n : f.side_a) {
        NodeRuntime& node = nodes_[n.value];
        // A client another offline period still covers (a listed fault over a workload period,
        // or two faults) stays offline: that period's end brings it back.
        if (is_server(n) || !node.offline || fault_active_on(n, FaultKind::offline)) continue;
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

}  // namespace syncstorm::engine_internal
