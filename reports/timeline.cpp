// The interactive timeline page of one run: the run as JSON (lanes, messages, marks, faults,
// violations) embedded in a fixed page whose inline script draws and explores it.
#include "reports/timeline.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "reports/report.hpp"
#include "reports/story.hpp"

namespace syncstorm {

namespace {

using Json = nlohmann::ordered_json;

/// One trace line, as the failure diagrams read it.
using Event = story::TraceLine;

/// Bookkeeping events that show nothing a user saw or a message that travelled.
bool embedded_kind(std::string_view kind) { return kind != "timer" && kind != "digest"; }

/// The trace's events, less the bookkeeping ones.
std::vector<Event> parse_trace(std::string_view jsonl) {
  std::vector<Event> events = story::parse_trace(jsonl);
  std::erase_if(events, [](const Event& e) { return !embedded_kind(e.kind); });
  return events;
}

std::string node_name(const Schedule& s, std::uint32_t node) {
  return s.is_server(NodeId{node}) ? fmt::format("server {}", node) : fmt::format("client {}", node - s.servers);
}

/// The issuing client of an operation id, if the schedule has it.
const Operation* operation(const Schedule& s, std::uint64_t op) {
  return op >= 1 && op <= s.operations.size() ? &s.operations[op - 1] : nullptr;
}

/// Servers, the clients the violations name, then the other clients in order, up to the limit.
std::set<std::uint32_t> choose_lanes(const TimelineRun& run, std::size_t lanes_max) {
  const Schedule& s = *run.schedule;
  std::set<std::uint32_t> lanes;
  for (std::uint32_t i = 0; i < s.servers && lanes.size() < lanes_max; ++i) lanes.insert(i);
  for (const Violation& v : *run.violations) {
    for (const Involved& i : v.involved) {
      if (const Operation* op = operation(s, i.op.value); op != nullptr && lanes.size() < lanes_max) {
        lanes.insert(op->client.value);
      }
    }
  }
  for (std::uint32_t i = 0; i < s.clients && lanes.size() < lanes_max; ++i) lanes.insert(s.client(i).value);
  return lanes;
}

Json lanes_json(const Schedule& s, const std::set<std::uint32_t>& lanes) {
  Json out = Json::array();
  for (std::uint32_t node : lanes) {
    out.push_back({{"node", node}, {"name", node_name(s, node)}, {"server", s.is_server(NodeId{node})}});
  }
  return out;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

/// Messages from their send to their first delivery or their drop; a duplicate's second delivery
/// is counted on the message. A message the embedded events do not see arrive has no end.
Json messages_json(const std::vector<Event>& events, const std::map<std::uint64_t, std::string>* payloads,
                   std::size_t payload_bytes_max) {
  std::map<std::uint64_t, Json> messages;  // by id: sends come in id order, so this is send order
  bool hostile = false;  // a hostile event announces the send that follows it
  for (const Event& e : events) {
    if (e.kind == "hostile") hostile = true;
    if (e.kind == "send") {
      Json m{{"id", e.a}, {"from", e.node}, {"to", e.peer}, {"sent", e.t}, {"at", nullptr}, {"fate", "in flight"},
             {"bytes", e.b}};
      if (hostile) m["hostile"] = true;
      hostile = false;
      if (payloads != nullptr) {
        if (auto it = payloads->find(e.a); it != payloads->end()) {
          m["hex"] = hex(std::string_view(it->second).substr(0, payload_bytes_max));
          m["cut"] = e.b > std::min(it->second.size(), payload_bytes_max);
        }
      }
      messages.emplace(e.a, std::move(m));
      continue;
    }
    auto it = messages.find(e.a);
    if (it == messages.end()) continue;
    Json& m = it->second;
    if (e.kind == "duplicate") m["duplicated"] = true;
    if ((e.kind == "deliver" || e.kind == "drop") && m["at"].is_null()) {
      m["at"] = e.t;
      m["fate"] = e.kind == "deliver" ? "delivered" : "dropped";
    }
  }
  Json out = Json::array();
  for (auto& [id, m] : messages) out.push_back(std::move(m));
  return out;
}

/// Point events: operations and their outcome, connections, crashes and restarts.
Json marks_json(const std::vector<Event>& events) {
  Json out = Json::array();
  for (const Event& e : events) {
    if (e.kind == "send" || e.kind == "deliver" || e.kind == "drop" || e.kind == "duplicate" || e.kind == "hostile" ||
        e.kind == "fault_start" || e.kind == "fault_end") {
      continue;
    }
    Json m{{"t", e.t}, {"node", e.node}, {"kind", e.kind}};
    if (e.kind == "operation" || e.kind == "intent_lost" || e.kind == "applied" || e.kind == "acknowledged" ||
        e.kind == "rejected") {
      m["op"] = e.a;
    }
    if (e.kind == "operation" || e.kind == "intent_lost") m["what"] = to_string(static_cast<OpKind>(e.b));
    if (e.kind == "applied" || e.kind == "acknowledged" || e.kind == "rejected") m["target"] = e.b;
    if (e.kind == "reset" || e.kind == "connected" || e.kind == "connect_failed" || e.kind == "connect_attempt") {
      m["peer"] = e.peer;
    }
    out.push_back(std::move(m));
  }
  return out;
}

/// Scheduled faults on the lanes of their targets, and crashes from the trace with their real
/// restart (a crashed node restarts when its fault says, or never).
Json faults_json(const Schedule& s, const std::vector<Event>& events, std::int64_t end_us) {
  Json out = Json::array();
  for (const ScheduledFault& f : s.faults) {
    if (f.kind == FaultKind::crash) continue;
    for (NodeId n : f.side_a) {
      out.push_back({{"kind", to_string(f.kind)}, {"node", n.value}, {"from", f.start.us}, {"to", f.end().us}});
    }
  }
  std::map<std::uint32_t, std::int64_t> down_since;
  for (const Event& e : events) {
    if (e.kind == "crash") down_since[e.node] = e.t;
    if (e.kind == "restart" && down_since.count(e.node) > 0) {
      out.push_back({{"kind", "crashed"}, {"node", e.node}, {"from", down_since[e.node]}, {"to", e.t}});
      down_since.erase(e.node);
    }
  }
  for (const auto& [node, since] : down_since) out.push_back({{"kind", "crashed"}, {"node", node}, {"from", since}, {"to", end_us}});
  return out;
}

Json violations_json(const TimelineRun& run) {
  Json out = Json::array();
  for (const Violation& v : *run.violations) {
    Json ops = Json::array();
    for (const Involved& i : v.involved) {
      Json o{{"op", i.op.value}, {"role", i.role}};
      if (const Operation* op = operation(*run.schedule, i.op.value)) {
        o["node"] = op->client.value;
        o["t"] = op->issued_at.us;
      }
      ops.push_back(std::move(o));
    }
    out.push_back({{"invariant", to_string(v.invariant)}, {"subject", v.subject}, {"expected", v.expected},
                   {"observed", v.observed}, {"detail", v.detail},
                   {"report", run.history != nullptr ? format_violation(v, *run.history) : std::string()}, {"ops", ops}});
  }
  return out;
}

/// Drops events at nodes without a lane (and messages with an end without one), then keeps the first
/// `events_max`.
std::vector<Event> shown_events(std::vector<Event> events, const std::set<std::uint32_t>& lanes, std::size_t events_max) {
  std::erase_if(events, [&](const Event& e) {
    const bool message = e.kind == "send" || e.kind == "deliver" || e.kind == "drop" || e.kind == "duplicate";
    return lanes.count(e.node) == 0 || (message && lanes.count(e.peer) == 0);
  });
  if (events.size() > events_max) events.resize(events_max);
  return events;
}

}  // namespace

std::string timeline_json(const TimelineRun& run, const TimelineLimits& limits) {
  const Schedule& s = *run.schedule;
  const std::vector<Event> all = parse_trace(run.trace_jsonl);
  const std::set<std::uint32_t> lanes = choose_lanes(run, limits.lanes_max);
  const std::vector<Event> events = shown_events(all, lanes, limits.events_max);
  std::int64_t end_us = std::max<std::int64_t>(1, s.end().us);
  for (const Event& e : all) end_us = std::max(end_us, e.t);
  Json j;
  j["title"] = run.title;
  j["replay"] = run.replay;
  j["end_us"] = end_us;
  j["nodes"] = s.node_count();
  j["events_total"] = all.size();
  j["events_embedded"] = events.size();
  j["events_max"] = limits.events_max;
  // Where the page stops when the cap cut the run: the time of the last embedded event.
  j["cut_at_us"] = events.size() < all.size() && !events.empty() ? Json(events.back().t) : Json(nullptr);
  j["lanes"] = lanes_json(s, lanes);
  j["faults"] = faults_json(s, events, end_us);
  j["messages"] = messages_json(events, run.payloads, limits.payload_bytes_max);
  j["marks"] = marks_json(events);
  j["violations"] = violations_json(run);
  return j.dump();
}

}  // namespace syncstorm
