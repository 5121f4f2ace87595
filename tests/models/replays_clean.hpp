// A repro file shrunk from a failure of a model declared correct, replayed on the shipped model:
// once the model is fixed, every check must hold on the same explicit schedule.
#pragma once

#include <string>

#include <catch2/catch.hpp>

#include "models/model.hpp"
#include "sim/checkers/invariants.hpp"
#include "sim/sweep/check.hpp"
#include "sim/sweep/repro.hpp"
#include "tests/printers.hpp"
#include "tests/source_tree.hpp"

namespace syncstorm::testing {

/// Replays tests/models/repros/`file`, recorded as a failure of `invariant` on an earlier `model`.
inline void replays_clean(const std::string& model, const std::string& file, const std::string& invariant) {
  auto repro = load_repro(source_path("tests/models/repros/" + file));
  INFO((repro ? std::string() : repro.error().message));
  REQUIRE(repro.ok());
  CHECK(repro.value().invariant == invariant);
  CHECK(repro.value().model == model);
  const ModelRegistry registry = shipped_models();
  const RunResult r = replay_repro(repro.value(), *registry.find(model));
  REQUIRE(r.aborted.empty());
  for (const Violation& v : r.violations) FAIL_CHECK(to_string(v.invariant) << ": " << v.detail);
}

}  // namespace syncstorm::testing
