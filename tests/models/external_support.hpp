// What the tests of external replicas share: the npm packages an adapter needs, a small quiet
// scenario, one run of a seed, and the facts most of them check (converged, how many ops the user saw
// applied or acknowledged). A test that needs Node.js or an adapter's packages fails where they are
// missing (tests/programs.hpp).
#pragma once

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "models/external/external.hpp"
#include "sim/engine/simulation.hpp"
#include "tests/printers.hpp"
#include "tests/programs.hpp"
#include "tests/source_tree.hpp"

namespace syncstorm::testing {

/// What a check script of tests/models/adapters/ prints, run by node with the folder of the adapter
/// whose pinned packages it loads (`sharedb`, `automerge`, ...) as its argument.
inline std::string adapter_script_output(const std::string& script, const std::string& adapter) {
  namespace fs = std::filesystem;
  const fs::path out = fs::temp_directory_path() / ("syncstorm-script-" + std::to_string(::getpid()) + ".json");
  const std::string command = "node '" + source_path("tests/models/adapters/" + script) + "' '" +
                              source_path("models/adapters/" + adapter) + "' > '" + out.string() + "'";
  REQUIRE(std::system(command.c_str()) == 0);
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  fs::remove(out);
  return text.str();
}

/// The npm packages of a shipped adapter's folder (`yjs`, `loro`, ...), which `./setup.sh` installs:
/// a test of that adapter fails where they are missing, as it does where node is.
inline bool needs_adapter(const std::string& folder) {
  const std::string packages = adapter_dir() + "/" + folder + "/node_modules";
  return needs(std::filesystem::exists(packages), "the npm packages of the " + folder + " adapter (" + packages + ")",
               "SYNCSTORM_NO_NODE", "npm ci --prefix models/adapters/" + folder);
}

/// A few clients writing for 5 s with no faults, then 5 s to settle: every correct model converges.
inline Scenario quiet_scenario(const std::string& name, std::uint32_t clients = 3) {
  Scenario s;
  s.name = name;
  s.servers = 1;
  s.workload.clients = clients;
  s.workload.duration = Duration::seconds(5);
  s.workload.think_time_mean = Duration::millis(300);
  s.workload.keys = 6;
  s.invariants.settle = Duration::seconds(5);
  return s;
}

/// quiet_scenario, in which client 0 crashes at 1.5 s and the server at 3 s, each down for a
/// second and restarted from its store; clients keep theirs (persistence.client).
inline Scenario crashes_scenario(const std::string& name) {
  Scenario s = quiet_scenario(name);
  s.persistence.client = true;
  FaultSpec client;
  client.kind = FaultKind::crash;
  client.at = Instant{1'500'000};
  client.duration = Duration::seconds(1);
  client.target = Target{Target::Kind::client, 0};
  FaultSpec server = client;
  server.at = Instant{3'000'000};
  server.target = Target{Target::Kind::server, 0};
  s.faults = {client, server};
  return s;
}

/// One run of `seed`, with the schedule the seed draws.
inline RunResult run_seed(const Scenario& scenario, const ModelInfo& model, std::uint64_t seed) {
  return run_simulation(scenario, model, make_schedule(scenario, model, seed), seed);
}

/// The proof that a protocol-2 adapter leaves nothing behind between runs: `first_seed` of `busy` and
/// then `seed` of `quiet` through `reused` (one process: the second run follows a reset), and `seed`
/// of `quiet` through `fresh`, a model of the same adapter from another registry (a process of its own).
struct SeedAfterAnother {
  RunResult first;
  RunResult after;
  RunResult alone;
};

inline SeedAfterAnother seed_after_another(const Scenario& busy, std::uint64_t first_seed, const Scenario& quiet,
                                           std::uint64_t seed, const ModelInfo& reused, const ModelInfo& fresh) {
  SeedAfterAnother out;
  out.first = run_seed(busy, reused, first_seed);
  out.after = run_seed(quiet, reused, seed);
  out.alone = run_seed(quiet, fresh, seed);
  return out;
}

/// Checks, for each of the shipped models `names`, that it speaks protocol version 2 and that a seed
/// run after another in one process gives the hash it gives alone: seed 5 of `busy` first, then seed
/// 12 of `quiet` (seed_after_another; the second run reuses the first one's process after a reset, a
/// model from another registry starts a process of its own, so equal hashes mean the reset left
/// nothing of the first run).
inline void check_seed_after_another(const std::vector<std::string>& names, const Scenario& busy, const Scenario& quiet) {
  const ModelRegistry reused = shipped_models();
  const ModelRegistry fresh = shipped_models();
  for (const std::string& name : names) {
    INFO(name);
    const ModelInfo* model = reused.find(name);
    REQUIRE(model != nullptr);
    bool speaks_2 = false;
    for (const ExternalSpec& spec : shipped_external_specs()) speaks_2 = speaks_2 || (spec.name == name && spec.protocol == 2);
    CHECK(speaks_2);
    const SeedAfterAnother r = seed_after_another(busy, 5, quiet, 12, *model, *fresh.find(name));
    INFO(r.first.aborted << r.after.aborted << r.alone.aborted);
    REQUIRE(r.first.aborted.empty());
    REQUIRE(r.after.aborted.empty());
    CHECK(r.after.trace_hash == r.alone.trace_hash);
    CHECK(r.after.trace_hash != r.first.trace_hash);
  }
}

/// Whether every live node that holds a state holds the same one.
inline bool converged(const RunResult& r) {
  std::optional<State> first;
  for (const NodeFinal& f : r.history.finals) {
    if (!f.live || !f.state) continue;
    if (!first) first = f.state;
    else if (*first != *f.state) return false;
  }
  return first.has_value();
}

inline std::size_t count_applied(const RunResult& r) {
  std::size_t n = 0;
  for (const OpRecord& op : r.history.ops) n += op.applied.has_value() ? 1 : 0;
  return n;
}

inline std::size_t count_acknowledged(const RunResult& r) {
  std::size_t n = 0;
  for (const OpRecord& op : r.history.ops) n += op.acknowledged.has_value() ? 1 : 0;
  return n;
}

/// Runs `seed` of `crashes` (two crashes, each restarted from its store: crashes_scenario) with
/// `model` and checks what a correct adapter shows there: both crashes happened, the replicas
/// converged, no checker found anything. Returns the run for checks of the caller's own.
inline RunResult check_restarts_and_converges(const Scenario& crashes, const ModelInfo& model, std::uint64_t seed = 5) {
  RunResult r = run_seed(crashes, model, seed);
  INFO(model.name << ": " << r.aborted);
  REQUIRE(r.aborted.empty());
  CHECK(r.metrics.crashes == 2);
  CHECK(converged(r));
  for (const Violation& v : r.violations) FAIL_CHECK(model.name << ": " << to_string(v.invariant) << ": " << v.detail);
  return r;
}

}  // namespace syncstorm::testing
