// Loading scenarios from TOML. Every mistake in a file is a value naming file, line, column and key,
// turned into exit code 2 at the CLI edge: never a crash, never a silent default.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sim/base/result.hpp"
#include "sim/scenario/scenario.hpp"

namespace syncstorm {

/// Parses a scenario from TOML text; `file` names it in errors and becomes Scenario::file.
Result<Scenario> parse_scenario(std::string_view toml_text, const std::string& file);
/// Reads and parses a scenario file.
Result<Scenario> load_scenario(const std::string& path);

/// The backoff of `[backoff] preset = NAME` ("socket.io" or "grpc"), copying real client libraries'
/// defaults (see scenarios/README.md); nullopt for an unknown name.
std::optional<BackoffOptions> backoff_preset(std::string_view name);

/// Units in scenario and repro files: "500us", "40ms", "30s", "2m", "1h".
Result<Duration> parse_duration(std::string_view text);
/// "64B", "10KB", "1MB", "2GB" (powers of 1000), or a bare integer of bytes.
Result<std::uint64_t> parse_bytes(std::string_view text);

/// The folder of shipped scenarios: SYNCSTORM_SCENARIOS, else as shipped_dir() finds it.
std::string shipped_scenario_dir();
/// Every *.toml in `dir`, sorted by file name.
std::vector<std::string> scenario_files_in(const std::string& dir);

}  // namespace syncstorm
