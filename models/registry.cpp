// Every shipped strategy, one line each. A model file defines a function returning its ModelInfo;
// registering it here is the only other change adding a model needs.
#include "models/external.hpp"
#include "models/model.hpp"

namespace syncstorm {

ModelInfo echo_model();

ModelRegistry shipped_models() {
  ModelRegistry registry;
  registry.add(echo_model());
  // Real libraries in a child process (models/adapters/): registered by name, started only when used.
  for (ModelInfo& external : shipped_external_models()) registry.add(std::move(external));
  return registry;
}

}  // namespace syncstorm
