// What every subcommand of the CLI shares: resolving scenario and model names, printing input errors,
// and the exact command that replays a run. Each subcommand lives in its own file and registers
// itself on the CLI11 app with one add_*_command function.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "models/model.hpp"
#include "reports/timeline.hpp"  // PayloadRecorder
#include "sim/base/atomic_file.hpp"
#include "sim/engine/simulation.hpp"  // RunOptions, RunResult
#include "sim/scenario/scenario.hpp"
#include "sim/scenario/scenario_file.hpp"
#include "sim/sweep/repro.hpp"  // replay_command, scenario_argument

namespace syncstorm {

/// Exit codes, the same for every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitViolation = 1;
inline constexpr int kExitBadInput = 2;

/// The work a parsed subcommand will do; set by its CLI11 callback, run after parsing.
using Action = std::function<int()>;

/// A scenario argument is a path to a TOML file or the name of a shipped scenario ("quiet").
Result<Scenario> resolve_scenario(const std::string& argument);
/// Every shipped scenario, in file-name order.
Result<std::vector<Scenario>> shipped_scenarios();
/// A model by name, or an input error that lists the known ones.
Result<const ModelInfo*> resolve_model(const ModelRegistry& models, const std::string& name, const std::string& key = "--model");
/// Checks that `model` fits `scenario`; the error names the pinned data type.
std::optional<InputError> check_fit(const Scenario& scenario, const ModelInfo& model);

/// The check of every numeric flag: a whole number from `lo` to `hi`, written in decimal digits only.
/// CLI11 reads an unsigned flag with strtoull, which takes "-1" as 2^64 - 1 and "010" as octal; this
/// refuses a sign, a base prefix and anything else, and strips leading zeros. Add it with
/// `->transform(...)`, not `->check(...)`: CLI11 reads the stripped text only from a transform.
/// `limit` names the constant of sim/scenario/limits.hpp behind `hi`, for the message.
CLI::Validator whole_number(std::uint64_t lo, std::uint64_t hi, std::string limit = "");

/// An output file's name given empty (a variable that is not set, say) is refused, not taken as no
/// output. `hint` says what may have emptied it.
CLI::Validator file_name(std::string hint = "");

/// An output file's folder must exist and take files before the work starts, so that a mistyped
/// path costs no run (and no sweep); a path naming a folder is refused too. An empty path is no output.
std::optional<InputError> check_output_folder(const std::string& path, const char* flag);
/// The same for an output folder (`compare --out`): made now, with its parents, if it is missing.
std::optional<InputError> make_output_folder(const std::string& path, const char* flag);

/// Prints "syncstorm: error: <file:line:col: key ...: message>" to stderr and returns kExitBadInput.
int report_input_error(const InputError& error);

/// What one run (`run`, `replay` of a seed or of a repro file) writes besides its summary: the
/// trace (--trace), the space-time diagram (--diagram) and the interactive timeline (--html). Empty
/// paths are not written. open() before the run, pass options() to it, finish() after it.
class RunOutputs {
 public:
  RunOutputs(std::string trace, std::string diagram, std::string html);
  /// Checks every output's folder and opens the trace's temporary file, before any run is paid for.
  std::optional<InputError> open();
  /// Where the run writes its trace and message bytes; valid while this object lives.
  RunOptions options();
  /// Commits the trace and draws the pictures, titled `title`, naming `replay` as their command.
  std::optional<InputError> finish(const Schedule& schedule, const RunResult& run, const std::string& title,
                                   const std::string& replay);

 private:
  bool drawn() const { return !diagram_.empty() || !html_.empty(); }

  std::string trace_;
  std::string diagram_;
  std::string html_;
  std::optional<StreamedFile> trace_file_;
  std::ostringstream recorded_;  ///< the trace, when a picture is drawn from it
  PayloadRecorder payloads_;
};

void add_run_commands(CLI::App& app, const ModelRegistry& models, Action& action);
void add_list_command(CLI::App& app, const ModelRegistry& models, Action& action);
/// `check` and `merge` (check_command.cpp).
void add_check_commands(CLI::App& app, const ModelRegistry& models, Action& action);
/// `replay FILE.repro.toml`: runs a repro file's explicit schedule; exit codes as `run`.
/// Replays a repro file; a non-empty `model` replays its schedule against that model instead (a fixed
/// version, say), which must have the repro's data type.
int replay_repro_file(const std::string& path, const ModelRegistry& models, RunOutputs& outputs, const std::string& model = "");
/// `compare` (compare_command.cpp).
void add_compare_command(CLI::App& app, const ModelRegistry& models, Action& action);

}  // namespace syncstorm
