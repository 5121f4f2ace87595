// The peers pattern, as SimGrid and ns-3 run it in tests/bench/peers/: N nodes each send M small
// messages, one per millisecond, to random peers over fixed-latency (10 ms) datagram links with no
// loss. The figure is delivered messages per wall second; run_all.sh puts it beside the peers'.
#include <benchmark/benchmark.h>

#include "models/model.hpp"
#include "sim/base/codec.hpp"
#include "sim/engine/simulation.hpp"

using namespace syncstorm;

namespace {

class PeerSender final : public Node {
 public:
  explicit PeerSender(std::uint32_t messages) : left_(messages) {}
  void on_start(Context& ctx) override { ctx.set_timer(Duration::millis(1), 0); }
  void on_user_operation(Context&, const Operation&) override {}
  void on_message(Context&, NodeId, std::string_view) override {}
  void on_timer(Context& ctx, std::uint64_t) override {
    auto clients = ctx.clients();
    const NodeId to = clients[ctx.rng().below(clients.size())];
    if (to != ctx.self()) ctx.send(to, Writer().u64(left_).take());
    if (--left_ > 0) ctx.set_timer(Duration::millis(1), 0);
  }
  std::optional<State> state() const override { return std::nullopt; }

 private:
  std::uint32_t left_;
};

void peers(benchmark::State& state) {
  const auto nodes = static_cast<std::uint32_t>(state.range(0));
  const auto messages = static_cast<std::uint32_t>(state.range(1));
  Scenario scenario;
  scenario.servers = 0;
  scenario.workload.clients = nodes;
  scenario.workload.duration = Duration::millis(messages + 20);
  scenario.workload.think_time_mean = Duration::seconds(1'000'000);  // no user operations
  scenario.network.peer_latency = LatencyOptions{Duration::millis(10), Duration::millis(10), Duration::millis(10)};
  scenario.invariants.enabled.clear();
  scenario.invariants.settle = Duration::zero();
  ModelInfo model;
  model.name = "peer-sender";
  model.topology = Topology::peer_to_peer;
  model.make_client = [messages](NodeId) { return std::make_unique<PeerSender>(messages); };
  const Schedule schedule = make_schedule(scenario, DataType::map, 1);
  std::uint64_t delivered = 0;
  for (auto _ : state) {
    const RunResult r = run_simulation(scenario, model, schedule, 1);
    delivered += r.metrics.messages_delivered;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(delivered));
}

}  // namespace

BENCHMARK(peers)->Name("peers/engine")->Args({10, 1000})->Args({100, 1000})->Args({1000, 100})->Unit(benchmark::kMillisecond)->UseRealTime();
