// The space-time (Lamport) diagram of one run, drawn from its JSON Lines trace and its schedule:
// one lane per node, time left to right, a message as an arrow from its send to its delivery.
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "reports/report.hpp"
#include "reports/story.hpp"
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

using story::TraceLine;

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

/// A stretch of the time axis: drawn to scale, or folded into a narrow marked gap.
struct Piece {
  std::int64_t from_us = 0, to_us = 0;
  double x0 = 0, x1 = 0;
  bool folded = false;
};

struct Layout {
  std::map<std::uint32_t, int> lane_of;
  std::int64_t end_us = 1;
  int plot = kPlotMin;
  std::vector<Piece> pieces;  ///< empty: one linear axis
  double x(std::int64_t us) const {
    us = std::clamp<std::int64_t>(us, 0, end_us);
    for (const Piece& p : pieces) {
      if (us > p.to_us) continue;
      const double span = static_cast<double>(std::max<std::int64_t>(1, p.to_us - p.from_us));
      return p.x0 + static_cast<double>(us - p.from_us) / span * (p.x1 - p.x0);
    }
    return kLeft + static_cast<double>(us) / static_cast<double>(end_us) * plot;
  }
  /// Whether `from`..`to` lies inside one folded gap (traffic there is not drawn).
  bool folded(std::int64_t from, std::int64_t to) const {
    return std::any_of(pieces.begin(), pieces.end(), [&](const Piece& p) { return p.folded && from >= p.from_us && to <= p.to_us; });
  }
  double y(std::uint32_t node) const { return kTop + lane_of.at(node) * kLane + kLane / 2.0; }
  bool shown(std::uint32_t node) const { return lane_of.count(node) > 0; }
};

/// Shading of faults and crashes: full where the story needs it, faint where it does not.
constexpr std::string_view kStrong = "0.35", kFaint = "0.12";

std::string shade(const Layout& l, std::uint32_t node, std::int64_t from, std::int64_t to, std::string_view fill,
                  std::string_view label, std::string_view opacity) {
  if (!l.shown(node)) return {};
  return fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\" opacity=\"{}\"><title>{}</title></rect>\n",
                     l.x(from), l.y(node) - kLane / 2.0 + 2, std::max(1.0, l.x(to) - l.x(from)), kLane - 4, fill, opacity,
                     markup_escape(label));
}

std::string fault_shading(const Schedule& schedule, const Layout& l, const story::Story& st) {
  std::string s;
  for (std::size_t i = 0; i < schedule.faults.size(); ++i) {
    const ScheduledFault& f = schedule.faults[i];
    const std::string label = fmt::format("{} {:.3f}s..{:.3f}s", to_string(f.kind), static_cast<double>(f.start.us) / 1e6, static_cast<double>(f.end().us) / 1e6);
    std::string_view fill;
    switch (f.kind) {
      case FaultKind::partition: fill = "#e69f00"; break;
      case FaultKind::offline: fill = "#999999"; break;
      case FaultKind::down: fill = "#d55e00"; break;
      default: continue;  // crashes come from the trace (with their real restart); others have no lane shading
    }
    const bool on_path = !st.told || std::binary_search(st.faults.begin(), st.faults.end(), i);
    for (NodeId n : f.side_a) s += shade(l, n.value, f.start.us, f.end().us, fill, label, on_path ? kStrong : kFaint);
  }
  return s;
}

std::string crash_shading(const std::vector<TraceLine>& events, const Layout& l, const story::Story& st) {
  std::string s;
  std::map<std::uint32_t, std::int64_t> down_since;
  auto opacity = [&](std::uint32_t node) { return !st.told || st.crashed.count(node) ? kStrong : kFaint; };
  for (const TraceLine& e : events) {
    if (e.kind == "crash") down_since[e.node] = e.t;
    if (e.kind == "restart" && down_since.count(e.node)) {
      s += shade(l, e.node, down_since[e.node], e.t, "#000000", "crashed", opacity(e.node));
      down_since.erase(e.node);
    }
  }
  for (const auto& [node, since] : down_since) s += shade(l, node, since, l.end_us, "#000000", "crashed", opacity(node));
  return s;
}

struct Arrow {
  std::int64_t from_t = 0, to_t = 0;
  std::uint32_t from = 0, to = 0;
  std::uint64_t msg = 0;
  bool dropped = false;
  bool on_path = false;  ///< on the story's causal path (always kept, drawn at full strength)
};

std::vector<Arrow> arrows_of(const std::vector<TraceLine>& events, const Layout& l, const story::Story& st) {
  struct Sent {
    std::int64_t t;
    std::uint32_t from, to;
  };
  std::map<std::uint64_t, Sent> sent;
  std::vector<Arrow> arrows;
  for (const TraceLine& e : events) {
    if (e.kind == "send") sent[e.a] = Sent{e.t, e.node, e.peer};
    if (e.kind != "deliver" && e.kind != "drop") continue;
    auto it = sent.find(e.a);
    if (it == sent.end() || !l.shown(it->second.from) || !l.shown(it->second.to)) continue;
    arrows.push_back(Arrow{it->second.t, e.t, it->second.from, it->second.to, e.a, e.kind == "drop", st.path_messages.count(e.a) > 0});
  }
  return arrows;
}

bool kept(const Arrow& a, std::size_t i, std::size_t stride, bool told, const Layout& l) {
  // Every dropped message is kept in a plain diagram, every message on the path in a story; the
  // rest are thinned evenly when there are too many, and not drawn inside a folded gap.
  if (told && !a.on_path && l.folded(a.from_t, a.to_t)) return false;
  return (told ? a.on_path : a.dropped) || i % stride == 0;
}

std::string draw_arrows(const std::vector<Arrow>& arrows, const Layout& l, bool told) {
  const std::size_t stride = arrows.size() > kMaxArrows ? (arrows.size() + kMaxArrows - 1) / kMaxArrows : 1;
  std::string s;
  for (std::size_t i = 0; i < arrows.size(); ++i) {
    const Arrow& a = arrows[i];
    if (!kept(a, i, stride, told, l)) continue;
    const double x1 = l.x(a.from_t), y1 = l.y(a.from), y2 = l.y(a.to);
    const bool faded = told && !a.on_path;
    const std::string tag = told ? fmt::format("class=\"{}\" data-msg=\"{}\" ", faded ? "faded" : "path", a.msg) : std::string();
    if (a.dropped) {
      // A dropped message ends a third of the way to its target, in a cross.
      const double x2 = std::max(l.x(a.to_t), x1 + 6), ym = y1 + (y2 - y1) / 3;
      s += fmt::format("<path {}d=\"M{:.1f} {:.1f}L{:.1f} {:.1f}M{:.1f} {:.1f}l6 6m0 -6l-6 6\" {}fill=\"none\"/>\n", tag, x1, y1,
                       x2, ym, x2 - 3, ym - 3, faded ? "stroke=\"#999999\" stroke-opacity=\"0.3\" " : "stroke=\"#d55e00\" ");
    } else if (faded) {
      s += fmt::format("<path {}d=\"M{:.1f} {:.1f}L{:.1f} {:.1f}\" stroke=\"#999999\" stroke-opacity=\"0.25\" marker-end=\"url(#arrow-faded)\"/>\n",
                       tag, x1, y1, l.x(a.to_t), y2);
    } else if (told) {
      s += fmt::format("<path {}d=\"M{:.1f} {:.1f}L{:.1f} {:.1f}\" stroke=\"#0072b2\" stroke-width=\"1.8\" marker-end=\"url(#arrow)\"/>\n",
                       tag, x1, y1, l.x(a.to_t), y2);
    } else {
      s += fmt::format("<path d=\"M{:.1f} {:.1f}L{:.1f} {:.1f}\" stroke=\"#0072b2\" stroke-opacity=\"0.45\" marker-end=\"url(#arrow)\"/>\n",
                       x1, y1, l.x(a.to_t), y2);
    }
  }
  return s;
}

/// Copies on the path that died in flight: a dashed line to the moment they were cut, and a cross.
std::string draw_lost(const story::Story& st, const Layout& l) {
  std::string s;
  for (const story::LostMessage& m : st.lost) {
    if (!l.shown(m.from) || !l.shown(m.to)) continue;
    const double x1 = l.x(m.sent_t), y1 = l.y(m.from), y2 = l.y(m.to);
    const double x2 = std::max(l.x(m.cut_t), x1 + 6), ym = y1 + (y2 - y1) / 3;
    s += fmt::format("<path class=\"path lost\" data-msg=\"{}\" d=\"M{:.1f} {:.1f}L{:.1f} {:.1f}M{:.1f} {:.1f}l6 6m0 -6l-6 6\" "
                     "stroke=\"#d55e00\" stroke-dasharray=\"4 3\" fill=\"none\"/>\n",
                     m.msg, x1, y1, x2, ym, x2 - 3, ym - 3);
  }
  return s;
}

std::string highlight_ops(const std::vector<TraceLine>& events, const Layout& l, const std::vector<Violation>& violations) {
  std::map<std::uint64_t, std::string> role;
  for (const Violation& v : violations) {
    for (const Involved& i : v.involved) role.emplace(i.op.value, i.role);
  }
  std::string s;
  for (const TraceLine& e : events) {
    if (!role.count(e.a) || !l.shown(e.node)) continue;
    const double x = l.x(e.t), y = l.y(e.node);
    if (e.kind == "operation") {
      s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"6\" fill=\"#cc79a7\" stroke=\"#000\"><title>op{} issued: {}</title></circle>\n",
                       x, y, e.a, markup_escape(role[e.a]));
    } else if (e.kind == "applied" || e.kind == "acknowledged" || e.kind == "rejected") {
      const std::string_view fill = e.kind == "rejected" ? "#d55e00" : e.kind == "acknowledged" ? "#009e73" : "#cc79a7";
      s += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"6\" height=\"6\" fill=\"{}\"><title>op{} {}</title></rect>\n",
                       x - 3, y - 3, fill, e.a, e.kind);
    }
  }
  return s;
}

/// The story's moments as short labels beside a tick on their lane, in two rows per lane so labels
/// close in time do not overlap (a third close label shares the row that ends first).
std::string draw_moments(const story::Story& st, const Layout& l) {
  constexpr double kCharPx = 6.2;
  std::map<std::uint32_t, std::array<double, 2>> row_end;
  std::string s;
  for (const story::Moment& m : st.moments) {
    if (!l.shown(m.node)) continue;
    const double x = l.x(m.t), y = l.y(m.node);
    std::array<double, 2>& ends = row_end[m.node];
    const int row = ends[0] <= x ? 0 : ends[1] <= x ? 1 : (ends[0] <= ends[1] ? 0 : 1);
    // A label that would overlap the one before it in its row moves right of it; its tick stays.
    const double text_x = std::max(x + 3, ends[static_cast<std::size_t>(row)]);
    ends[static_cast<std::size_t>(row)] = text_x + 8 + kCharPx * static_cast<double>(m.label.size());
    const std::string_view colour = m.alarm ? "#d55e00" : "#000000";
    s += fmt::format("<path d=\"M{:.1f} {:.1f}v16\" stroke=\"{}\"/><text class=\"moment\" x=\"{:.1f}\" y=\"{:.1f}\" fill=\"{}\" "
                     "font-weight=\"bold\">{}</text>\n",
                     x, y - 8, colour, text_x, row == 0 ? y - 6 : y + 14, colour, markup_escape(m.label));
  }
  return s;
}

/// Each node's final value of the broken field or item, at the end of its lane; red where it lacks
/// the named operation.
std::string draw_finals(const story::Story& st, const Layout& l) {
  std::string s;
  for (const auto& [node, text] : st.finals) {
    if (!l.shown(node)) continue;
    const bool differs = st.differs.count(node) > 0;
    s += fmt::format("<text class=\"final{}\" x=\"{}\" y=\"{:.1f}\" fill=\"{}\">ends: {}</text>\n", differs ? " differs" : "",
                     kLeft + l.plot + 8, l.y(node) + 4, differs ? "#d55e00" : "#000000", markup_escape(text));
  }
  return s;
}

/// The caption cut into lines of at most `width` characters, at spaces.
std::vector<std::string> wrap(std::string_view text, std::size_t width) {
  std::vector<std::string> lines;
  std::string line;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t next = text.find(' ', at);
    if (next == std::string_view::npos) next = text.size();
    const std::string_view word = text.substr(at, next - at);
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      lines.push_back(line);
      line.clear();
    }
    line += (line.empty() ? "" : " ") + std::string(word);
    at = next + 1;
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
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
  if (!l.pieces.empty()) return s;  // a folded axis gets its ticks from folded_axis
  const double step = svg::nice_step(static_cast<double>(l.end_us) / 1e6, 10);
  for (double t = 0; t * 1e6 <= static_cast<double>(l.end_us); t += step) {
    const double x = l.x(static_cast<std::int64_t>(t * 1e6));
    s += fmt::format("<path d=\"M{:.1f} {}v{}\" stroke=\"#eee\"/><text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}s</text>\n",
                     x, kTop, height - kTop - 34, x, height - 18, svg::number(t));
  }
  return s;
}

/// Folding: time within kFoldMarginUs of a moment of the story is drawn to scale; a stretch longer
/// than kFoldMinUs with nothing of the story in it is folded into a gap kGapPx wide.
constexpr std::int64_t kFoldMarginUs = 1'000'000, kFoldMinUs = 3'000'000;
constexpr int kGapPx = 40;
/// Seconds drawn to scale get at least kPixelsPerSecond and at most this.
constexpr double kStoryPixelsPerSecondMax = 400;

/// The story's times: its moments, the sends and arrivals of messages on its path, its lost copies.
std::vector<std::int64_t> story_times(const story::Story& st, const std::vector<Arrow>& arrows) {
  std::vector<std::int64_t> times;
  for (const story::Moment& m : st.moments) times.push_back(m.t);
  for (const Arrow& a : arrows) {
    if (!a.on_path) continue;
    times.push_back(a.from_t);
    times.push_back(a.to_t);
  }
  for (const story::LostMessage& m : st.lost) {
    times.push_back(m.sent_t);
    times.push_back(m.cut_t);
  }
  std::sort(times.begin(), times.end());
  return times;
}

/// Cuts the axis into pieces to scale around the story's times and folded gaps between them.
void fold(Layout& l, const std::vector<std::int64_t>& times) {
  std::vector<std::pair<std::int64_t, std::int64_t>> kept;
  for (std::int64_t t : times) {
    const std::int64_t from = std::max<std::int64_t>(0, t - kFoldMarginUs), to = std::min(l.end_us, t + kFoldMarginUs);
    if (!kept.empty() && from - kept.back().second < kFoldMinUs) kept.back().second = std::max(kept.back().second, to);
    else kept.emplace_back(from, to);
  }
  if (kept.empty()) return;
  if (kept.front().first < kFoldMinUs) kept.front().first = 0;
  if (l.end_us - kept.back().second < kFoldMinUs) kept.back().second = l.end_us;
  std::vector<Piece> pieces;
  std::int64_t at = 0;
  for (const auto& [from, to] : kept) {
    if (from > at) pieces.push_back(Piece{at, from, 0, 0, true});
    pieces.push_back(Piece{from, to, 0, 0, false});
    at = to;
  }
  if (at < l.end_us) pieces.push_back(Piece{at, l.end_us, 0, 0, true});
  std::int64_t scaled_us = 0;
  int gaps = 0;
  for (const Piece& p : pieces) {
    if (p.folded) ++gaps;
    else scaled_us += p.to_us - p.from_us;
  }
  if (gaps == 0) return;  // nothing to fold: the plain linear axis
  const double seconds = std::max(1e-3, static_cast<double>(scaled_us) / 1e6);
  const double room_min = kPlotMin - gaps * kGapPx, room_max = kPlotMax - gaps * kGapPx;
  const double pps = std::clamp(std::max<double>(kPixelsPerSecond, room_min / seconds), 1.0,
                                std::min(kStoryPixelsPerSecondMax, std::max(1.0, room_max / seconds)));
  double x = kLeft;
  for (Piece& p : pieces) {
    p.x0 = x;
    x += p.folded ? kGapPx : static_cast<double>(p.to_us - p.from_us) / 1e6 * pps;
    p.x1 = x;
  }
  l.pieces = std::move(pieces);
  l.plot = static_cast<int>(std::ceil(x - kLeft));
}

/// Ticks within each piece drawn to scale, and each folded gap marked with the time it hides.
std::string folded_axis(const Layout& l, int height) {
  std::string s;
  for (const Piece& p : l.pieces) {
    if (p.folded) {
      s += fmt::format("<rect class=\"fold\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"#f2f2f2\" fill-opacity=\"0.8\"/>"
                       "<path d=\"M{:.1f} {}v{}M{:.1f} {}v{}\" stroke=\"#bbb\" stroke-dasharray=\"3 3\"/>"
                       "<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\" fill=\"#777\">{}s folded</text>\n",
                       p.x0, kTop, p.x1 - p.x0, height - kTop - 34, p.x0, kTop, height - kTop - 34, p.x1, kTop, height - kTop - 34,
                       (p.x0 + p.x1) / 2, height - 6, svg::number(static_cast<double>(p.to_us - p.from_us) / 1e6));
      continue;
    }
    const double from_s = static_cast<double>(p.from_us) / 1e6, to_s = static_cast<double>(p.to_us) / 1e6;
    const double step = svg::nice_step(to_s - from_s, std::max(1, static_cast<int>((p.x1 - p.x0) / 110)));
    for (double t = std::ceil(from_s / step) * step; t <= to_s; t += step) {
      const double x = l.x(static_cast<std::int64_t>(std::llround(t * 1e6)));
      s += fmt::format("<path d=\"M{:.1f} {}v{}\" stroke=\"#eee\"/><text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}s</text>\n",
                       x, kTop, height - kTop - 34, x, height - 18, svg::number(t));
    }
  }
  return s;
}

std::string legend(std::size_t shown, std::size_t total, std::size_t lanes, std::uint32_t nodes, bool told) {
  if (told) {
    return fmt::format(
        "<text x=\"8\" y=\"34\">bold: the causal path of the named operations; grey: other traffic ({} of {} messages "
        "shown{}); cross: dropped; dashed: died in flight; shading: orange partition, grey offline, red down, black crashed, "
        "faint off the path; dashed bands: folded time</text>\n",
        shown, total, lanes < nodes ? fmt::format(", {} of {} nodes", lanes, nodes) : std::string());
  }
  return fmt::format(
      "<text x=\"8\" y=\"34\">arrows: messages ({} of {} shown){}; red cross: dropped; shading: orange partition, grey "
      "offline, red down, black crashed; pink: operations the violation names (squares: applied, green acknowledged, "
      "red rejected)</text>\n",
      shown, total, lanes < nodes ? fmt::format(", {} of {} nodes", lanes, nodes) : std::string());
}

/// Characters per caption line under the diagram.
constexpr std::size_t kCaptionWidth = 170;
/// Room at the right of the lanes for the final values.
constexpr int kFinalsWidth = 190;

}  // namespace

std::string lamport_svg(const Schedule& schedule, std::string_view trace_jsonl, const std::vector<Violation>& violations,
                        const History& history, std::string_view title) {
  const std::vector<TraceLine> events = story::parse_trace(trace_jsonl);
  const story::Story st = story::tell(schedule, events, violations, history);
  const std::set<std::uint64_t> ops = involved_ops(violations);
  Layout l;
  const std::vector<std::uint32_t> lanes = choose_lanes(schedule, ops);
  for (std::size_t i = 0; i < lanes.size(); ++i) l.lane_of[lanes[i]] = static_cast<int>(i);
  l.end_us = std::max<std::int64_t>(1, schedule.end().us);
  for (const TraceLine& e : events) l.end_us = std::max(l.end_us, e.t);
  l.plot = static_cast<int>(std::clamp<std::int64_t>(l.end_us * kPixelsPerSecond / 1'000'000, kPlotMin, kPlotMax));
  const std::vector<std::string> caption = wrap(st.caption, kCaptionWidth);
  const int axis_height = kTop + kLane * static_cast<int>(lanes.size()) + 40;
  const int height = axis_height + 16 * static_cast<int>(caption.size()) + (caption.empty() ? 0 : 8);
  const std::vector<Arrow> arrows = arrows_of(events, l, st);
  if (st.told) fold(l, story_times(st, arrows));
  const std::size_t stride = arrows.size() > kMaxArrows ? (arrows.size() + kMaxArrows - 1) / kMaxArrows : 1;
  std::size_t shown = 0;
  for (std::size_t i = 0; i < arrows.size(); ++i) shown += kept(arrows[i], i, stride, st.told, l) ? 1 : 0;

  std::string s = svg::open(kLeft + l.plot + (st.told ? kFinalsWidth : kRight), height, "chart lamport", title);
  s += "<defs><marker id=\"arrow\" viewBox=\"0 0 6 6\" refX=\"6\" refY=\"3\" markerWidth=\"5\" markerHeight=\"5\" "
       "orient=\"auto\"><path d=\"M0 0L6 3L0 6z\" fill=\"#0072b2\"/></marker>";
  if (st.told) {
    s += "<marker id=\"arrow-faded\" viewBox=\"0 0 6 6\" refX=\"6\" refY=\"3\" markerWidth=\"5\" markerHeight=\"5\" "
         "orient=\"auto\"><path d=\"M0 0L6 3L0 6z\" fill=\"#999999\" fill-opacity=\"0.4\"/></marker>";
  }
  s += "</defs>\n";
  s += legend(shown, arrows.size(), lanes.size(), schedule.node_count(), st.told);
  s += fault_shading(schedule, l, st);
  s += crash_shading(events, l, st);
  s += lanes_and_axis(l, schedule, axis_height);
  if (!l.pieces.empty()) s += folded_axis(l, axis_height);
  s += draw_arrows(arrows, l, st.told);
  s += draw_lost(st, l);
  s += highlight_ops(events, l, violations);
  s += draw_moments(st, l);
  s += draw_finals(st, l);
  for (std::size_t i = 0; i < caption.size(); ++i) {
    s += fmt::format("<text class=\"caption\" x=\"8\" y=\"{}\">{}</text>\n", axis_height + 4 + 16 * static_cast<int>(i),
                     markup_escape(caption[i]));
  }
  s += "</svg>\n";
  return s;
}

std::string failure_caption(const Schedule& schedule, std::string_view trace_jsonl, const std::vector<Violation>& violations,
                            const History& history) {
  return story::tell(schedule, story::parse_trace(trace_jsonl), violations, history).caption;
}

}  // namespace syncstorm
