// The same scenario, model and seed give a byte-identical trace and the same hash: run twice, run on
// a thread pool beside other runs, and in any order.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <set>
#include <sstream>

#include "sim/engine/simulation.hpp"
#include "sim/scenario/limits.hpp"
#include "sim/sweep/sweep.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

namespace {

/// A scenario drawn by RapidCheck: a few clients, swarm mode over every fault kind, lossy peers.
Scenario generated_scenario(std::uint32_t clients, std::uint32_t servers, bool datagram, std::uint32_t max_faults) {
  Scenario s;
  s.name = "generated";
  s.servers = servers;
  s.workload.clients = clients;
  s.workload.duration = Duration::seconds(10);
  s.workload.think_time_mean = Duration::millis(500);
  s.network.client_link = datagram ? LinkKind::datagram : LinkKind::stream;
  s.swarm.enabled = true;
  s.swarm.kinds.assign(std::begin(kAllFaultKinds), std::end(kAllFaultKinds));
  s.swarm.max_faults = max_faults;
  s.swarm.max_fault_duration = Duration::seconds(4);
  s.persistence.client = true;
  s.invariants.settle = Duration::seconds(10);
  return s;
}

struct Traced {
  std::uint64_t hash;
  std::string trace;
};

Traced run_traced(const Scenario& scenario, const ModelInfo& model, std::uint64_t seed) {
  const Schedule schedule = make_schedule(scenario, model, seed);
  std::ostringstream out;
  const RunResult r = run_simulation(scenario, model, schedule, seed, RunOptions{&out});
  return Traced{r.trace_hash, out.str()};
}

}  // namespace

TEST_CASE("the same seed gives the same trace bytes and hash", "[sim][determinism]") {
  // In-process models only: external ones need Node.js and are checked in tests/models/external_test.cpp.
  const ModelRegistry models = shipped_models();
  std::vector<ModelInfo> in_process;
  for (const ModelInfo& m : models.all()) {
    if (!m.external) in_process.push_back(m);
  }
  rc::prop("two runs of one seed are identical", [&] {
    const auto clients = *rc::gen::inRange<std::uint32_t>(1, 6);
    const auto servers = *rc::gen::inRange<std::uint32_t>(1, 3);
    const bool datagram = *rc::gen::arbitrary<bool>();
    const auto faults = *rc::gen::inRange<std::uint32_t>(0, 6);
    const auto seed = *rc::gen::arbitrary<std::uint64_t>();
    const auto model_index = *rc::gen::inRange<std::size_t>(0, in_process.size());
    const ModelInfo& model = in_process[model_index];
    const Scenario scenario = generated_scenario(clients, servers, datagram, faults);
    const Traced a = run_traced(scenario, model, seed);
    const Traced b = run_traced(scenario, model, seed);
    RC_ASSERT(a.hash == b.hash);
    RC_ASSERT(a.trace == b.trace);
  });
}

TEST_CASE("runs on a thread pool give the same hashes as runs alone", "[sim][determinism]") {
  const ModelRegistry models = shipped_models();
  const ModelInfo& model = models.all().front();
  const Scenario scenario = generated_scenario(4, 1, false, 4);
  constexpr std::size_t kSeeds = 16;
  std::vector<std::uint64_t> alone;
  for (std::size_t i = 0; i < kSeeds; ++i) alone.push_back(run_traced(scenario, model, i + 1).hash);
  const auto pooled = run_parallel<std::uint64_t>(kSeeds, 2, [&](std::size_t i) {
    const Schedule schedule = make_schedule(scenario, model, i + 1);
    return run_simulation(scenario, model, schedule, i + 1).trace_hash;
  });
  for (std::size_t i = 0; i < kSeeds; ++i) {
    REQUIRE(pooled[i].has_value());
    REQUIRE(*pooled[i] == alone[i]);
  }
}

TEST_CASE("different seeds give different traces", "[sim][determinism]") {
  const ModelRegistry models = shipped_models();
  const Scenario scenario = generated_scenario(3, 1, false, 3);
  std::set<std::uint64_t> hashes;
  for (std::uint64_t seed = 1; seed <= 100; ++seed) hashes.insert(run_traced(scenario, models.all().front(), seed).hash);
  REQUIRE(hashes.size() == 100);
}

TEST_CASE("a schedule is drawn from the seed alone, the same for every data type's timings", "[sim][determinism]") {
  Scenario scenario = generated_scenario(5, 1, false, 4);
  const Schedule map = make_schedule(scenario, DataType::map, 77);
  const Schedule list = make_schedule(scenario, DataType::list, 77);
  REQUIRE(map == make_schedule(scenario, DataType::map, 77));
  REQUIRE(map.operations.size() == list.operations.size());
  for (std::size_t i = 0; i < map.operations.size(); ++i) {
    REQUIRE(map.operations[i].issued_at == list.operations[i].issued_at);
    REQUIRE(map.operations[i].client == list.operations[i].client);
  }
  REQUIRE(map.faults == list.faults);
  // Adding a client must not move any other client's operations (streams are derived per client).
  scenario.workload.clients = 6;
  const Schedule more = make_schedule(scenario, DataType::map, 77);
  std::size_t same = 0;
  for (const Operation& op : map.operations) {
    for (const Operation& other : more.operations) {
      if (other.client == op.client && other.issued_at == op.issued_at && other.key == op.key) {
        ++same;
        break;
      }
    }
  }
  REQUIRE(same == map.operations.size());
}

TEST_CASE("a counter's increments take many sizes, drawn without moving any other draw", "[sim][determinism]") {
  // The counter check sees only a sum: with every increment +1, a lost and a doubled increment
  // cancel. Sizes come from the roll other types pick their kind with, so timings, keys and faults
  // stay those of every other data type (common random numbers).
  Scenario scenario = generated_scenario(5, 1, false, 4);
  scenario.workload.decrement_share = 300'000;
  const Schedule counter = make_schedule(scenario, DataType::counter, 77);
  const Schedule map = make_schedule(scenario, DataType::map, 77);
  REQUIRE(counter.operations.size() == map.operations.size());
  REQUIRE(counter.faults == map.faults);
  std::set<std::int64_t> sizes;
  std::size_t decrements = 0;
  for (std::size_t i = 0; i < counter.operations.size(); ++i) {
    const Operation& op = counter.operations[i];
    REQUIRE(op.issued_at == map.operations[i].issued_at);
    REQUIRE(op.key == map.operations[i].key);
    REQUIRE(op.kind == OpKind::counter_add);
    const std::int64_t size = op.amount < 0 ? -op.amount : op.amount;
    REQUIRE(size >= 1);
    REQUIRE(size <= limits::kCounterAmountDrawnMax);
    sizes.insert(size);
    if (op.amount < 0) ++decrements;
  }
  REQUIRE(counter.operations.size() >= 50);
  CHECK(sizes.size() * 10 >= counter.operations.size() * 9);  // nearly all distinct: 1,000 sizes
  CHECK(decrements > 0);
  CHECK(decrements < counter.operations.size());
}

TEST_CASE("cache hints change nothing: 1,000-client runs trace the same with and without them", "[sim][determinism][slow]") {
  // The engine and the models prefetch what the next events will read once a run has 1,000 nodes
  // (sim/prefetch.hpp). Hints must only read: here every in-process model runs a 1,000-client
  // swarm (crashes and restarts included, so nodes are destroyed and made anew) both ways.
  const ModelRegistry models = shipped_models();
  Scenario scenario = generated_scenario(1'000, 1, false, 4);
  scenario.workload.duration = Duration::seconds(5);
  scenario.workload.think_time_mean = Duration::seconds(5 * 1'000 / 20);  // about 20 operations
  scenario.swarm.kinds = {FaultKind::crash, FaultKind::partition, FaultKind::down, FaultKind::reset};
  scenario.invariants.settle = Duration::seconds(5);
  for (const ModelInfo& model : models.all()) {
    if (model.external || !fits(scenario, model)) continue;
    CAPTURE(model.name);
    for (const std::uint64_t seed : {1u}) {
      const Schedule schedule = make_schedule(scenario, model, seed);
      std::ostringstream hinted;
      std::ostringstream plain;
      RunOptions without{&plain};
      without.cache_hints = false;
      const RunResult a = run_simulation(scenario, model, schedule, seed, RunOptions{&hinted});
      const RunResult b = run_simulation(scenario, model, schedule, seed, without);
      REQUIRE(a.trace_hash == b.trace_hash);
      REQUIRE(hinted.str() == plain.str());
    }
  }
}
