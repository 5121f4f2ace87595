// The syncstorm command line: run, replay, list, check, compare, merge.
#pragma once

#include "models/model.hpp"

namespace syncstorm {

/// Runs the CLI over `models`. Exit codes: 0 every invariant holds, 1 a violation, 2 bad input.
int cli_main(int argc, char** argv, const ModelRegistry& models);

}  // namespace syncstorm
