// The space-time (Lamport) diagram of one run, drawn from its JSON Lines trace and its schedule:
// one lane per node, time left to right, a message as an arrow from its send to its delivery.
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "reports/report.hpp"
#include "reports/svg_util.hpp"

namespace syncstorm {

namespace {

/// A diagram with more lanes or arrows than this is unreadable; the rest are left out and the
/// caption says how many.
constexpr std::size_t kMaxLanes = 16;
constexpr std::size_t kMaxArrows = 2500;

constexpr int kLeft = 90, kTop = 56, kLane = 34, kRight = 30;
/// The plot is 40 px per simulated second, between these widths: dense runs stay readable when the
/// page scrolls sideways.
constexpr int kPlotMin = 1100, kPlotMax = 4000, kPixelsPerSecond = 40;

struct Event {
  std::int64_t t = 0;
  std::string kind;
  std::uint32_t node = 0;
  std::uint32_t peer = 0;
  std::uint64_t a = 0;
};

/// The trace's events; `a` is the first kind-specific field (message, operation, incarnation...).
std::vector<Event> parse_trace(std::string_view jsonl) {
  std::vector<Event> events;
  std::istringstream in{std::string(jsonl)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    Event e;
    e.t = j.value("t", std::int64_t{0});
    e.kind = j.value("ev", std::string());
    e.node = j.value("node", 0u);
    e.peer = j.value("peer", 0u);
    for (const char* key : {"msg", "op", "incarnation", "epoch", "fault"}) {
      if (j.contains(key)) e.a = j[key].get<std::uint64_t>();
    }
    events.push_back(std::move(e));
  }
  return events;
}

std::set<std::uint64_t> involved_ops(const std::vector<Violation>& violations) {
  std::set<std::uint64_t> ops;
  for (const Violation& v : violations) {
    for (const Involved& i : v.involved) ops.insert(i.op.value);
  }
  return ops;
}

/// Servers first, then the clients whose operations the violation names, then other clients in
/// order, up to kMaxLanes.
std::vector<std::uint32_t> choose_lanes(const Schedule& schedule, const std::set<std::uint64_t>& ops) {
  std::vector<std::uint32_t> lanes;
  for (std::uint32_t i = 0; i < schedule.servers; ++i) lanes.push_back(i);
  std::set<std::uint32_t> wanted;
  for (std::uint64_t op : ops) {
    if (op >= 1 && op <= schedule.operations.size()) wanted.insert(schedule.operations[op - 1].client.value);
  }
  for (std::uint32_t c : wanted) {
    if (lanes.size() < kMaxLanes) lanes.push_back(c);
  }
  for (std::uint32_t i = 0; i < schedule.clients && lanes.size() < kMaxLanes; ++i) {
    const std::uint32_t node = schedule.client(i).value;
    if (!wanted.count(node)) lanes.push_back(node);
  }
  std::sort(lanes.begin(), lanes.end());
  return lanes;
}

struct Layout {
  std::map<std::uint32_t, int> lane_of;
  std::int64_t end_us = 1;
  int plot = kPlotMin;
  double x(std::int64_t us) const { return kLeft + static_cast<double>(std::clamp<std::int64_t>(us, 0, end_us)) / static_cast<double>(end_us) * plot; }
  double y(std::uint32_t node) const { return kTop + lane_of.at(node) * kLane + kLane / 2.0; }
  bool shown(std::uint32_t node) const { return lane_of.count(node) > 0; }
};

std::string shade(const Layout& l, std::uint32_t node, std::int64_t from, std::int64_t to, std::string_view fill,
                  std::string_view label) {
  if (!l.shown(node)) return {};
  return fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\" opacity=\"0.35\"><title>{}</title></rect>\n",
                     l.x(from), l.y(node) - kLane / 2.0 + 2, std::max(1.0, l.x(to) - l.x(from)), kLane - 4, fill,
                     markup_escape(label));
}

std::string fault_shading(const Schedule& schedule, const Layout& l) {
  std::string s;
  for (const ScheduledFault& f : schedule.faults) {
    const std::string label = fmt::format("{} {:.3f}s..{:.3f}s", to_string(f.kind), static_cast<double>(f.start.us) / 1e6, static_cast<double>(f.end().us) / 1e6);
    std::string_view fill;
    switch (f.kind) {
      case FaultKind::partition: fill = "#e69f00"; break;
      case FaultKind::offline: fill = "#999999"; break;
      case FaultKind::down: fill = "#d55e00"; break;
      default: continue;  // crashes come from the trace (with their real restart); others have no lane shading
    }
    for (NodeId n : f.side_a) s += shade(l, n.value, f.start.us, f.end().us, fill, label);
  }
  return s;
}

std::string crash_shading(const std::vector<Event>& events, const Layout& l) {
  std::string s;
  std::map<std::uint32_t, std::int64_t> down_since;
  for (const Event& e : events) {
    if (e.kind == "crash") down_since[e.node] = e.t;
    if (e.kind == "restart" && down_since.count(e.node)) {
      s += shade(l, e.node, down_since[e.node], e.t, "#000000", "crashed");
      down_since.erase(e.node);
    }
  }
  for (const auto& [node, since] : down_since) s += shade(l, node, since, l.end_us, "#000000", "crashed");
  return s;
}

struct Arrow {
  std::int64_t from_t = 0, to_t = 0;
  std::uint32_t from = 0, to = 0;
  bool dropped = false;
};

std::vector<Arrow> arrows_of(const std::vector<Event>& events, const Layout& l) {
  struct Sent {
    std::int64_t t;
    std::uint32_t from, to;
  };
  std::map<std::uint64_t, Sent> sent;
  std::vector<Arrow> arrows;
  for (const Event& e : events) {
    if (e.kind == "send") sent[e.a] = Sent{e.t, e.node, e.peer};
    if (e.kind != "deliver" && e.kind != "drop") continue;
    auto it = sent.find(e.a);
    if (it == sent.end() || !l.shown(it->second.from) || !l.shown(it->second.to)) continue;
    arrows.push_back(Arrow{it->second.t, e.t, it->second.from, it->second.to, e.kind == "drop"});
  }
  return arrows;
}

std::string draw_arrows(const std::vector<Arrow>& arrows, const Layout& l) {
  // Every dropped message is kept; delivered ones are thinned evenly when there are too many.
  const std::size_t stride = arrows.size() > kMaxArrows ? (arrows.size() + kMaxArrows - 1) / kMaxArrows : 1;
  std::string s;
  for (std::size_t i = 0; i < arrows.size(); ++i) {
    const Arrow& a = arrows[i];
    if (!a.dropped && i % stride != 0) continue;
    const double x1 = l.x(a.from_t), y1 = l.y(a.from), y2 = l.y(a.to);
    if (a.dropped) {
      // A dropped message ends a third of the way to its target, in a cross.
      const double x2 = std::max(l.x(a.to_t), x1 + 6), ym = y1 + (y2 - y1) / 3;
      s += fmt::format("<path d=\"M{:.1f} {:.1f}L{:.1f} {:.1f}M{:.1f} {:.1f}l6 6m0 -6l-6 6\" stroke=\"#d55e00\" fill=\"none\"/>\n",
                       x1, y1, x2, ym, x2 - 3, ym - 3);
    } else {
      s += fmt::format("<path d=\"M{:.1f} {:.1f}L{:.1f} {:.1f}\" stroke=\"#0072b2\" stroke-opacity=\"0.45\" marker-end=\"url(#arrow)\"/>\n",
                       x1, y1, l.x(a.to_t), y2);
    }
  }
  return s;
}

std::string highlight_ops(const std::vector<Event>& events, const Layout& l, const std::vector<Violation>& violations) {
  std::map<std::uint64_t, std::string> role;
  for (const Violation& v : violations) {
    for (const Involved& i : v.involved) role.emplace(i.op.value, i.role);
  }
  std::string s;
  for (const Event& e : events) {
    if (!role.count(e.a) || !l.shown(e.node)) continue;
    const double x = l.x(e.t), y = l.y(e.node);
    if (e.kind == "operation") {
      s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"6\" fill=\"#cc79a7\" stroke=\"#000\"><title>op {} issued: {}</title></circle>\n"
                       "<text x=\"{:.1f}\" y=\"{:.1f}\" font-weight=\"bold\">op {}</text>\n",
                       x, y, e.a, markup_escape(role[e.a]), x + 7, y - 7, e.a);
    } else if (e.kind == "applied" || e.kind == "acknowledged" || e.kind == "rejected") {
      const std::string_view fill = e.kind == "rejected" ? "#d55e00" : e.kind == "acknowledged" ? "#009e73" : "#cc79a7";
      s += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"6\" height=\"6\" fill=\"{}\"><title>op {} {}</title></rect>\n",
                       x - 3, y - 3, fill, e.a, e.kind);
    }
  }
  return s;
}

std::string lanes_and_axis(const Layout& l, const Schedule& schedule, int height) {
  std::string s;
  for (const auto& [node, lane] : l.lane_of) {
    const double y = l.y(node);
    const std::string name = schedule.is_server(NodeId{node}) ? fmt::format("server {}", node)
                                                              : fmt::format("client {}", node - schedule.servers);
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text><path d=\"M{} {:.1f}H{}\" stroke=\"#bbb\"/>\n",
                     kLeft - 6, y + 4, name, kLeft, y, kLeft + l.plot);
  }
  const double step = svg::nice_step(static_cast<double>(l.end_us) / 1e6, 10);
  for (double t = 0; t * 1e6 <= static_cast<double>(l.end_us); t += step) {
    const double x = l.x(static_cast<std::int64_t>(t * 1e6));
    s += fmt::format("<path d=\"M{:.1f} {}v{}\" stroke=\"#eee\"/><text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}s</text>\n",
                     x, kTop, height - kTop - 34, x, height - 18, svg::number(t));
  }
  return s;
}

std::string legend(std::size_t shown, std::size_t total, std::size_t lanes, std::uint32_t nodes) {
  return fmt::format(
      "<text x=\"8\" y=\"34\">arrows: messages ({} of {} shown){}; red cross: dropped; shading: orange partition, grey "
      "offline, red down, black crashed; pink: operations the violation names (squares: applied, green acknowledged, "
      "red rejected)</text>\n",
      shown, total, lanes < nodes ? fmt::format(", {} of {} nodes", lanes, nodes) : std::string());
}

}  // namespace

std::string lamport_svg(const Schedule& schedule, std::string_view trace_jsonl, const std::vector<Violation>& violations,
                        std::string_view title) {
  const std::vector<Event> events = parse_trace(trace_jsonl);
  const std::set<std::uint64_t> ops = involved_ops(violations);
  Layout l;
  const std::vector<std::uint32_t> lanes = choose_lanes(schedule, ops);
  for (std::size_t i = 0; i < lanes.size(); ++i) l.lane_of[lanes[i]] = static_cast<int>(i);
  l.end_us = std::max<std::int64_t>(1, schedule.end().us);
  for (const Event& e : events) l.end_us = std::max(l.end_us, e.t);
  l.plot = static_cast<int>(std::clamp<std::int64_t>(l.end_us * kPixelsPerSecond / 1'000'000, kPlotMin, kPlotMax));
  const int height = kTop + kLane * static_cast<int>(lanes.size()) + 40;
  const std::vector<Arrow> arrows = arrows_of(events, l);
  const std::size_t stride = arrows.size() > kMaxArrows ? (arrows.size() + kMaxArrows - 1) / kMaxArrows : 1;
  std::size_t shown = 0;
  for (std::size_t i = 0; i < arrows.size(); ++i) shown += (arrows[i].dropped || i % stride == 0) ? 1 : 0;

  std::string s = svg::open(kLeft + l.plot + kRight, height, "chart lamport", title);
  s += "<defs><marker id=\"arrow\" viewBox=\"0 0 6 6\" refX=\"6\" refY=\"3\" markerWidth=\"5\" markerHeight=\"5\" "
       "orient=\"auto\"><path d=\"M0 0L6 3L0 6z\" fill=\"#0072b2\"/></marker></defs>\n";
  s += legend(shown, arrows.size(), lanes.size(), schedule.node_count());
  s += fault_shading(schedule, l);
  s += crash_shading(events, l);
  s += lanes_and_axis(l, schedule, height);
  s += draw_arrows(arrows, l);
  s += highlight_ops(events, l, violations);
  s += "</svg>\n";
  return s;
}

}  // namespace syncstorm
