// tombstone-ttl-list: the or-set-list strategy, except that every replica discards a tombstone a
// fixed time (10 s of its own local clock) after it first held it, instead of waiting until every
// replica has seen it. A client offline for longer still holds the removed item's tag; on reconnect
// it sends its state and nobody remembers the remove any more, so the item comes back.
#include "models/crdt/or_set.hpp"

namespace syncstorm {

ModelInfo tombstone_ttl_list_model() {
  orset::Options options{};
  options.collection = orset::Collection::after_ttl;
  options.ttl = Duration::seconds(10);
  return ModelInfo{
      .name = "tombstone-ttl-list",
      .description = "OR-set that drops tombstones after 10 s of local clock: a client offline longer resurrects removed items",
      .data_type = DataType::list,
      .topology = Topology::client_server,
      .rule = SupersedeRule::add_wins,
      .breaks = Invariant::resurrection,
      .make_client = [options](NodeId) { return orset::make_client(options); },
      .make_server = [options](NodeId) { return orset::make_server(options); },
      // Its metadata may grow with the writes on the server only: or-set-list's relay keeps the id
      // of every accepted and every purged tag.
      .multi_server = true,  // the or-set-list relay's servers (models/strategies/or_set_list.cpp)
      // The relay's clients hold early versions of the server's state (models/strategies/or_set_list.cpp).
      .holds_messages = true,
      .metadata_growth = MetadataGrowth::server_keeps_writes,
  };
}

}  // namespace syncstorm
