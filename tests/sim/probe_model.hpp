// A probe strategy for engine tests: clients send numbered messages on a timer, everyone records
// what arrives; an echoing server sends each message back to its sender. It shares a Recorder with the test (an observer, not a channel between nodes).
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "models/model.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm::testing {

struct Receipt {
  NodeId from;
  NodeId to;
  std::uint64_t seq;
  Instant at;
};

struct Recorder {
  std::vector<Receipt> receipts;
  std::vector<std::pair<NodeId, Instant>> connects;     ///< client side
  std::vector<std::pair<NodeId, Instant>> disconnects;  ///< client side
  std::vector<std::pair<NodeId, Instant>> server_disconnects;  ///< server side: which client, when
  Instant now;  ///< the last local clock read (probe clocks are unskewed in these tests)
};

inline constexpr std::uint64_t kProbeTimer = 1;

class ProbeNode final : public Node {
 public:
  ProbeNode(std::shared_ptr<Recorder> rec, Duration every, bool peer, bool echo = false)
      : rec_(std::move(rec)), every_(every), peer_(peer), echo_(echo) {}
  void on_start(Context& ctx) override {
    if (every_ > Duration::zero()) ctx.set_timer(every_, kProbeTimer);
  }
  void on_user_operation(Context& ctx, const Operation& op) override { ctx.report(op.id, Lifecycle::applied); }
  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    rec_->receipts.push_back(Receipt{from, ctx.self(), r.u64(), ctx.local_clock()});
    if (echo_) ctx.send(from, payload);
  }
  void on_timer(Context& ctx, std::uint64_t) override {
    ctx.set_timer(every_, kProbeTimer);
    std::optional<NodeId> to;
    if (peer_) {
      auto clients = ctx.clients();
      NodeId pick = clients[ctx.rng().below(clients.size())];
      if (pick != ctx.self()) to = pick;
    } else {
      to = ctx.connected_server();
    }
    if (to && ctx.send(*to, Writer().u64(next_).take())) ++next_;
  }
  void on_connected(Context& ctx, NodeId) override { rec_->connects.emplace_back(ctx.self(), ctx.local_clock()); }
  void on_disconnected(Context& ctx, NodeId peer) override {
    if (!ctx.servers().empty() && ctx.self() == ctx.servers()[0]) {
      rec_->server_disconnects.emplace_back(peer, ctx.local_clock());
    } else {
      rec_->disconnects.emplace_back(ctx.self(), ctx.local_clock());
    }
  }
  std::optional<State> state() const override { return std::nullopt; }

 private:
  std::shared_ptr<Recorder> rec_;
  Duration every_;
  bool peer_;
  bool echo_;
  std::uint64_t next_ = 1;
};

/// `echo`: the server sends every message it receives back to its sender.
inline ModelInfo probe_model(std::shared_ptr<Recorder> rec, Duration every, bool peer = false, bool echo = false) {
  ModelInfo m;
  m.name = peer ? "probe-peer" : "probe";
  m.data_type = DataType::map;
  m.topology = peer ? Topology::peer_to_peer : Topology::client_server;
  m.make_client = [rec, every, peer](NodeId) { return std::make_unique<ProbeNode>(rec, every, peer); };
  m.make_server = [rec, echo](NodeId) { return std::make_unique<ProbeNode>(rec, Duration::zero(), false, echo); };
  return m;
}

/// A scenario built in code: quiet network, fixed latency, no checks that need real models.
inline Scenario quiet_scenario(std::uint32_t clients, Duration duration) {
  Scenario s;
  s.name = "test";
  s.workload.clients = clients;
  s.workload.duration = duration;
  s.network.latency = LatencyOptions{Duration::millis(10), Duration::millis(10), Duration::millis(10)};
  s.network.peer_latency = s.network.latency;
  s.invariants.enabled.clear();
  s.invariants.settle = Duration::seconds(5);
  return s;
}

}  // namespace syncstorm::testing
