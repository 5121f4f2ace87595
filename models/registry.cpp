// Every shipped strategy, one line each. A model file defines a function returning its ModelInfo;
// registering it here is the only other change adding a model needs.
#include "models/model.hpp"

namespace syncstorm {

ModelInfo echo_model();
// models-a: map, counter and server-authoritative strategies.
ModelInfo lww_map_model();
ModelInfo lww_map_wallclock_model();
ModelInfo pn_counter_model();
ModelInfo counter_no_dedup_model();
ModelInfo server_authoritative_model();
ModelInfo server_authoritative_silent_model();
ModelInfo replace_all_model();
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
  // models-a
  registry.add(lww_map_model());
  registry.add(lww_map_wallclock_model());
  registry.add(pn_counter_model());
  registry.add(counter_no_dedup_model());
  registry.add(server_authoritative_model());
  registry.add(server_authoritative_silent_model());
  registry.add(replace_all_model());
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
