#include "sim/cli.hpp"

#include <fmt/format.h>

namespace syncstorm {

// Replaced by the real command line as the engine lands.
int cli_main(int, char**, const ModelRegistry&) {
  fmt::print(stderr, "syncstorm: the command line is being built\n");
  return 2;
}

}  // namespace syncstorm
