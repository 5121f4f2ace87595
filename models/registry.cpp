// Every shipped strategy, one line each. A model file defines a function returning its ModelInfo;
// registering it here is the only other change adding a model needs.
#include "models/model.hpp"

namespace syncstorm {

ModelInfo echo_model();
// models-b: list, text and event-sourced strategies.
ModelInfo or_set_list_model();
ModelInfo union_set_list_model();
ModelInfo tombstone_ttl_list_model();
ModelInfo rga_text_model();
ModelInfo event_log_list_model();
ModelInfo event_log_list_full_resync_model();

ModelRegistry shipped_models() {
  ModelRegistry registry;
  registry.add(echo_model());
  // models-b: list, text and event-sourced strategies.
  registry.add(or_set_list_model());
  registry.add(union_set_list_model());
  registry.add(tombstone_ttl_list_model());
  registry.add(rga_text_model());
  registry.add(event_log_list_model());
  registry.add(event_log_list_full_resync_model());
  return registry;
}

}  // namespace syncstorm
