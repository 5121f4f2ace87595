// union-set-list: a state-based set of items merged by plain union, with no tombstones: a remove
// deletes the item where it is applied and leaves no trace. A replica that has not seen the remove
// (it was offline, or a server that had not yet heard of it) brings the item back on its next sync.
// It shares the or-set-list relay code with tombstones discarded at once.
#include "models/crdt/or_set.hpp"

namespace syncstorm {

ModelInfo union_set_list_model() {
  orset::Options options{};
  options.collection = orset::Collection::at_once;
  return ModelInfo{
      .name = "union-set-list",
      .description = "set merged by union without tombstones: a replica that missed a remove brings the item back",
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
