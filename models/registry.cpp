// Every shipped strategy, one line each. A model file defines a function returning its ModelInfo;
// registering it here is the only other change adding a model needs.
#include "models/external/external.hpp"
#include "models/model.hpp"

namespace syncstorm {

ModelInfo echo_model();
// Map, counter and server-authoritative strategies.
ModelInfo lww_map_model();
ModelInfo lww_map_wallclock_model();
ModelInfo pn_counter_model();
ModelInfo counter_no_dedup_model();
ModelInfo server_authoritative_model();
ModelInfo server_authoritative_silent_model();
ModelInfo replace_all_model();
// List, text and event-sourced strategies.
ModelInfo or_set_list_model();
ModelInfo union_set_list_model();
ModelInfo tombstone_ttl_list_model();
ModelInfo rga_text_model();
ModelInfo index_text_model();
ModelInfo event_log_list_model();
ModelInfo event_log_list_full_resync_model();
ModelInfo event_log_list_fire_and_forget_model();
ModelInfo event_log_list_undo_window_model();
// Article models: the systems and pitfalls of the real-time state article.
ModelInfo outbox_map_model();
ModelInfo outbox_map_memory_model();
ModelInfo outbox_map_newest_first_model();
ModelInfo outbox_map_rebuilding_server_model();
ModelInfo outbox_map_no_rebase_model();
ModelInfo outbox_map_subscribe_first_model();
ModelInfo outbox_map_field_shards_model();
ModelInfo eventstore_map_model();
ModelInfo eventstore_map_full_resync_model();
ModelInfo eventstore_map_unbounded_model();
ModelInfo broker_map_model();
ModelInfo broker_map_at_most_once_model();
ModelInfo guarded_map_model();
ModelInfo guarded_map_trusting_model();
ModelInfo undo_map_model();
ModelInfo undo_map_snapshot_model();
ModelInfo p2p_lww_map_model();
ModelInfo p2p_lww_map_no_gossip_model();
ModelInfo refetch_map_model();
ModelInfo refetch_map_read_replicas_model();
ModelInfo hybrid_dashboard_model();
ModelInfo versioned_map_model();
ModelInfo versioned_map_no_upcast_model();
ModelInfo siblings_map_model();
// The bug suite (models/bugs/): subtle buggy strategies, targets for benchmarks of bug finding.
ModelInfo ack_before_fsync_map_model();
ModelInfo reused_mutation_id_map_model();
ModelInfo resend_skips_inflight_map_model();
ModelInfo restored_not_resent_map_model();
ModelInfo global_watermark_map_model();
ModelInfo newest_id_wins_map_model();
ModelInfo volatile_marks_map_model();
ModelInfo mark_before_apply_map_model();
ModelInfo snapshot_replay_counter_model();
ModelInfo dedup_ttl_counter_model();
ModelInfo volatile_dedup_counter_model();
ModelInfo ring_dedup_counter_model();
ModelInfo count_acked_counter_model();

ModelRegistry shipped_models() {
  ModelRegistry registry;
  registry.add(echo_model());
  // Map, counter and server-authoritative strategies.
  registry.add(lww_map_model());
  registry.add(lww_map_wallclock_model());
  registry.add(pn_counter_model());
  registry.add(counter_no_dedup_model());
  registry.add(server_authoritative_model());
  registry.add(server_authoritative_silent_model());
  registry.add(replace_all_model());
  // List, text and event-sourced strategies.
  registry.add(or_set_list_model());
  registry.add(union_set_list_model());
  registry.add(tombstone_ttl_list_model());
  registry.add(rga_text_model());
  registry.add(index_text_model());
  registry.add(event_log_list_model());
  registry.add(event_log_list_full_resync_model());
  registry.add(event_log_list_fire_and_forget_model());
  registry.add(event_log_list_undo_window_model());
  // Article models.
  registry.add(outbox_map_model());
  registry.add(outbox_map_memory_model());
  registry.add(outbox_map_newest_first_model());
  registry.add(outbox_map_rebuilding_server_model());
  registry.add(outbox_map_no_rebase_model());
  registry.add(outbox_map_subscribe_first_model());
  registry.add(outbox_map_field_shards_model());
  registry.add(eventstore_map_model());
  registry.add(eventstore_map_full_resync_model());
  registry.add(eventstore_map_unbounded_model());
  registry.add(broker_map_model());
  registry.add(broker_map_at_most_once_model());
  registry.add(guarded_map_model());
  registry.add(guarded_map_trusting_model());
  registry.add(undo_map_model());
  registry.add(undo_map_snapshot_model());
  registry.add(p2p_lww_map_model());
  registry.add(p2p_lww_map_no_gossip_model());
  registry.add(refetch_map_model());
  registry.add(refetch_map_read_replicas_model());
  registry.add(hybrid_dashboard_model());
  registry.add(versioned_map_model());
  registry.add(versioned_map_no_upcast_model());
  registry.add(siblings_map_model());
  // The bug suite (models/bugs/): listed apart, run by default by no command (ModelInfo::bug_suite).
  registry.add(ack_before_fsync_map_model());
  registry.add(reused_mutation_id_map_model());
  registry.add(resend_skips_inflight_map_model());
  registry.add(restored_not_resent_map_model());
  registry.add(global_watermark_map_model());
  registry.add(newest_id_wins_map_model());
  registry.add(volatile_marks_map_model());
  registry.add(mark_before_apply_map_model());
  registry.add(snapshot_replay_counter_model());
  registry.add(dedup_ttl_counter_model());
  registry.add(volatile_dedup_counter_model());
  registry.add(ring_dedup_counter_model());
  registry.add(count_acked_counter_model());
  // Real libraries in a child process (models/adapters/): registered by name, started only when used.
  for (ModelInfo& external : shipped_external_models()) registry.add(std::move(external));
  return registry;
}

}  // namespace syncstorm
