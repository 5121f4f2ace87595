// `syncstorm run` and `syncstorm replay`: one run, one screen. And `syncstorm list`.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "reports/report.hpp"
#include "reports/timeline.hpp"
#include "sim/base/atomic_file.hpp"
#include "sim/cli/commands.hpp"
#include "sim/scenario/limits.hpp"
#include "sim/sweep/repro.hpp"
#include "sim/sweep/check.hpp"  // parse_exploration
#include "sim/sweep/novelty.hpp"
#include "sim/engine/simulation.hpp"

namespace syncstorm {

namespace {

struct RunArgs {
  std::string scenario;
  std::string model;
  std::uint64_t seed = 1;
  std::string trace;
  std::string diagram;  ///< replay only: write a space-time diagram SVG here
  std::string html;     ///< write the interactive timeline page of the run here
  std::string explore = "random";  ///< the exploration strategy's name (check --explore)
  std::string lineage;  ///< novelty only: the seeds the schedule was bred from, before --seed
};

void print_summary(const Scenario& scenario, const ModelInfo& model, std::uint64_t seed, const Schedule& schedule,
                   const RunResult& r, const Lineage& lineage) {
  const bool explored = schedule.explore != Exploration::random;
  const Metrics& m = r.metrics;
  fmt::print("scenario    {} ({} clients, {} servers, {} faults)\n", scenario.name, schedule.clients, schedule.servers,
             schedule.faults.size());
  fmt::print("model       {} ({}, {}, {})\n", model.name, to_string(model.data_type), to_string(model.rule),
             model.correct() ? "correct" : "buggy baseline");
  fmt::print("seed        {}\n", seed);
  if (explored) fmt::print("explore     {}\n", name_of(kExplorationNames, schedule.explore));
  fmt::print("simulated   {:.3f} s, {} events\n", static_cast<double>(m.simulated_us) / 1e6, m.events);
  fmt::print("messages    {} sent, {} delivered, {} dropped, {} duplicated, {} bytes\n", m.messages_sent,
             m.messages_delivered, m.messages_dropped, m.messages_duplicated, m.bytes_sent);
  if (m.hostile_messages > 0) fmt::print("hostile     {} of them sent by a malicious fault\n", m.hostile_messages);
  fmt::print("connections {} resets, {} connect attempts, {} established\n", m.connection_resets, m.connect_attempts,
             m.connections_established);
  fmt::print("operations  {} issued, {} applied, {} acknowledged, {} rejected, {} intents lost (client down)\n",
             m.operations, m.applied, m.acknowledged, m.rejected, m.intents_lost);
  if (m.convergence_us >= 0) {
    fmt::print("converged   {:.3f} s after the last heal\n", static_cast<double>(m.convergence_us) / 1e6);
  } else {
    fmt::print("converged   never (states still differ at the end)\n");
  }
  // No finding for a model that keeps every change by design; its size against the scenario's
  // bound is still what a team that needs the bound must see.
  if (model.metadata_growth == MetadataGrowth::keeps_every_change &&
      m.metadata_bytes_max > scenario.invariants.metadata_bytes_max) {
    fmt::print("metadata    {} bytes on the largest replica, over the scenario's bound of {}: not a finding, "
               "{} keeps every change by design\n",
               m.metadata_bytes_max, scenario.invariants.metadata_bytes_max, model.name);
  }
  if (!r.aborted.empty()) fmt::print("aborted     {}\n", r.aborted);
  fmt::print("violations  {}\n", r.violations.size());
  for (const Violation& v : r.violations) fmt::print("\n{}\n", format_violation(v, r.history));
  fmt::print("{}trace hash  {:016x}\n", r.violations.empty() ? "" : "\n", r.trace_hash);
  fmt::print("replay      {}\n", replay_command(scenario, model, seed, schedule.explore, lineage));
}

int run_once(const RunArgs& args, const ModelRegistry& models) {
  auto scenario = resolve_scenario(args.scenario);
  if (!scenario) return report_input_error(scenario.error());
  auto model = resolve_model(models, args.model);
  if (!model) return report_input_error(model.error());
  if (auto misfit = check_fit(scenario.value(), *model.value())) return report_input_error(*misfit);
  auto explore = parse_exploration(args.explore);
  if (!explore) return report_input_error(explore.error());
  Lineage lineage{args.seed};
  if (!args.lineage.empty()) {
    if (explore.value() != Exploration::novelty) {
      return report_input_error(InputError{"", 0, 0, "--lineage", "only with --explore novelty, whose schedules are bred from earlier seeds"});
    }
    auto ancestors = parse_lineage(args.lineage);
    if (!ancestors) return report_input_error(ancestors.error());
    lineage = ancestors.value();
    lineage.push_back(args.seed);
  }
  const Schedule schedule = explore.value() == Exploration::novelty
                                ? novelty_schedule(scenario.value(), *model.value(), lineage)
                                : make_schedule(scenario.value(), *model.value(), args.seed, explore.value());
  RunOutputs outputs{args.trace, args.diagram, args.html};
  if (auto error = outputs.open()) return report_input_error(*error);
  const RunResult result = run_simulation(scenario.value(), *model.value(), schedule, args.seed, outputs.options());
  if (auto error = outputs.finish(schedule, result, fmt::format("{} on {}, seed {}", model.value()->name, scenario.value().name, args.seed),
                                  // The scenario as the user named it: the page must not depend on the working directory.
                                  replay_command(args.scenario, model.value()->name, args.seed, schedule.explore, lineage))) {
    return report_input_error(*error);
  }
  print_summary(scenario.value(), *model.value(), args.seed, schedule, result, lineage);
  if (!result.aborted.empty()) return kExitViolation;
  return result.violations.empty() ? kExitOk : kExitViolation;
}

void add_run_options(CLI::App* cmd, RunArgs& args) {
  cmd->add_option("scenario", args.scenario, "scenario file, or the name of a shipped scenario")->required();
  cmd->add_option("--model,-m", args.model, "strategy to run (see `syncstorm list`)")->required();
  cmd->add_option("--seed,-s", args.seed, "run seed (decides the network, the faults and the users)")
      ->required()
      ->transform(whole_number(0, limits::kSeedMax, "limits::kSeedMax"));
  cmd->add_option("--trace", args.trace, "write every event as JSON Lines to this file");
  cmd->add_option("--explore", args.explore, "exploration strategy of the run: random (default), priority or novelty, as check --explore");
  cmd->add_option("--lineage", args.lineage, "novelty only: the seeds the run's schedule was bred from, oldest first, as check prints them");
  cmd->add_option("--html", args.html, "write an interactive timeline of the run to this HTML file");
}

}  // namespace

RunOutputs::RunOutputs(std::string trace, std::string diagram, std::string html)
    : trace_(std::move(trace)), diagram_(std::move(diagram)), html_(std::move(html)) {}

std::optional<InputError> RunOutputs::open() {
  for (const auto& [path, flag] : {std::pair{&trace_, "--trace"}, std::pair{&html_, "--html"}, std::pair{&diagram_, "--diagram"}}) {
    if (auto unwritable = check_output_folder(*path, flag)) return unwritable;
  }
  // The trace streams to a temporary file that takes its name only when whole (a long run's trace
  // is too big to hold in memory): a run killed midway leaves the old file, or none.
  if (!trace_.empty()) {
    trace_file_.emplace(trace_);
    if (!trace_file_->is_open()) return InputError{trace_, 0, 0, "--trace", "cannot open the file for writing"};
  }
  return std::nullopt;
}

RunOptions RunOutputs::options() {
  RunOptions options;
  if (trace_file_) options.trace_out = &trace_file_->stream();
  // The diagram and the timeline are drawn from the JSON Lines trace; when --trace is also given, the
  // same lines go to its file.
  if (drawn()) options.trace_out = &recorded_;
  if (!html_.empty()) options.on_send = [this](std::uint64_t id, std::string_view bytes) { payloads_.record(id, bytes); };
  return options;
}

std::optional<InputError> RunOutputs::finish(const Schedule& schedule, const RunResult& run, const std::string& title,
                                             const std::string& replay) {
  const std::string trace = drawn() ? recorded_.str() : std::string();
  if (trace_file_) {
    if (drawn()) trace_file_->stream() << trace;
    if (std::error_code ec = trace_file_->commit()) return InputError{trace_, 0, 0, "--trace", "cannot write the file: " + ec.message()};
  }
  if (!html_.empty()) {
    const TimelineRun page{title, replay, &schedule, trace, &run.violations, &run.history, &payloads_.payloads()};
    if (std::error_code ec = write_file_atomically(html_, timeline_html(page))) {
      return InputError{html_, 0, 0, "--html", "cannot write the file: " + ec.message()};
    }
  }
  if (!diagram_.empty()) {
    if (std::error_code ec = write_file_atomically(diagram_, lamport_svg(schedule, trace, run.violations, run.history, title))) {
      return InputError{diagram_, 0, 0, "--diagram", "cannot write the file: " + ec.message()};
    }
  }
  return std::nullopt;
}

void add_run_commands(CLI::App& app, const ModelRegistry& models, Action& action) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* run = app.add_subcommand("run", "run one scenario with one model and one seed; print one screen");
  add_run_options(run, *args);
  run->callback([&action, &models, args] { action = [&models, args] { return run_once(*args, models); }; });

  // `replay` takes the command `run` printed, or a repro file that `check` wrote (which carries its
  // own model and seed, so --model and --seed are not required then).
  auto replay_args = std::make_shared<RunArgs>();
  auto given = std::make_shared<std::pair<CLI::Option*, CLI::Option*>>();
  CLI::App* replay = app.add_subcommand("replay", "reproduce a run from the command `run` printed, or from a repro file");
  replay->add_option("scenario", replay_args->scenario, "scenario file or shipped scenario name, or a *.repro.toml file")->required();
  given->first = replay->add_option("--model,-m", replay_args->model,
                                    "strategy to run; with a repro file, replays its schedule against this model instead");
  given->second = replay->add_option("--seed,-s", replay_args->seed, "run seed (not with a repro file, which holds its own)")
                      ->transform(whole_number(0, limits::kSeedMax, "limits::kSeedMax"));
  replay->add_option("--trace", replay_args->trace, "write every event as JSON Lines to this file");
  replay->add_option("--diagram", replay_args->diagram, "write a space-time (Lamport) diagram of the run to this SVG file");
  replay->add_option("--html", replay_args->html, "write an interactive timeline of the run to this HTML file");
  auto explore_given = replay->add_option("--explore", replay_args->explore,
                                          "exploration strategy of the run: random (default), priority or novelty (not with a repro file)");
  auto lineage_given = replay->add_option("--lineage", replay_args->lineage,
                                          "novelty only: the seeds the run's schedule was bred from, oldest first (not with a repro file)");
  replay->callback([&action, &models, replay_args, given, explore_given, lineage_given] {
    action = [&models, replay_args, given, explore_given, lineage_given] {
      if (is_repro_path(replay_args->scenario)) {
        if (explore_given->count() > 0 || lineage_given->count() > 0) {
          const char* flag = explore_given->count() > 0 ? "--explore" : "--lineage";
          return report_input_error(InputError{replay_args->scenario, 0, 0, flag,
                                               fmt::format("a repro file holds its own strategy and schedule; replay it without {}", flag)});
        }
        if (given->second->count() > 0) {
          return report_input_error(InputError{replay_args->scenario, 0, 0, "--seed",
                                               "a repro file holds its own seed and schedule; replay it without --seed"});
        }
        RunOutputs outputs{replay_args->trace, replay_args->diagram, replay_args->html};
        return replay_repro_file(replay_args->scenario, models, outputs, replay_args->model);
      }
      if (given->first->count() == 0 || given->second->count() == 0) {
        return report_input_error(InputError{replay_args->scenario, 0, 0, "--model", "replay of a scenario needs --model and --seed"});
      }
      return run_once(*replay_args, models);
    };
  });
}

namespace {

/// One model as `list --json` prints it: its declaration, and the shipped scenarios it fits (what
/// `check` would run it on, so a script need not learn it from check's errors).
nlohmann::ordered_json model_json(const ModelInfo& m, const std::vector<Scenario>& scenarios) {
  nlohmann::ordered_json j{{"name", m.name},
                           {"data_type", to_string(m.data_type)},
                           {"correct", m.correct()},
                           {"rule", to_string(m.rule)},
                           {"topology", to_string(m.topology)},
                           {"description", m.description}};
  if (m.breaks) j["breaks"] = to_string(*m.breaks);
  if (m.external) j["external"] = true;
  if (m.datagram_links) j["datagram_links"] = true;
  if (m.multi_server) j["multi_server"] = true;
  if (m.writes_follow_reads != OrderPromise::not_promised) j["writes_follow_reads"] = to_string(m.writes_follow_reads);
  if (m.writes_in_order != OrderPromise::not_promised) j["writes_in_order"] = to_string(m.writes_in_order);
  if (m.metadata_growth != MetadataGrowth::with_state) j["metadata_growth"] = to_string(m.metadata_growth);
  if (m.bug_suite) j["bug_suite"] = true;
  j["fits"] = nlohmann::ordered_json::array();
  for (const Scenario& s : scenarios) {
    if (fits(s, m)) j["fits"].push_back(s.name);
  }
  return j;
}

/// `list --model M`: one model's whole declaration, every shipped scenario it fits, and why it does
/// not fit each of the others (what `check` would say), for a user checking what an adapter declares.
void print_model_declaration(const ModelInfo& m, const std::vector<Scenario>& scenarios) {
  const auto promise = [](OrderPromise p) { return p == OrderPromise::not_promised ? std::string("not promised") : std::string(to_string(p)); };
  fmt::print("model {}{}\n", m.name, m.external ? " [external process]" : "");
  fmt::print("  description          {}\n", m.description);
  fmt::print("  data type            {}\n", to_string(m.data_type));
  fmt::print("  rule                 {}\n", to_string(m.rule));
  fmt::print("  topology             {}\n", to_string(m.topology));
  fmt::print("  verdict expected     {}\n", m.breaks ? fmt::format("buggy: breaks {}", to_string(*m.breaks)) : std::string("correct"));
  fmt::print("  writes follow reads  {}\n", promise(m.writes_follow_reads));
  fmt::print("  writes in order      {}\n", promise(m.writes_in_order));
  fmt::print("  metadata growth      {}\n", to_string(m.metadata_growth));
  if (m.topology == Topology::peer_to_peer) {
    fmt::print("  links                peer to peer, datagrams (no server)\n");
  } else {
    fmt::print("  datagram links       {}\n", m.datagram_links ? "yes" : "no (streams only)");
    fmt::print("  several servers      {}\n", m.multi_server ? "yes (its servers replicate)" : "no (one server)");
  }
  std::vector<std::string> fitting;
  std::vector<std::pair<std::string, std::string>> misfits;
  for (const Scenario& s : scenarios) {
    if (auto why = check_fit(s, m)) misfits.emplace_back(s.name, why->message);
    else fitting.push_back(s.name);
  }
  fmt::print("  {:<20} {}\n", fmt::format("fits ({})", fitting.size()),
             fitting.empty() ? std::string("no shipped scenario") : fmt::format("{}", fmt::join(fitting, ", ")));
  if (!misfits.empty()) fmt::print("  does not fit ({}):\n", misfits.size());
  for (const auto& [name, why] : misfits) fmt::print("    {:<28} {}\n", name, why);
}

}  // namespace

void add_list_command(CLI::App& app, const ModelRegistry& models, Action& action) {
  auto json = std::make_shared<bool>(false);
  auto named = std::make_shared<std::vector<std::string>>();
  CLI::App* list = app.add_subcommand("list", "list models, scenarios, fault kinds, invariants and supersede rules");
  list->add_flag("--json", *json, "print JSON for scripts and CI");
  list->add_option("--model,-m", *named,
                   "only this model (repeatable; a shipped name or external:COMMAND, whose adapter is started to "
                   "describe itself): its whole declaration and the shipped scenarios it fits, or why not");
  list->callback([&action, &models, json, named] {
    action = [&models, json, named]() -> int {
      auto scenarios = shipped_scenarios();
      if (!scenarios) return report_input_error(scenarios.error());
      std::vector<const ModelInfo*> listed;
      for (const std::string& name : *named) {
        auto m = resolve_model(models, name);
        if (!m) return report_input_error(m.error());
        listed.push_back(m.value());
      }
      if (named->empty()) {
        for (const ModelInfo& m : models.all()) listed.push_back(&m);
      }
      nlohmann::ordered_json out;
      out["models"] = nlohmann::ordered_json::array();
      for (const ModelInfo* m : listed) out["models"].push_back(model_json(*m, scenarios.value()));
      out["scenarios"] = nlohmann::ordered_json::array();
      for (const Scenario& s : scenarios.value()) {
        out["scenarios"].push_back({{"name", s.name},
                                    {"file", s.file},
                                    {"data_type", s.data_type ? std::string(to_string(*s.data_type)) : "any"},
                                    {"description", s.description}});
      }
      out["fault_kinds"] = nlohmann::ordered_json::array();
      for (FaultKind k : kAllFaultKinds) out["fault_kinds"].push_back({{"name", to_string(k)}, {"description", describe(k)}});
      out["invariants"] = nlohmann::ordered_json::array();
      for (Invariant i : kAllInvariants) out["invariants"].push_back({{"name", to_string(i)}, {"description", describe(i)}});
      out["supersede_rules"] = nlohmann::ordered_json::array();
      for (SupersedeRule r : kAllSupersedeRules) out["supersede_rules"].push_back({{"name", to_string(r)}, {"description", describe(r)}});
      if (*json) {
        fmt::print("{}\n", out.dump(2));
        return kExitOk;
      }
      if (!named->empty()) {
        for (std::size_t i = 0; i < listed.size(); ++i) {
          if (i > 0) fmt::print("\n");
          print_model_declaration(*listed[i], scenarios.value());
        }
        return kExitOk;
      }
      // The bug suite goes under a heading of its own, after the shipped models.
      auto print_models = [&](bool bug_suite) {
        for (const auto& m : out["models"]) {
          if (m.contains("bug_suite") != bug_suite) continue;
          fmt::print("  {:<30} {:<8} {:<8} {}{}{}\n", m["name"].get<std::string>(), m["data_type"].get<std::string>(),
                   m["correct"].get<bool>() ? "correct" : "buggy", m["description"].get<std::string>(),
                   m.contains("breaks") ? fmt::format(" [breaks {}]", m["breaks"].get<std::string>()) : "",
                   m.contains("external") ? " [external process]" : "");
        }
      };
      fmt::print("models:\n");
      print_models(false);
      fmt::print("bug suite:\n");  // buggy on purpose; no command runs them by default
      print_models(true);
      fmt::print("scenarios:\n");
      for (const auto& s : out["scenarios"]) {
        fmt::print("  {:<30} {:<8} {}\n", s["name"].get<std::string>(), s["data_type"].get<std::string>(),
                   s["description"].get<std::string>());
      }
      fmt::print("fault kinds:\n");
      for (const auto& k : out["fault_kinds"]) {
        fmt::print("  {:<30} {}\n", k["name"].get<std::string>(), k["description"].get<std::string>());
      }
      fmt::print("invariants:\n");
      for (const auto& i : out["invariants"]) {
        fmt::print("  {:<30} {}\n", i["name"].get<std::string>(), i["description"].get<std::string>());
      }
      fmt::print("supersede rules (a model declares one; the checkers judge by it):\n");
      for (const auto& r : out["supersede_rules"]) {
        fmt::print("  {:<30} {}\n", r["name"].get<std::string>(), r["description"].get<std::string>());
      }
      return kExitOk;
    };
  });
}

}  // namespace syncstorm
