// The syncstorm command: the shipped models handed to the CLI. A user's own binary does the same
// with its own models added (see models/README.md).
#include "models/model.hpp"
#include "sim/cli/cli.hpp"

int main(int argc, char** argv) { return syncstorm::cli_main(argc, argv, syncstorm::shipped_models()); }
