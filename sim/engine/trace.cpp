#include "sim/engine/trace.hpp"

#include <fmt/format.h>

namespace syncstorm {

std::string_view to_string(TraceKind kind) {
  switch (kind) {
    case TraceKind::send: return "send";
    case TraceKind::deliver: return "deliver";
    case TraceKind::drop: return "drop";
    case TraceKind::duplicate: return "duplicate";
    case TraceKind::reset: return "reset";
    case TraceKind::connect_attempt: return "connect_attempt";
    case TraceKind::connected: return "connected";
    case TraceKind::connect_failed: return "connect_failed";
    case TraceKind::crash: return "crash";
    case TraceKind::restart: return "restart";
    case TraceKind::operation: return "operation";
    case TraceKind::applied: return "applied";
    case TraceKind::acknowledged: return "acknowledged";
    case TraceKind::rejected: return "rejected";
    case TraceKind::timer: return "timer";
    case TraceKind::fault_start: return "fault_start";
    case TraceKind::fault_end: return "fault_end";
    case TraceKind::digest: return "digest";
    case TraceKind::intent_lost: return "intent_lost";
    case TraceKind::hostile: return "hostile";
  }
  return "?";
}

std::string to_json(const TraceEvent& e) {
  // Field names per kind, so a reader of the JSON Lines needs no legend.
  const char* a = "a";
  const char* b = "b";
  switch (e.kind) {
    case TraceKind::send:
    case TraceKind::deliver:
    case TraceKind::drop:
    case TraceKind::duplicate: a = "msg"; b = "bytes"; break;
    case TraceKind::reset:
    case TraceKind::connect_failed: a = "epoch"; b = "reason"; break;
    case TraceKind::connect_attempt: a = "token"; b = "attempt"; break;
    case TraceKind::connected: a = "epoch"; b = "attempt"; break;
    case TraceKind::crash:
    case TraceKind::restart: a = "incarnation"; b = "persistent"; break;
    case TraceKind::operation:
    case TraceKind::intent_lost: a = "op"; b = "kind"; break;
    case TraceKind::applied:
    case TraceKind::acknowledged:
    case TraceKind::rejected: a = "op"; b = "target"; break;
    case TraceKind::timer: a = "tag"; b = "incarnation"; break;
    case TraceKind::fault_start:
    case TraceKind::fault_end: a = "fault"; b = "kind"; break;
    case TraceKind::digest: a = "digest"; b = "metadata"; break;
    case TraceKind::hostile: a = "hostile_kind"; b = "bytes"; break;
  }
  return fmt::format(R"({{"t":{},"ev":"{}","node":{},"peer":{},"{}":{},"{}":{}}})", e.at.us, to_string(e.kind), e.node,
                     e.peer, a, e.a, b, e.b);
}

}  // namespace syncstorm
