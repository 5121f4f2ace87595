// The network: stream links (WebSocket over TCP: FIFO per connection, stalled by a partition, reset
// when dead) and datagram links (WebRTC data channels: lossy, reordered, duplicated), connections
// with their handshakes, and the clients' reconnect backoff.
#include "sim/engine/simulation_internal.hpp"

namespace syncstorm::engine_internal {

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

std::shared_ptr<const PastSnapshot> Simulation::past_through(std::uint32_t from, OpId last) {
  const std::vector<OpRecord>& ops = result_.history.ops;
  const OpRecord* record = last.value <= ops.size() ? &ops[last.value - 1] : nullptr;
  if (record == nullptr || !record->issued || record->op.client.value != from) {
    if (result_.aborted.empty()) {
      result_.aborted = fmt::format("node {} sent a message declared to carry its own writes through op{}, which it "
                                    "did not issue", from, last.value);
    }
    return nullptr;
  }
  auto capped = std::make_shared<PastSnapshot>();
  capped->past = past_of(from)->past;
  capped->past.lower(NodeId{from}, record->sequence);
  capped->id = ++last_snapshot_id_;
  return capped;
}

std::shared_ptr<const PastSnapshot> Simulation::past_without(std::uint32_t from, std::span<const OpId> missing) {
  const std::vector<OpRecord>& ops = result_.history.ops;
  std::vector<std::uint32_t> sequences;
  sequences.reserve(missing.size());
  for (OpId op : missing) {
    const OpRecord* record = op.valid() && op.value <= ops.size() ? &ops[op.value - 1] : nullptr;
    if (record == nullptr || !record->issued || record->op.client.value != from) {
      if (result_.aborted.empty()) {
        result_.aborted = fmt::format("node {} sent a message declared to lack its own write op{}, which it did not "
                                      "issue", from, op.value);
      }
      return nullptr;
    }
    sequences.push_back(record->sequence);
  }
  auto gapped = std::make_shared<PastSnapshot>();
  gapped->past = past_of(from)->past;
  gapped->past.exclude(NodeId{from}, std::move(sequences));
  gapped->id = ++last_snapshot_id_;
  return gapped;
}

std::shared_ptr<const PastSnapshot> Simulation::past_of_op(std::uint32_t from, OpId op) {
  const std::vector<OpRecord>& ops = result_.history.ops;
  const OpRecord* record = op.valid() && op.value <= ops.size() ? &ops[op.value - 1] : nullptr;
  if (record == nullptr || !record->issued || !record->past ||
      !past_now(nodes_[from]).sees(record->op.client, record->sequence)) {
    if (result_.aborted.empty()) {
      result_.aborted = fmt::format("node {} sent a message declared to carry op{}, which it could not have seen",
                                    from, op.value);
    }
    return nullptr;
  }
  auto carried = std::make_shared<PastSnapshot>();
  carried->past = *record->past;
  // As far as the sender holds it: over datagrams an op can arrive while an older one of its
  // writer, in its past, is lost on the way (its message said so), and the forward cannot carry it.
  carried->past.intersect_with(past_now(nodes_[from]));
  carried->id = ++last_snapshot_id_;
  return carried;
}

bool Simulation::send(NodeId from, NodeId to, std::string_view payload, bool carries_writes, OpId own_through,
                      std::span<const OpId> own_missing, OpId carried_op) {
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
  // A control message carries no write, so no causal past: happens-before flows only along data.
  std::shared_ptr<const PastSnapshot> past;
  if (carries_writes) {
    past = own_through.valid()      ? past_through(from.value, own_through)
           : !own_missing.empty()   ? past_without(from.value, own_missing)
           : carried_op.valid()     ? past_of_op(from.value, carried_op)
                                    : past_of(from.value);
  }
  if (carries_writes && !past) return false;  // the declaration was false: the run is aborted
  // A datagram between peers carries its id as its epoch: a reset of either end loses it in flight.
  Packet p{from, to, id, peer_link ? id : 0, link, last_payload_, std::move(past)};
  // A client's stream connection has the client's priority; any other link the sender's.
  const std::uint32_t owner = link == LinkKind::stream && !server_link && is_server(from) ? to.value : from.value;
  // Both draw from `rng`, so they are two statements: the operands of `+` are unsequenced, and GCC
  // and Clang evaluate them in opposite orders (a jitter fault then moved deliveries between builds).
  // The fault's draw comes first, the order GCC gave every pinned trace hash.
  const Duration fault_extra = fault_delay(from, to, bytes, rng);
  Duration delay = message_latency(server_link ? schedule_.network.server_latency
                                               : peer_link ? schedule_.network.peer_latency : schedule_.network.latency,
                                   owner, rng) +
                   fault_extra;
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
    if (on_send_) on_send_(id, payload);
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
    for (std::size_t fi : active_faults_) {
      const ScheduledFault& f = schedule_.faults[fi];
      if (f.kind != FaultKind::limit_data ||
          !(std::binary_search(f.side_a.begin(), f.side_a.end(), from) || std::binary_search(f.side_a.begin(), f.side_a.end(), to))) {
        continue;
      }
      // The budget counts what crosses this connection from the fault's start (or the connection's,
      // if later), both ways, as a Toxiproxy toxic counts from when it is added.
      auto& [epoch, carried] = limit_data_bytes_[{fi, client}];
      if (epoch != c.epoch) {
        epoch = c.epoch;
        carried = 0;
      }
      carried += bytes;
      if (carried > f.bytes) {
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
    if (on_send_) on_send_(id, payload);
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
        // The copy takes its own path through the network but crosses the same faulty link: the
        // latency, jitter or slicer faults on it delay the copy as they delayed the original.
        const Instant copy_at = now_ + latency(peer_link ? net.peer_latency : net.latency, rng) + fault_extra;
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
  } else if (!lost && p.epoch != 0 && p.link == LinkKind::datagram &&
             (p.epoch <= peer_reset_through_[p.from.value] || p.epoch <= peer_reset_through_[p.to.value])) {
    lost = true;  // sent between peers before a reset of either end
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
  // A model that may hold the message (Context::hold_message) gets its past back as it was: kept
  // here, a shared snapshot (copied only when the past grew since the last one).
  std::shared_ptr<const PastSnapshot> before;
  if (p.past && model_.holds_messages) before = past_of(p.to.value);
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
  if (!model_.holds_messages) {
    invoke(dst, [&](Node& model, Context& ctx) { model.on_message(ctx, p.from, p.payload.view()); });
    return;
  }
  delivering_ = p.to.value;
  hold_tag_.reset();
  invoke(dst, [&](Node& model, Context& ctx) { model.on_message(ctx, p.from, p.payload.view()); });
  delivering_.reset();
  if (hold_tag_ && before && dst.up) {
    // Back to the past from before the message, plus what the callback released; the message's
    // past waits with the node's other held ones.
    share_past(dst, before, false);
    for (const auto& released : released_now_) merge_past(dst, *released);
    held_[p.to.value].emplace_back(*hold_tag_, p.past);
  }
  hold_tag_.reset();
  released_now_.clear();
}

void Simulation::hold_message(NodeId node, std::uint64_t tag) {
  if (!model_.holds_messages) {
    abort(fmt::format("node {} held a message, but model {} does not declare that its nodes hold messages",
                      node.value, model_.name));
    return;
  }
  if (delivering_ != node.value) {
    abort(fmt::format("node {} held a message outside the delivery of one", node.value));
    return;
  }
  hold_tag_ = tag;
}

void Simulation::release_held(NodeId node, std::optional<std::uint64_t> tag) {
  auto held = held_.find(node.value);
  if (held == held_.end()) return;
  NodeRuntime& n = nodes_[node.value];
  std::vector<HeldPast>& pasts = held->second;
  // Kept in the order they were held; the released ones leave, in that order.
  auto kept = std::stable_partition(pasts.begin(), pasts.end(),
                                    [&](const HeldPast& h) { return tag && h.first != *tag; });
  for (auto it = kept; it != pasts.end(); ++it) {
    merge_past(n, *it->second);
    if (delivering_ == node.value) released_now_.push_back(it->second);
  }
  pasts.erase(kept, pasts.end());
  if (pasts.empty()) held_.erase(held);
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
    const NodeId server = n.conn_server;
    invoke(n, [&](Node& model, Context& ctx) { model.on_datagram_link_up(ctx, server); });
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
  if (!cut_at_heal_.empty() && cut_at_heal_[client] != 0) {
    cut_at_heal_[client] = 0;
    result_.history.clients_back = now_;  // connections come up in time order: the latest so far
  }
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
      if (f.kind == FaultKind::slow_close && (std::binary_search(f.side_a.begin(), f.side_a.end(), NodeId{client}) ||
                                              std::binary_search(f.side_a.begin(), f.side_a.end(), server))) {
        delay = max(delay, f.amount);
      }
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

}  // namespace syncstorm::engine_internal
