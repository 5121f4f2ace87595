// External replicas: a model whose client and server nodes live in a child process (a real Yjs or
// Automerge replica in Node.js, or anything that speaks models/adapters/PROTOCOL.md). Every Node
// callback becomes one JSON line on the child's stdin; the child answers with its actions and an end
// marker. The child gets time and randomness only from the simulator, so a seed still replays a run.
// The process's I/O runs on Boost.Asio (see external.cpp); nothing of Asio shows in this header.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/model.hpp"
#include "sim/base/result.hpp"

namespace syncstorm {

/// Environment variable: the wall-clock limit on one answer of an external process, in milliseconds
/// (default 10000). A process that does not answer in time aborts the run with a clear error.
inline constexpr const char* kExternalTimeoutEnv = "SYNCSTORM_EXTERNAL_TIMEOUT_MS";
/// Environment variable: the folder holding the shipped adapters (default: models/adapters of the
/// source tree this binary was built from, or share/syncstorm/adapters of the install prefix).
inline constexpr const char* kAdapterDirEnv = "SYNCSTORM_ADAPTER_DIR";
/// Environment variable: set to 1 to start a new adapter process for every run, as protocol version 1
/// does, even for adapters that accept `reset` (for measuring what reuse saves, and for debugging).
inline constexpr const char* kExternalFreshEnv = "SYNCSTORM_EXTERNAL_FRESH";
/// The newest version of models/adapters/PROTOCOL.md this build speaks.
inline constexpr int kProtocolVersion = 2;
/// The prefix of a model argument naming an adapter command: `--model "external:node my.js"`.
inline constexpr std::string_view kExternalPrefix = "external:";

/// What an external model is and how to start its process.
struct ExternalSpec {
  std::string name;         ///< the model's name as the CLI shows and replays it
  std::string command;      ///< a shell command line starting the adapter (run as `/bin/sh -c "exec ..."`)
  std::string description;  ///< one line
  DataType data_type = DataType::map;
  Topology topology = Topology::client_server;
  SupersedeRule rule = SupersedeRule::last_writer_wins;
  std::optional<Invariant> breaks;
  MetadataGrowth metadata_growth = MetadataGrowth::with_state;
  /// The protocol version the adapter speaks (PROTOCOL.md). From 2 on, one process serves many runs
  /// in turn: a `reset` event between two runs drops every replica, as a new process would.
  int protocol = 1;
  /// The adapter's declarations of the deployments it handles (ModelInfo::datagram_links and
  /// ModelInfo::multi_server), from its describe action: off unless it says so.
  bool datagram_links = false;
  bool multi_server = false;
  /// Its promise of writes follow reads (ModelInfo::writes_follow_reads), from its describe action:
  /// none unless it makes one.
  OrderPromise writes_follow_reads = OrderPromise::not_promised;
  /// Its promise of writes in order across keys (ModelInfo::writes_in_order), from its describe action.
  OrderPromise writes_in_order = OrderPromise::not_promised;
  /// Shipped adapters: the folder whose package.json lists the npm packages the adapter needs
  /// ("" for an adapter given on the command line, which describe_external starts at once).
  std::string package_dir = "";
};

/// A model whose nodes forward every callback to one child process per run, started lazily and shared
/// by every node of the run. A version-1 adapter's process ends with its run; a version-2 adapter's
/// is reset and kept for the next run of this model in the same process (one per run at a time,
/// so parallel runs on threads each have their own; a forked child starts its own).
ModelInfo external_model(const ExternalSpec& spec);

/// Starts `command`, asks the adapter to describe its model, and builds an external model named
/// `external:COMMAND`. An adapter that fails to start or to answer is an input error.
Result<ModelInfo> describe_external(const std::string& command);

/// A set-up problem of the shipped external model `model_name`, found before any run: the program
/// its command starts (node) is not on PATH, or an npm package its adapter's package.json lists is
/// not installed. The error names what fixes it (`npm ci --prefix models/adapters/yjs`) at flag or
/// file key `key`, and the CLI exits 2 on it: a missing install is bad input, not a finding. nullopt
/// when there is none, and for any other model.
std::optional<InputError> external_setup_error(const std::string& model_name, const std::string& key = "--model");

/// How an external replica reads one line of its adapter's answer (PROTOCOL.md), with no process and
/// no run: nullopt for the end marker or an action it would carry out, else the protocol error that
/// would abort the run. A state action's state is read as a `type` state, a describe action as the
/// answer to `describe`. The replicas read every line with this same code; the fuzzer calls it.
std::optional<std::string> protocol_line_error(std::string_view line, DataType type);

/// The folder of the shipped adapters: kAdapterDirEnv, else as shipped_dir() finds it.
std::string adapter_dir();

/// What the shipped adapters are (models/adapters/README.md lists them), with the protocol each speaks.
std::vector<ExternalSpec> shipped_external_specs();

/// The shipped adapters as models. Registering them starts nothing; their process starts only when
/// a run uses them.
std::vector<ModelInfo> shipped_external_models();

}  // namespace syncstorm
