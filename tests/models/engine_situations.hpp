// Engine-level situations shared by the model tests: run a model through the real engine and
// checkers over seeds, and the small, rough and offline scenarios the tests use.
#pragma once

#include <map>
#include <set>

#include "sim/engine/simulation.hpp"

namespace syncstorm::testing {

/// Runs `m` through `scenario` with the engine and the real checkers for seeds 1..seeds and counts
/// the seeds on which each invariant was broken.
inline std::map<Invariant, int> engine_breaks(const Scenario& scenario, const ModelInfo& m, std::uint64_t seeds) {
  std::map<Invariant, int> broken;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    const Schedule schedule = make_schedule(scenario, m, seed);
    std::set<Invariant> kinds;
    for (const Violation& v : run_simulation(scenario, m, schedule, seed).violations) kinds.insert(v.invariant);
    for (Invariant i : kinds) ++broken[i];
  }
  return broken;
}

/// A small busy scenario: 5 clients writing a few keys for 20 s, then 20 s to settle.
inline Scenario small_scenario() {
  Scenario s;
  s.name = "small-busy";
  s.workload.clients = 5;
  s.workload.keys = 4;
  s.workload.duration = Duration::seconds(20);
  s.workload.think_time_mean = Duration::millis(700);
  s.invariants.settle = Duration::seconds(20);
  return s;
}

/// A fault at `at_s` seconds lasting `duration_s` seconds.
inline FaultSpec engine_fault(FaultKind kind, Target target, std::int64_t at_s, std::int64_t duration_s) {
  FaultSpec f;
  f.kind = kind;
  f.at = Instant{Duration::seconds(at_s).us};
  f.duration = Duration::seconds(duration_s);
  f.target = target;
  return f;
}

inline void add_fault(Scenario& s, FaultKind kind, Target::Kind target, std::int64_t at_s, std::int64_t duration_s) {
  s.faults.push_back(engine_fault(kind, Target{target, 0}, at_s, duration_s));
}

/// Resets, a server crash, a client crash with persistence, a partition and clock skew at once.
inline Scenario rough_scenario() {
  Scenario s = small_scenario();
  s.clocks.skew_max = Duration::seconds(3);
  s.persistence.client = true;
  for (std::int64_t at = 2; at < 18; at += 3) add_fault(s, FaultKind::reset, Target::Kind::random_client, at, 0);
  add_fault(s, FaultKind::crash, Target::Kind::servers, 8, 1);
  add_fault(s, FaultKind::crash, Target::Kind::random_client, 11, 1);
  add_fault(s, FaultKind::partition, Target::Kind::random_client, 4, 5);
  return s;
}

/// A small busy run with resets, a server crash, a client crash with persistence, a partition,
/// a long offline client and two servers behind a load balancer.
inline Scenario engine_rough(std::uint32_t servers) {
  Scenario s = rough_scenario();
  s.name = "rough-behind-load-balancer";
  s.clocks.skew_max = Duration::zero();  // the servers are the point here, not the clocks
  s.servers = servers;
  s.network.assignment = ServerAssignment::random;
  s.faults.push_back(engine_fault(FaultKind::offline, Target{Target::Kind::client, 1}, 3, 15));
  return s;
}

/// The canaries' situation: one client offline for 25 s (longer than any tombstone ttl) while the
/// others add and remove items, and back only after the users stopped, so that nothing re-adds or
/// removes an item it brings back. Enough keys that its own offline edits leave some items alone.
inline Scenario engine_offline_removes() {
  Scenario s;
  s.name = "offline-past-tombstone-ttl";
  s.workload.clients = 4;
  s.workload.keys = 12;
  s.workload.duration = Duration::seconds(20);
  s.workload.think_time_mean = Duration::millis(800);
  s.workload.remove_share = 400'000;
  s.invariants.settle = Duration::seconds(20);
  s.persistence.client = true;
  s.faults.push_back(engine_fault(FaultKind::offline, Target{Target::Kind::client, 0}, 3, 25));
  return s;
}

}  // namespace syncstorm::testing
