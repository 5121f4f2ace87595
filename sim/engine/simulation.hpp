// The engine's central interface: run one model through one schedule and return what happened.
// Everything a run needs is passed in; nothing is global, so runs execute side by side on a pool.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "models/model.hpp"
#include "sim/checkers/history.hpp"
#include "sim/checkers/invariants.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/scenario/schedule.hpp"

namespace syncstorm {

/// Simulated figures of one run. All integers in virtual units: identical on every machine.
struct Metrics {
  std::uint64_t events = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_delivered = 0;
  std::uint64_t messages_dropped = 0;
  std::uint64_t messages_duplicated = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t connection_resets = 0;
  std::uint64_t connect_attempts = 0;
  std::uint64_t connections_established = 0;
  std::uint64_t operations = 0;     ///< intents issued to a live client
  std::uint64_t intents_lost = 0;   ///< intents whose client was down
  std::uint64_t applied = 0;
  std::uint64_t acknowledged = 0;
  std::uint64_t rejected = 0;
  std::uint64_t crashes = 0;
  std::uint64_t timers = 0;
  std::int64_t simulated_us = 0;
  std::vector<std::int64_t> local_latency_us;   ///< issued -> applied at its own user, per op
  std::vector<std::int64_t> remote_latency_us;  ///< issued -> visible at another replica (sampled)
  std::vector<std::int64_t> ack_latency_us;     ///< issued -> acknowledged
  std::int64_t convergence_us = -1;             ///< after the last heal; -1: never converged
  std::uint64_t metadata_bytes_max = 0;         ///< largest metadata of any replica at the end
  /// Messages and connect attempts received by all servers per 100 ms bucket of virtual time.
  std::vector<std::uint32_t> server_load;
  std::uint32_t server_load_peak = 0;           ///< largest bucket, per 100 ms
  std::int64_t all_reconnected_us = -1;         ///< after the last reset or crash: every client back
  std::uint64_t hostile_messages = 0;           ///< sent by malicious faults (also counted in messages_sent)
};

struct RunResult {
  std::uint64_t trace_hash = 0;
  Metrics metrics;
  History history;
  std::vector<Violation> violations;
  std::string aborted;  ///< non-empty when a limit stopped the run (e.g. a model that never goes quiet)
};

struct RunOptions {
  std::ostream* trace_out = nullptr;  ///< JSON Lines of every event, when set
  /// Cache prefetch hints in runs of 1,000 nodes and more. They change nothing a run does (a test
  /// runs with and without them and compares the traces); off only for that test.
  bool cache_hints = true;
  /// Receives every message's bytes as it is sent, with the message id its trace events carry, when
  /// set (the timeline page shows them). It only observes: the trace and its hash are the same with
  /// and without it.
  std::function<void(std::uint64_t message, std::string_view payload)> on_send = nullptr;
};

/// Runs `model` through `schedule` with network draws from `seed`, then checks the invariants the
/// scenario enables.
RunResult run_simulation(const Scenario& scenario, const ModelInfo& model, const Schedule& schedule,
                         std::uint64_t seed, const RunOptions& options = {});

}  // namespace syncstorm
