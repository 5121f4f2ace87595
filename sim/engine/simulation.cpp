// The runtime: one event queue ordered by (time, sequence), nodes with their contexts, and the
// records the checkers read. The network is in network.cpp, the faults in faults.cpp; the state
// they share is in simulation_internal.hpp.
#include "sim/engine/simulation_internal.hpp"

#include <limits>

namespace syncstorm::engine_internal {

Instant NodeContext::local_clock() const { return sim_->local_clock(index_); }
std::span<const NodeId> NodeContext::servers() const { return sim_->server_ids(); }
std::span<const NodeId> NodeContext::clients() const { return sim_->client_ids(); }
bool NodeContext::send(NodeId to, std::string_view payload) { return sim_->send(NodeId{index_}, to, payload); }
bool NodeContext::send_control(NodeId to, std::string_view payload) {
  return sim_->send(NodeId{index_}, to, payload, false);
}
bool NodeContext::send_with_own_writes_through(NodeId to, std::string_view payload, OpId last) {
  return sim_->send(NodeId{index_}, to, payload, true, last);
}
bool NodeContext::send_without_own_writes(NodeId to, std::string_view payload, std::span<const OpId> missing) {
  return sim_->send(NodeId{index_}, to, payload, true, OpId{}, missing);
}
bool NodeContext::send_carrying_op(NodeId to, std::string_view payload, OpId op) {
  return sim_->send(NodeId{index_}, to, payload, true, OpId{}, {}, op);
}
void NodeContext::hold_message(std::uint64_t tag) { sim_->hold_message(NodeId{index_}, tag); }
void NodeContext::release_held(std::uint64_t tag) { sim_->release_held(NodeId{index_}, tag); }
bool NodeContext::connected(NodeId to) const { return sim_->connected(NodeId{index_}, to); }
std::optional<NodeId> NodeContext::connected_server() const { return sim_->connected_server(NodeId{index_}); }
void NodeContext::set_timer(Duration delay, std::uint64_t tag) { sim_->set_timer(NodeId{index_}, delay, tag); }
Rng& NodeContext::rng() { return sim_->rng(NodeId{index_}); }
Store& NodeContext::store() { return sim_->store(NodeId{index_}); }
void NodeContext::report(OpId op, Lifecycle lifecycle, OpId target) { sim_->report(NodeId{index_}, op, lifecycle, target); }
void NodeContext::abort(std::string reason) { sim_->abort(std::move(reason)); }
std::shared_ptr<void> NodeContext::run_session() const { return sim_->run_session(); }

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
  if (model_.topology == Topology::peer_to_peer) peer_reset_through_.assign(nodes_.size(), 0);
  History& h = result_.history;
  h.type = model_.data_type;
  h.rule = model_.rule;
  // Seen writes matter to the checkers wherever a field or item has writes to rank.
  if (h.type == DataType::map || h.type == DataType::list) seen_writes_.resize(count);
  if (h.type != DataType::counter) views_.resize(count);  // a counter has no per-write view
  const auto holds = [&](OrderPromise promise) {
    const bool here = promise == OrderPromise::promised ||
                      (promise == OrderPromise::over_streams && schedule_.network.client_link == LinkKind::stream);
    return here && (h.type == DataType::map || h.type == DataType::list);
  };
  h.writes_follow_reads = holds(model_.writes_follow_reads);
  h.writes_in_order = holds(model_.writes_in_order);
  if (h.writes_follow_reads || h.writes_in_order) reads_.resize(count);
  h.metadata_bound_applies = model_.metadata_growth != MetadataGrowth::keeps_every_change;
  h.growth_judges_clients = model_.metadata_growth != MetadataGrowth::keeps_history &&
                            model_.metadata_growth != MetadataGrowth::keeps_every_change;
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
    const auto seen = seen_writes_[client].find(r.op.key);
    if (seen != seen_writes_[client].end()) r.seen_before.insert(r.seen_before.end(), seen->second.begin(), seen->second.end());
  }
  if (!reads_.empty()) {
    for (auto it = reads_[client].rbegin(); it != reads_[client].rend(); ++it) {
      if (result_.history.record(*it).op.key != r.op.key) r.read_before.push_back(*it);
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
      // Its user now sees the write: one it has read (read-your-writes), for its next writes.
      if (h.writes_in_order) note_read(node, r.op);
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
  if (op.kind == OpKind::list_remove) {
    // Another user's remove its user saw take the item away: read, though no write of the item.
    if (result_.history.writes_follow_reads) note_read(node, op);
    return;
  }
  if (op.kind != OpKind::map_set && op.kind != OpKind::list_add && op.kind != OpKind::list_update) return;
  SeenWrites& seen = seen_writes_[node.value][op.key];
  if (std::find(seen.begin(), seen.end(), op.id) != seen.end()) return;
  if (seen.size() == kSeenBeforeMax) seen.erase(seen.begin());
  seen.push_back(op.id);
  if (result_.history.writes_follow_reads) note_read(node, op);
}

void Simulation::note_read(NodeId node, const Operation& op) {
  const History& h = result_.history;
  // A remove is read as what it took away: only one its replica reported a target for (a remove of
  // an item the replica did not show took nothing, and promises nothing about it).
  const bool remove = op.kind == OpKind::list_remove && h.record(op.id).target.valid();
  if (op.kind != OpKind::map_set && op.kind != OpKind::list_add && op.kind != OpKind::list_update && !remove) return;
  ReadWrites& reads = reads_[node.value];
  // One per key: a newer read of a key stands for the older one (a view that shows the newer write
  // shows something that may supersede the older).
  auto same_key = std::find_if(reads.begin(), reads.end(), [&](OpId id) { return h.record(id).op.key == op.key; });
  if (same_key != reads.end()) reads.erase(same_key);
  else if (reads.size() == kReadBeforeMax) reads.erase(reads.begin());
  reads.push_back(op.id);
}

void Simulation::sample_convergence(bool before_heal) {
  History& h = result_.history;
  for (std::uint32_t i : dirty_nodes_) {
    NodeRuntime& n = nodes_[i];
    n.dirty = false;
    // The digest the node's view (views_) was taken from, if it was sampled since it last came up.
    std::optional<std::uint64_t> viewed;
    if (n.digest) {
      auto counted = digest_counts_.find(*n.digest);
      assert(counted != digest_counts_.end() && counted->second > 0);
      if (--counted->second == 0) digest_counts_.erase(counted);
      viewed = n.digest;
      n.digest.reset();
    }
    // A hostile client's replica is not judged (see History::untrusted).
    if (!n.up || h.is_untrusted(NodeId{i})) continue;
    if (auto state = n.node->state()) {
      n.digest = state->fingerprint();  // only compared within this run
      ++digest_counts_[*n.digest];
      // Many samples find a touched node showing what it showed before (an acknowledgement, a
      // heartbeat): the same digest is the same state (convergence already rests on that), so the
      // same view, in which note_view would find nothing new.
      if (!views_.empty() && !n.server && n.digest != viewed) note_view(i, *state);
    }
  }
  dirty_nodes_.clear();
  if (before_heal) {
    if (now_ + kSampleEvery < h.last_heal) push(now_ + kSampleEvery, EvKind::sample, 0, 1);
    return;
  }
  if (now_ == h.last_heal && cut_at_heal_.empty() && schedule_.network.client_link == LinkKind::stream) {
    cut_at_heal_.assign(nodes_.size(), 0);
    for (NodeId c : client_ids_) {
      const NodeRuntime& n = nodes_[c.value];
      if (!(n.up && n.conn_up) && !h.is_untrusted(c)) cut_at_heal_[c.value] = 1;
    }
  }
  const bool agree = digest_counts_.size() <= 1;
  if (!agree) h.converged_at.reset();
  else if (!h.converged_at) h.converged_at = now_;
  if (now_ + kSampleEvery <= h.end) push(now_ + kSampleEvery, EvKind::sample, 0);
}

void Simulation::note_view(std::uint32_t i, const State& state) {
  std::vector<std::pair<std::uint32_t, std::uint64_t>>& view = view_scratch_;
  view.clear();
  if (state.type == DataType::map) {
    for (const auto& [key, value] : state.fields) view.emplace_back(key.value, value.value);
  } else if (state.type == DataType::list) {
    for (const Item& item : state.items) view.emplace_back(item.id.value, item.value.value);
  } else if (state.type == DataType::text) {
    // An element is its own key: the view can only lose it (the checkers ask whether a delete
    // explains that). Ids past the key range are not followed: a finding missed, never a false one.
    for (OpId element : state.text) {
      if (element.value <= std::numeric_limits<std::uint32_t>::max()) view.emplace_back(static_cast<std::uint32_t>(element.value), element.value);
    }
  }
  // A map's fields come sorted by key (State's canonical form): checking is a pass, sorting several.
  if (!std::is_sorted(view.begin(), view.end())) std::sort(view.begin(), view.end());
  History& h = result_.history;
  const auto recorded = [&h](std::uint64_t id) { return id >= 1 && id <= h.ops.size(); };
  // A later-issued write can never be what an earlier one legitimately gives way to, so only a
  // change to an earlier-issued value, or to nothing, is worth a record.
  const auto earlier = [&h](std::uint64_t a, std::uint64_t b) {
    return std::pair{h.ops[a - 1].op.issued_at, a} < std::pair{h.ops[b - 1].op.issued_at, b};
  };
  std::vector<std::pair<std::uint32_t, std::uint64_t>>& previous = views_[i];
  if (!reads_.empty()) note_read_gaps(i, view, previous);
  auto now_it = view.begin();
  for (const auto& [key, from] : previous) {
    while (now_it != view.end() && now_it->first < key) ++now_it;
    const bool present = now_it != view.end() && now_it->first == key;
    const std::uint64_t to = present ? now_it->second : 0;
    if (to == from || !recorded(from) || (present && (!recorded(to) || !earlier(to, from)))) continue;
    if (h.view_regressions.size() >= kViewRegressionsMax) break;
    h.view_regressions.push_back({NodeId{i}, now_, KeyId{key}, OpId{from}, OpId{to}, delivered_past(i)});
  }
  previous.swap(view);
}

void Simulation::note_read_gaps(std::uint32_t i, const View& view, const View& previous) {
  History& h = result_.history;
  const auto recorded = [&h](std::uint64_t id) { return id >= 1 && id <= h.ops.size(); };
  for (const auto& entry : view) {
    // Only a write the view did not show at the last sample: one shown then was judged then, and
    // a read's key going back since is the monotonic-reads check's.
    if (std::binary_search(previous.begin(), previous.end(), entry)) continue;
    if (!recorded(entry.second)) continue;
    const OpRecord& shown = h.ops[entry.second - 1];
    if (shown.op.client.value == i) continue;  // its own write: read-your-writes and monotonic reads
    for (OpId read : shown.read_before) {
      const OpRecord& r = h.ops[read.value - 1];
      auto at = std::lower_bound(view.begin(), view.end(), std::pair{r.op.key.value, std::uint64_t{0}});
      const std::uint64_t instead = at != view.end() && at->first == r.op.key.value ? at->second : 0;
      if (instead == read.value) continue;
      // A remove read: the item gone is what it promised; only a value still shown is worth a record.
      if (r.op.kind == OpKind::list_remove && instead == 0) continue;
      // A later-issued value can never be one users saw ordered before the read.
      if (instead != 0 && (!recorded(instead) || std::pair{h.ops[instead - 1].op.issued_at, instead} >
                                                     std::pair{r.op.issued_at, read.value})) {
        continue;
      }
      if (h.read_gaps.size() >= kReadGapsMax) return;
      h.read_gaps.push_back({NodeId{i}, now_, shown.op.id, read, OpId{instead}, delivered_past(i)});
    }
  }
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
    case EvKind::crash_point: {
      const std::pair<std::uint32_t, std::size_t> point{node, static_cast<std::size_t>(e.a)};
      // Disarmed meanwhile (its window closed in the same instant): nothing to do.
      if (std::erase(crash_points_, point) == 0 || !nodes_[node].up) break;
      crash_node(node);
      crash_points_fired_.push_back(point);
      last_disruption_ = now_;
      break;
    }
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
      result_.aborted = fmt::format(
          "the run reached the engine's event limit, {} events, at {:.3f} s of simulated time: a model that never goes "
          "quiet? The limit is limits::kEventsMax (or limits::kEventsPerNodeMax per node when more) in "
          "sim/scenario/limits.hpp; a run this large needs it raised there and a rebuild, or a smaller scenario",
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
    f.past = delivered_past(i);
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

}  // namespace syncstorm::engine_internal

namespace syncstorm {

using engine_internal::Simulation;

RunResult run_simulation(const Scenario& scenario, const ModelInfo& model, const Schedule& schedule, std::uint64_t seed,
                         const RunOptions& options) {
  Simulation sim(scenario, model, schedule, seed, options);
  return sim.run();
}

}  // namespace syncstorm
