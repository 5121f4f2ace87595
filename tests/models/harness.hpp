// A tiny in-memory cluster for unit-testing models without the engine: every node is connected,
// messages wait in one queue, and the test decides when and in which order they are delivered.
// The engine's own tests cover the network; this only exercises a strategy's logic.
#pragma once

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "models/model.hpp"

namespace syncstorm::testing {

class Cluster;

class HarnessContext final : public Context {
 public:
  HarnessContext(Cluster& cluster, NodeId self) : cluster_(cluster), self_(self), rng_(self.value + 1) {}
  NodeId self() const override { return self_; }
  Instant local_clock() const override;
  std::span<const NodeId> servers() const override;
  std::span<const NodeId> clients() const override;
  bool send(NodeId to, std::string_view payload) override;
  bool connected(NodeId to) const override;
  std::optional<NodeId> connected_server() const override;
  void set_timer(Duration delay, std::uint64_t tag) override;
  Rng& rng() override { return rng_; }
  Store& store() override { return store_; }
  void report(OpId op, Lifecycle lifecycle, OpId target) override;

  Duration clock_offset;  ///< added to the cluster's time in local_clock()

 private:
  friend class Cluster;
  Cluster& cluster_;
  NodeId self_;
  Rng rng_;
  Store store_;
};

struct Envelope {
  NodeId from;
  NodeId to;
  std::string payload;
};

struct Report {
  NodeId node;
  OpId op;
  Lifecycle lifecycle;
  OpId target;
};

/// Servers are nodes 0..servers-1, clients follow, as in the engine.
class Cluster {
 public:
  Cluster(const ModelInfo& model, std::uint32_t servers, std::uint32_t clients) : model_(model) {
    for (std::uint32_t i = 0; i < servers + clients; ++i) {
      const NodeId id{i};
      (i < servers ? servers_ : clients_).push_back(id);
      contexts_.push_back(std::make_unique<HarnessContext>(*this, id));
      up_.push_back(true);
      nodes_.push_back(nullptr);
      start(id);
    }
  }

  Node& node(NodeId id) { return *nodes_.at(id.value); }
  HarnessContext& context(NodeId id) { return *contexts_.at(id.value); }
  NodeId server(std::uint32_t i = 0) const { return servers_.at(i); }
  NodeId client(std::uint32_t i) const { return clients_.at(i); }

  /// The user of client `i` performs an operation; returns it (ids are 1, 2, 3, ...).
  Operation user(std::uint32_t i, OpKind kind, std::uint32_t key = 0, std::int64_t amount = 0,
                 std::uint32_t position_ppm = 0) {
    Operation op;
    op.id = OpId{++last_op_};
    op.client = client(i);
    op.issued_at = now;
    op.kind = kind;
    op.key = KeyId{key};
    op.amount = amount;
    op.position_ppm = position_ppm;
    node(op.client).on_user_operation(context(op.client), op);
    return op;
  }

  /// Delivers queued messages in FIFO order until none are left (or `limit` deliveries).
  std::size_t deliver_all(std::size_t limit = 100'000) {
    std::size_t delivered = 0;
    while (!queue.empty() && delivered < limit) {
      Envelope e = std::move(queue.front());
      queue.pop_front();
      if (!up_[e.to.value] || !link_up(e.from, e.to)) continue;
      node(e.to).on_message(context(e.to), e.from, e.payload);
      ++delivered;
    }
    return delivered;
  }

  /// Delivers queued messages in an order drawn from `rng` (each step picks a random message).
  std::size_t deliver_shuffled(Rng& rng, std::size_t limit = 100'000) {
    std::size_t delivered = 0;
    while (!queue.empty() && delivered < limit) {
      const auto i = static_cast<std::size_t>(rng.below(queue.size()));
      Envelope e = std::move(queue[i]);
      queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(i));
      if (!up_[e.to.value] || !link_up(e.from, e.to)) continue;
      node(e.to).on_message(context(e.to), e.from, e.payload);
      ++delivered;
    }
    return delivered;
  }

  /// Cuts the link between a client and everyone; in-flight messages to or from it are lost and
  /// both ends hear on_disconnected.
  void disconnect(NodeId client_id) {
    cut_.push_back(client_id);
    std::erase_if(queue, [&](const Envelope& e) { return e.from == client_id || e.to == client_id; });
    for (NodeId s : servers_) {
      node(client_id).on_disconnected(context(client_id), s);
      node(s).on_disconnected(context(s), client_id);
    }
  }
  void reconnect(NodeId client_id) {
    std::erase(cut_, client_id);
    for (NodeId s : servers_) {
      node(client_id).on_connected(context(client_id), s);
      node(s).on_connected(context(s), client_id);
    }
  }

  /// Crashes and restarts a node at once; its Store survives when `persistent`.
  void crash_restart(NodeId id, bool persistent) {
    replace_node(id, persistent);
    for (NodeId s : servers_) {
      if (s != id) {
        node(id).on_connected(context(id), s);
        node(s).on_connected(context(s), id);
      }
    }
  }

  /// Crashes and restarts a node at once as the engine does: its pending timers die with it and it
  /// hears of no connection; the caller disconnects its links first and reconnects them after.
  void restart(NodeId id, bool persistent) {
    std::erase_if(timers, [&](const auto& timer) { return timer.first == id; });
    replace_node(id, persistent);
  }

  /// Fires every pending timer once (in the order they were set).
  void fire_timers() {
    auto due = std::move(timers);
    timers.clear();
    for (auto& [id, tag] : due) {
      if (up_[id.value]) node(id).on_timer(context(id), tag);
    }
  }

  bool link_up(NodeId a, NodeId b) const {
    return std::find(cut_.begin(), cut_.end(), a) == cut_.end() && std::find(cut_.begin(), cut_.end(), b) == cut_.end();
  }

  std::optional<State> state(NodeId id) const { return nodes_.at(id.value)->state(); }

  ModelInfo model_;  ///< a copy: tests may pass a temporary ModelInfo
  std::vector<NodeId> servers_;
  std::vector<NodeId> clients_;
  std::deque<Envelope> queue;
  std::vector<std::pair<NodeId, std::uint64_t>> timers;
  std::vector<Report> reports;
  Instant now;

 private:
  /// A new incarnation of node `id` over what its Store kept (all of it when `persistent`).
  void replace_node(NodeId id, bool persistent) {
    context(id).store_.crash(persistent, false);
    nodes_[id.value].reset();
    start(id);
  }
  void start(NodeId id) {
    const bool is_server = id.value < servers_.size();
    nodes_[id.value] = is_server ? model_.make_server(id) : model_.make_client(id);
    nodes_[id.value]->on_start(context(id));
  }

  std::vector<std::unique_ptr<HarnessContext>> contexts_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<bool> up_;
  std::vector<NodeId> cut_;
  std::uint64_t last_op_ = 0;
};

inline Instant HarnessContext::local_clock() const { return cluster_.now + clock_offset; }
inline std::span<const NodeId> HarnessContext::servers() const { return cluster_.servers_; }
inline std::span<const NodeId> HarnessContext::clients() const { return cluster_.clients_; }
inline bool HarnessContext::send(NodeId to, std::string_view payload) {
  if (!cluster_.link_up(self_, to)) return false;
  cluster_.queue.push_back(Envelope{self_, to, std::string(payload)});
  return true;
}
inline bool HarnessContext::connected(NodeId to) const { return cluster_.link_up(self_, to); }
inline std::optional<NodeId> HarnessContext::connected_server() const {
  if (cluster_.servers_.empty() || !cluster_.link_up(self_, cluster_.servers_[0])) return std::nullopt;
  return cluster_.servers_[0];
}
inline void HarnessContext::set_timer(Duration, std::uint64_t tag) { cluster_.timers.emplace_back(self_, tag); }
inline void HarnessContext::report(OpId op, Lifecycle lifecycle, OpId target) {
  cluster_.reports.push_back(Report{self_, op, lifecycle, target});
}

/// The shipped model named `name`. The registry is built once per test binary and only read.
inline const ModelInfo& shipped_model(std::string_view name) {
  static const ModelRegistry registry = shipped_models();  // test-only cache; holds no run state
  const ModelInfo* info = registry.find(name);
  if (info == nullptr) throw std::logic_error("no shipped model is named " + std::string(name));
  return *info;
}

/// How many times `node` reported `op` at `lifecycle`.
inline std::size_t count(const Cluster& cluster, NodeId node, OpId op, Lifecycle lifecycle) {
  return static_cast<std::size_t>(std::count_if(cluster.reports.begin(), cluster.reports.end(), [&](const Report& r) {
    return r.node == node && r.op == op && r.lifecycle == lifecycle;
  }));
}

/// Lets messages and timers run for `rounds` rounds, then delivers what is left.
inline void settle(Cluster& cluster, int rounds = 4) {
  for (int round = 0; round < rounds; ++round) {
    cluster.deliver_all();
    cluster.fire_timers();
  }
  cluster.deliver_all();
}

/// The value map field `key` shows in `state`, if it has one.
inline std::optional<OpId> field(const std::optional<State>& state, std::uint32_t key) {
  for (const auto& [k, v] : state->fields) {
    if (k.value == key) return v;
  }
  return std::nullopt;
}

/// Whether each of the first `clients` clients shows the server's state.
inline bool all_agree(Cluster& cluster, std::uint32_t clients) {
  for (std::uint32_t i = 0; i < clients; ++i) {
    if (cluster.state(cluster.client(i)) != cluster.state(cluster.server())) return false;
  }
  return true;
}

}  // namespace syncstorm::testing
