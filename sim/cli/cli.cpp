#include "sim/cli/cli.hpp"

#include <fmt/format.h>

#include "sim/cli/commands.hpp"

namespace syncstorm {

int cli_main(int argc, char** argv, const ModelRegistry& models) {
  CLI::App app{"syncstorm: deterministic simulation of real-time state-sync strategies"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "syncstorm " SYNCSTORM_VERSION);
  Action action;
  add_run_commands(app, models, action);
  add_list_command(app, models, action);
  add_check_commands(app, models, action);
  add_compare_command(app, models, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Every flag mistake is bad input: exit 2, with CLI11's message naming the flag.
    app.exit(e);
    return kExitBadInput;
  }
  return action ? action() : kExitBadInput;
}

}  // namespace syncstorm
