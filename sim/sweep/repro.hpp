// Repro files: a shrunk failing run written as TOML that `syncstorm replay FILE` runs again. The file
// holds the explicit schedule (every operation and fault with its times and nodes, the network
// settings swarm mode drew, the clock errors) and the few scenario settings the engine reads during a
// run, so it replays the same situation even after the scenario file or the model code changes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/model.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/scenario/scenario_file.hpp"
#include "sim/scenario/schedule.hpp"

namespace syncstorm {

/// The version of the repro format this code writes and reads.
inline constexpr std::int64_t kReproFormat = 1;

/// How big a schedule is, for "shrunk from ... to ..." lines.
struct ScheduleSize {
  std::uint32_t clients = 0;
  std::uint64_t operations = 0;
  std::uint64_t faults = 0;
  friend bool operator==(const ScheduleSize&, const ScheduleSize&) = default;
};
ScheduleSize size_of(const Schedule& schedule);

/// The name of the failure a repro reproduces: an invariant name, or this when the run aborted.
inline constexpr std::string_view kAbortedVerdict = "aborted";

struct Repro {
  std::string scenario_name;
  std::string scenario_file;  ///< where the scenario came from, for people; replay does not read it
  std::string model;
  std::uint64_t seed = 0;          ///< the run seed: the network's and the nodes' own random draws
  std::string invariant;           ///< what failed: an invariant name or kAbortedVerdict
  std::uint64_t trace_hash = 0;    ///< the hash the shrunk schedule's run produced
  ScheduleSize original;           ///< the size before shrinking
  PersistenceOptions persistence;  ///< scenario settings the engine reads during a run
  InvariantOptions invariants;
  Schedule schedule;
};

/// The TOML text of a repro. Durations are integer microseconds (keys end in _us): exact, no rounding.
std::string format_repro(const Repro& repro);
/// Parses repro TOML; `file` names it in errors. Every mistake names the file, line and key.
Result<Repro> parse_repro(std::string_view text, const std::string& file);
Result<Repro> load_repro(const std::string& path);
/// Writes the repro to `path`, creating its folder, and returns the path written. The file appears
/// whole or not at all (write_file_atomically), and an existing repro is never replaced: when `path`
/// exists with other content, the repro goes to the first free `NAME-2.repro.toml`, `NAME-3`, ...
/// (an existing file with the same bytes is returned as it is). The error names the path.
Result<std::string> save_repro(const Repro& repro, const std::string& path);

/// The scenario a replay of `repro` runs with: only the settings the engine reads during a run.
Scenario repro_scenario(const Repro& repro);

/// True for a path that names a repro file rather than a scenario ("*.repro.toml").
bool is_repro_path(std::string_view path);

/// The command line that reproduces one run exactly; it names the strategy unless it is random.
/// A `lineage` (novelty: the seeds the schedule was bred from, ending with `seed`) of more than
/// one seed adds `--lineage` with its ancestors.
std::string replay_command(const Scenario& scenario, const ModelInfo& model, std::uint64_t seed,
                           Exploration explore = Exploration::random, const std::vector<std::uint64_t>& lineage = {});

/// The same, from the scenario argument a check recorded (a shipped name or a file) and a model's
/// name. An external model's name is a command line: it is shell-quoted so the command pastes whole.
std::string replay_command(std::string_view scenario_arg, std::string_view model_name, std::uint64_t seed,
                           Exploration explore = Exploration::random, const std::vector<std::uint64_t>& lineage = {});
/// How a scenario is named on a command line: its file path relative to the working directory when
/// that is shorter, else its path.
std::string scenario_argument(const Scenario& scenario);
/// The scenario's file as a repro records it, as scenario_argument names it (a repro written inside a
/// project and committed with it then names no machine's folders); "" for a scenario without a file.
std::string repro_scenario_file(const Scenario& scenario);

}  // namespace syncstorm
