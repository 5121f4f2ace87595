#include "sim/cli/commands.hpp"

#include "models/external/external.hpp"

#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>

namespace syncstorm {

Result<Scenario> resolve_scenario(const std::string& argument) {
  namespace fs = std::filesystem;
  if (argument.find('/') == std::string::npos && !argument.ends_with(".toml")) {
    const fs::path shipped = fs::path(shipped_scenario_dir()) / (argument + ".toml");
    if (fs::exists(shipped)) return load_scenario(shipped.string());
    if (!fs::exists(argument)) {
      std::string names;
      for (const std::string& file : scenario_files_in(shipped_scenario_dir())) {
        names += (names.empty() ? "" : ", ") + fs::path(file).stem().string();
      }
      return InputError{argument, 0, 0, "", fmt::format("no such scenario file or shipped scenario (shipped: {})", names)};
    }
  }
  return load_scenario(argument);
}

Result<std::vector<Scenario>> shipped_scenarios() {
  std::vector<Scenario> out;
  for (const std::string& file : scenario_files_in(shipped_scenario_dir())) {
    auto s = load_scenario(file);
    if (!s) return s.error();
    out.push_back(std::move(s.value()));
  }
  return out;
}

Result<const ModelInfo*> resolve_model(const ModelRegistry& models, const std::string& name, const std::string& key) {
  if (const ModelInfo* m = models.find(name)) {
    // A shipped adapter that cannot start here is a set-up problem (exit 2), not a failing run.
    if (auto setup = m->external ? external_setup_error(name, key) : std::nullopt) return *setup;
    return m;
  }
  if (name.starts_with(kExternalPrefix)) {
    auto external = describe_external(name.substr(kExternalPrefix.size()));
    if (!external) return external.error();
    return models.keep(std::move(external.value()));
  }
  std::string names;
  for (const ModelInfo& m : models.all()) names += (names.empty() ? "" : ", ") + m.name;
  return InputError{"", 0, 0, key, fmt::format("unknown model '{}' (known: {}; or external:COMMAND to run an adapter)", name, names)};
}

std::optional<InputError> check_fit(const Scenario& scenario, const ModelInfo& model) {
  if (fits(scenario, model)) return std::nullopt;
  if (scenario.data_type && *scenario.data_type != model.data_type) {
    return InputError{scenario.file, 0, 0, "data_type",
                      fmt::format("scenario '{}' pins data type {}, but model '{}' shares a {}", scenario.name,
                                  to_string(*scenario.data_type), model.name, to_string(model.data_type))};
  }
  if (!scenario.models.empty() &&
      std::find(scenario.models.begin(), scenario.models.end(), model.name) == scenario.models.end()) {
    std::string names;
    for (const std::string& m : scenario.models) names += (names.empty() ? "" : ", ") + m;
    return InputError{scenario.file, 0, 0, "models",
                      fmt::format("scenario '{}' is about the models {}; '{}' is not one of them", scenario.name, names,
                                  model.name)};
  }
  if (model.topology == Topology::client_server && scenario.servers == 0) {
    return InputError{scenario.file, 0, 0, "servers",
                      fmt::format("model '{}' needs at least one server, scenario '{}' has none", model.name, scenario.name)};
  }
  // Where the declaration lives: an external adapter makes it itself, in its describe answer.
  const auto declared_by = [&](std::string_view key, std::string_view whose) {
    if (model.external) {
      return fmt::format("an adapter whose {} says \"{}\": true in its describe answer (models/adapters/PROTOCOL.md, "
                         "\"Deployments\")", whose, key);
    }
    return fmt::format("models whose {}: `syncstorm list --json`, \"{}\"", whose, key);
  };
  if (model.topology == Topology::client_server && scenario.servers > 1 && !model.multi_server) {
    return InputError{scenario.file, 0, 0, "servers",
                      fmt::format("model '{}' was written around one server; scenario '{}' has {} ({})", model.name,
                                  scenario.name, scenario.servers,
                                  declared_by("multi_server", "servers replicate to one another"))};
  }
  if (scenario.network.client_link == LinkKind::datagram && !model.datagram_links) {
    return InputError{scenario.file, 0, 0, "link",
                      fmt::format("model '{}' was written for stream (WebSocket) links; scenario '{}' sets link = "
                                  "\"datagram\" ({})",
                                  model.name, scenario.name, declared_by("datagram_links", "messages survive datagram links"))};
  }
  // fits() has no other reason left: a listed fault acts on no link of this run.
  const std::optional<std::size_t> inert = inert_fault(scenario, model);
  assert(inert && "check_fit: a misfit with no reason");
  const std::size_t i = inert.value_or(0);
  const FaultSpec& f = scenario.faults.at(i);
  const bool wants_datagrams = f.kind == FaultKind::drop || f.kind == FaultKind::duplicate || f.kind == FaultKind::reorder;
  if (model.topology == Topology::peer_to_peer && !wants_datagrams && scenario.servers > 0) {
    return InputError{scenario.file, f.line, 1, fmt::format("fault[{}].kind", i),
                      fmt::format("model '{}' is peer to peer: its servers only introduce peers and carry none of its "
                                  "data, so a {} fault {} would do nothing to it",
                                  model.name, to_string(f.kind),
                                  targets_servers_only(f) ? fmt::format("on {}", to_string(f.target))
                                                          : std::string("on clients' connections to servers"))};
  }
  if (f.kind == FaultKind::reset) {
    return InputError{scenario.file, f.line, 1, fmt::format("fault[{}].kind", i),
                      fmt::format("a reset fault acts on clients' connections to servers, and scenario '{}' has no "
                                  "servers (only a peer-to-peer model's datagrams between peers are reset without one): it "
                                  "would do nothing",
                                  scenario.name)};
  }
  return InputError{scenario.file, f.line, 1, fmt::format("fault[{}].kind", i),
                    wants_datagrams
                        ? fmt::format("a {} fault acts on datagram links, and a run of model '{}' on scenario '{}' has "
                                      "none (its clients' link is \"stream\"): it would do nothing",
                                      to_string(f.kind), model.name, scenario.name)
                        : fmt::format("a {} fault acts on clients' stream connections, and a run of model '{}' on "
                                      "scenario '{}' has none ({}): it would do nothing",
                                      to_string(f.kind), model.name, scenario.name,
                                      scenario.servers == 0 ? "no servers" : "link = \"datagram\"")};
}

CLI::Validator whole_number(std::uint64_t lo, std::uint64_t hi, std::string limit) {
  const auto check = [lo, hi, limit](std::string& input) -> std::string {
    const bool digits = !input.empty() && std::all_of(input.begin(), input.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) return fmt::format("expected a whole number from {} to {}, got \"{}\"", lo, hi, input);
    input.erase(0, std::min(input.find_first_not_of('0'), input.size() - 1));  // "010" is ten, not octal eight
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(input.data(), input.data() + input.size(), value);
    if (ec != std::errc() || end != input.data() + input.size() || value < lo || value > hi) {
      return fmt::format("{} is out of range: expected {} to {}{}", input, lo, hi, limit.empty() ? "" : " (" + limit + ")");
    }
    return {};
  };
  return CLI::Validator(check, fmt::format("INT in [{} - {}]", lo, hi));
}

CLI::Validator file_name(std::string hint) {
  const auto check = [hint](const std::string& input) -> std::string {
    if (!input.empty()) return {};
    return hint.empty() ? "expected a file name, got an empty one" : "expected a file name, got an empty one (" + hint + ")";
  };
  return CLI::Validator(check, "FILE");
}

namespace {

/// Why `folder` cannot take new files, or nothing.
std::optional<std::string> unwritable(const std::filesystem::path& folder) {
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) return fmt::format("the folder '{}' does not exist", folder.string());
  if (::access(folder.c_str(), W_OK) != 0) return fmt::format("cannot write in the folder '{}': {}", folder.string(), std::strerror(errno));
  return std::nullopt;
}

}  // namespace

std::optional<InputError> check_output_folder(const std::string& path, const char* flag) {
  if (path.empty()) return std::nullopt;
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return InputError{path, 0, 0, flag, "is a folder: name a file in it"};
  const fs::path parent = fs::path(path).parent_path();
  if (auto why = unwritable(parent.empty() ? fs::path(".") : parent)) return InputError{path, 0, 0, flag, *why};
  return std::nullopt;
}

std::optional<InputError> make_output_folder(const std::string& path, const char* flag) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return InputError{path, 0, 0, flag, "cannot make the folder: " + ec.message()};
  if (auto why = unwritable(path)) return InputError{path, 0, 0, flag, *why};
  return std::nullopt;
}

int report_input_error(const InputError& error) {
  fmt::print(stderr, "syncstorm: error: {}\n", error.to_string());
  return kExitBadInput;
}

}  // namespace syncstorm
