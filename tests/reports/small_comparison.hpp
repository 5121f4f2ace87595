// A fixed small comparison the report tests share: in-code scenarios (so they do not move when the
// shipped scenario files change), the template model, an LWW map and, when registered, buggy baselines.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "reports/report.hpp"

namespace syncstorm::testing {

inline Scenario small_partition_scenario() {
  Scenario s;
  s.name = "small-partition";
  s.description = "three clients, one isolated for 3 s";
  s.servers = 1;
  s.workload.clients = 3;
  s.workload.duration = Duration::seconds(8);
  s.workload.think_time_mean = Duration::millis(800);
  s.workload.keys = 4;
  FaultSpec f;
  f.kind = FaultKind::partition;
  f.at = Instant{Duration::seconds(2).us};
  f.duration = Duration::seconds(3);
  f.target = Target{Target::Kind::client, 0};
  f.shape = PartitionShape::isolate;
  s.faults.push_back(f);
  s.invariants.settle = Duration::seconds(8);
  return s;
}

inline Scenario small_skew_scenario() {
  Scenario s = small_partition_scenario();
  s.name = "small-skew";
  s.description = "the same users with clocks skewed by up to 2 s and a server crash";
  s.clocks.skew_max = Duration::seconds(2);
  FaultSpec crash;
  crash.kind = FaultKind::crash;
  crash.at = Instant{Duration::seconds(4).us};
  crash.duration = Duration::seconds(1);
  crash.target = Target{Target::Kind::server, 0};
  s.faults.push_back(crash);
  return s;
}

inline Scenario small_storm_scenario() {
  Scenario s = default_storm_scenario();
  s.name = "small-storm";
  s.workload.clients = 20;
  return s;
}

inline CompareOptions small_comparison(const ModelRegistry& registry, unsigned jobs) {
  CompareOptions o;
  o.scenarios = {small_partition_scenario(), small_skew_scenario()};
  for (const char* name : {"echo", "lww-map", "lww-map-wallclock", "counter-no-dedup"}) {
    if (const ModelInfo* m = registry.find(name)) o.models.push_back(m);
  }
  o.seeds = 4;
  o.jobs = jobs;
  o.storm = small_storm_scenario();
  o.storm_seeds = 3;
  return o;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace syncstorm::testing
