// External replicas: a model whose client and server nodes live in a child process (a real Yjs or
// Automerge replica in Node.js, or anything that speaks models/adapters/PROTOCOL.md). Every Node
// callback becomes one JSON line on the child's stdin; the child answers with its actions and an end
// marker. The child gets time and randomness only from the simulator, so a seed still replays a run.
// The process's I/O runs on Boost.Asio (see external.cpp); nothing of Asio shows in this header.
#pragma once

#include <optional>
#include <string>
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
};

/// A model whose nodes forward every callback to one child process per run (started lazily, shared
/// by every node of the run, ended when the run ends).
ModelInfo external_model(const ExternalSpec& spec);

/// Starts `command`, asks the adapter to describe its model, and builds an external model named
/// `external:COMMAND`. An adapter that fails to start or to answer is an input error.
Result<ModelInfo> describe_external(const std::string& command);

/// The folder of the shipped adapters: kAdapterDirEnv, else as shipped_dir() finds it.
std::string adapter_dir();

/// The shipped adapters: yjs-list, yjs-text, automerge-map, automerge-list, yjs-ws-list, yjs-ws-text. Registering them starts
/// nothing; their process starts only when a run uses them.
std::vector<ModelInfo> shipped_external_models();

}  // namespace syncstorm
