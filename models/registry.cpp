// Every shipped strategy, one line each. A model file defines a function returning its ModelInfo;
// registering it here is the only other change adding a model needs.
#include "models/model.hpp"

namespace syncstorm {

ModelInfo echo_model();

ModelRegistry shipped_models() {
  ModelRegistry registry;
  registry.add(echo_model());
  return registry;
}

}  // namespace syncstorm
