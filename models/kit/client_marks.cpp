#include "models/kit/client_marks.hpp"

#include "models/kit/store_keys.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {

void ClientMarks::restore(Context& ctx) {
  for (const auto& [name, record] : ctx.store().scan("mark/")) {
    Reader r(record);
    const NodeId client{r.u32()};
    const std::uint8_t lane = r.u8();
    const OpId id{r.u64()};
    if (r.ok()) note(client, id, lane);
  }
}

bool ClientMarks::first_time(Context& ctx, NodeId client, OpId id, std::uint8_t lane) {
  OpId& mark = marks_[{client, lane}];
  if (id <= mark) return false;
  mark = id;
  ctx.store().put(numbered_key("mark/", (std::uint64_t{client.value} << 8) | lane),
                  Writer().u32(client.value).u8(lane).u64(id.value).take());
  return true;
}

void ClientMarks::note(NodeId client, OpId id, std::uint8_t lane) {
  OpId& mark = marks_[{client, lane}];
  if (mark < id) mark = id;
}

}  // namespace syncstorm
