// Engine ceiling: the hold pattern (every node keeps one timer pending; each firing sets the next at
// an exponential delay) through the whole engine with a trivial model, beside a bare binary-heap loop
// doing the same with no engine around it.
#include <benchmark/benchmark.h>

#include <queue>

#include "sim/engine/simulation.hpp"

using namespace syncstorm;

namespace {

constexpr Duration kMeanHold = Duration::millis(100);

class HoldNode final : public Node {
 public:
  void on_start(Context& ctx) override { ctx.set_timer(ctx.rng().exponential(kMeanHold), 0); }
  void on_user_operation(Context&, const Operation&) override {}
  void on_message(Context&, NodeId, std::string_view) override {}
  void on_timer(Context& ctx, std::uint64_t) override { ctx.set_timer(ctx.rng().exponential(kMeanHold), 0); }
  std::optional<State> state() const override { return std::nullopt; }
};

ModelInfo hold_model() {
  ModelInfo m;
  m.name = "hold";
  m.make_client = [](NodeId) { return std::make_unique<HoldNode>(); };
  m.make_server = [](NodeId) { return std::make_unique<HoldNode>(); };
  return m;
}

/// Simulated seconds so that every size handles about two million events per run.
Duration run_length(std::int64_t nodes) { return Duration{std::max<std::int64_t>(2'000'000 / nodes, 1) * kMeanHold.us}; }

void engine(benchmark::State& state) {
  const auto nodes = state.range(0);
  Scenario scenario;
  scenario.servers = 1;
  scenario.workload.clients = static_cast<std::uint32_t>(nodes - 1);
  scenario.workload.duration = run_length(nodes);
  scenario.workload.think_time_mean = Duration::seconds(1'000'000);  // no user operations
  scenario.invariants.enabled.clear();
  scenario.invariants.settle = Duration::zero();
  const ModelInfo model = hold_model();
  const Schedule schedule = make_schedule(scenario, DataType::map, 1);
  std::uint64_t events = 0;
  for (auto _ : state) {
    const RunResult r = run_simulation(scenario, model, schedule, 1);
    events += r.metrics.events;
    benchmark::DoNotOptimize(r.trace_hash);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
}

struct BareEvent {
  std::int64_t at;
  std::uint64_t seq;
  std::uint32_t node;
  bool operator>(const BareEvent& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

void baseline(benchmark::State& state) {
  const auto nodes = state.range(0);
  const std::int64_t end = run_length(nodes).us;
  std::uint64_t events = 0;
  for (auto _ : state) {
    Rng rng(1);
    std::priority_queue<BareEvent, std::vector<BareEvent>, std::greater<>> heap;
    std::uint64_t seq = 0;
    for (std::int64_t n = 0; n < nodes; ++n) heap.push({rng.exponential(kMeanHold).us, seq++, static_cast<std::uint32_t>(n)});
    while (!heap.empty() && heap.top().at <= end) {
      const BareEvent e = heap.top();
      heap.pop();
      ++events;
      heap.push({e.at + rng.exponential(kMeanHold).us, seq++, e.node});
    }
    benchmark::DoNotOptimize(seq);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
}

}  // namespace

BENCHMARK(engine)->Name("hold/engine")->Arg(10)->Arg(1'000)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(baseline)->Name("hold/baseline")->Arg(10)->Arg(1'000)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond)->UseRealTime();
