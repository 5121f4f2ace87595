// The story of one failure. The causal path is the engine's potential causality read back from the
// trace: an operation starts known at its client; a message sent by a node that knows it, to one that
// does not yet, could carry it; its delivery is the moment the receiver could first have known it.
// That gives at most one arrow per node and operation (a tree), plus the copies that were dropped or
// died with their connection, plus the deliveries that acknowledged or rejected it. Everything is
// taken in trace order with ordered containers, so the story is the same on every run and thread count.
#include "reports/story.hpp"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace syncstorm::story {

std::vector<TraceLine> parse_trace(std::string_view jsonl) {
  std::vector<TraceLine> events;
  std::istringstream in{std::string(jsonl)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    TraceLine e;
    e.t = j.value("t", std::int64_t{0});
    e.kind = j.value("ev", std::string());
    e.node = j.value("node", 0u);
    e.peer = j.value("peer", 0u);
    // The first key present wins: a timer's tag comes before its incarnation.
    for (const char* key : {"msg", "op", "epoch", "token", "tag", "fault", "digest", "hostile_kind", "incarnation"}) {
      if (j.contains(key)) {
        e.a = j[key].get<std::uint64_t>();
        break;
      }
    }
    for (const char* key : {"bytes", "reason", "attempt", "persistent", "kind", "target", "metadata"}) {
      if (j.contains(key)) {
        e.b = j[key].get<std::uint64_t>();
        break;
      }
    }
    events.push_back(std::move(e));
  }
  return events;
}

std::string node_name(const Schedule& schedule, std::uint32_t node) {
  return schedule.is_server(NodeId{node}) ? fmt::format("server {}", node) : fmt::format("client {}", node - schedule.servers);
}

namespace {

/// Operations narrated at most: the named ones first, then the values shown in their place.
constexpr std::size_t kNarratedMax = 4;
/// Lost copies of one operation given a label (all of them are drawn).
constexpr std::size_t kLossLabelsMax = 1;

std::string seconds(std::int64_t us) {
  us = std::max<std::int64_t>(us, 0);
  return fmt::format("{}.{:03} s", us / 1'000'000, (us / 1'000) % 1'000);
}

/// When a fault held: "4.000 s to 5.000 s", or "at 4.000 s" for one that is over at once.
std::string span(const ScheduledFault& f) {
  if (f.duration.us <= 0) return "at " + seconds(f.start.us);
  return fmt::format("{} to {}", seconds(f.start.us), seconds(f.end().us));
}

std::string short_op(const Operation& op) {
  switch (op.kind) {
    case OpKind::map_set: return fmt::format("set field {}", op.key.value);
    case OpKind::list_add: return fmt::format("add item {}", op.key.value);
    case OpKind::list_update: return fmt::format("update item {}", op.key.value);
    case OpKind::list_remove: return fmt::format("remove item {}", op.key.value);
    case OpKind::counter_add: return fmt::format("add {}", op.amount);
    case OpKind::text_insert: return "insert";
    case OpKind::text_delete: return "delete";
  }
  return "?";
}

bool recorded(const History& history, OpId id) { return id.value >= 1 && id.value <= history.ops.size(); }

/// Where one operation could have reached, and when.
struct Knowledge {
  std::uint64_t op = 0;
  std::uint32_t client = 0;
  std::int64_t issued_t = 0;
  std::size_t issued_index = 0;
  std::map<std::uint32_t, std::int64_t> learned;  ///< node -> when it could first have known it
  std::int64_t last_t = 0;                        ///< the latest event on its path
  bool first_named = false;                       ///< the violation's first operation, whose loss the finals show
};

/// The first reset or crash at either end of a message after it was sent: what cut it.
std::pair<std::int64_t, std::string> cut_of(const std::vector<TraceLine>& events, std::size_t sent_index, std::uint32_t from,
                                             std::uint32_t to, std::int64_t end_t) {
  for (std::size_t i = sent_index + 1; i < events.size(); ++i) {
    const TraceLine& e = events[i];
    const bool ends = e.node == from || e.node == to;
    if (ends && e.kind == "crash") return {e.t, "crash"};
    if (ends && e.kind == "reset" && (e.peer == from || e.peer == to)) return {e.t, "connection reset"};
  }
  return {end_t, "never arrived"};
}

/// Follows one operation from its issue through the trace (see the file comment).
void spread(const std::vector<TraceLine>& events, Knowledge& k, std::int64_t end_t, Story& story) {
  struct Carried {
    std::size_t index;
    std::uint32_t from, to;
    bool done = false;
  };
  std::map<std::uint64_t, Carried> carried;
  std::set<std::uint32_t> knowing{k.client};
  std::size_t loss_labels = 0;
  for (std::size_t i = k.issued_index + 1; i < events.size(); ++i) {
    const TraceLine& e = events[i];
    if (e.kind == "send") {
      if (knowing.count(e.node) && !knowing.count(e.peer)) carried.emplace(e.a, Carried{i, e.node, e.peer});
      continue;
    }
    if (e.kind == "crash" && knowing.count(e.node)) {
      // A node without persistent state forgets what it had learned (it may learn it again later);
      // one with a store may still lose it (unflushed writes), which its final state tells.
      const bool forgets = e.b == 0;
      const bool lost_here = k.first_named && story.differs.count(e.node) > 0;
      story.crashed.insert(e.node);
      if (forgets || lost_here) {
        story.moments.push_back({e.t, e.node, fmt::format("crash: op{} {}", k.op, forgets ? "forgotten" : "lost"), true});
        story.losing_crashes.emplace_back(e.node, e.t);
      }
      if (forgets) knowing.erase(e.node);
      k.last_t = std::max(k.last_t, e.t);
      continue;
    }
    if (e.kind != "deliver" && e.kind != "drop") continue;
    auto it = carried.find(e.a);
    if (it == carried.end() || it->second.done) continue;
    it->second.done = true;
    if (e.kind == "deliver" && !knowing.count(e.node)) {
      knowing.insert(e.node);
      k.learned.emplace(e.node, e.t);
      story.path_messages.insert(e.a);
      k.last_t = std::max(k.last_t, e.t);
    } else if (e.kind == "drop" && !knowing.count(it->second.to)) {
      story.path_messages.insert(e.a);
      if (loss_labels++ < kLossLabelsMax) story.moments.push_back({e.t, it->second.from, fmt::format("op{} dropped", k.op), true});
      k.last_t = std::max(k.last_t, e.t);
    }
  }
  for (const auto& [msg, c] : carried) {
    if (c.done) continue;
    const auto [cut_t, cause] = cut_of(events, c.index, c.from, c.to, end_t);
    story.path_messages.insert(msg);
    story.lost.push_back({msg, events[c.index].t, cut_t, c.from, c.to});
    if (loss_labels++ < kLossLabelsMax) story.moments.push_back({cut_t, c.from, fmt::format("op{} lost: {}", k.op, cause), true});
    k.last_t = std::max(k.last_t, cut_t);
  }
}

/// The deliveries that made an operation applied (remotely), acknowledged or rejected, and their labels.
void lifecycle(const std::vector<TraceLine>& events, const Knowledge& k, Story& story) {
  for (std::size_t i = k.issued_index + 1; i < events.size(); ++i) {
    const TraceLine& e = events[i];
    if (e.a != k.op || (e.kind != "applied" && e.kind != "acknowledged" && e.kind != "rejected")) continue;
    if (e.kind == "applied" && e.t == k.issued_t) continue;  // applied at once: the write's own label says it
    for (std::size_t j = i; j-- > 0 && events[j].t == e.t;) {
      if (events[j].kind == "deliver" && events[j].node == e.node) {
        story.path_messages.insert(events[j].a);
        break;
      }
    }
    story.moments.push_back({e.t, e.node, fmt::format("op{} {}", k.op, e.kind), e.kind == "rejected"});
  }
}

struct Final {
  std::string text;
  bool lacks = false;
  OpId shown;  ///< the value shown in the named operation's place, when one is
};

/// A node's final value of the field, item or element `op` wrote.
Final final_of(const NodeFinal& f, const Operation& op) {
  Final out;
  if (!f.state) return out;
  const State& s = *f.state;
  switch (op.kind) {
    case OpKind::map_set: {
      auto it = std::find_if(s.fields.begin(), s.fields.end(), [&](const auto& kv) { return kv.first == op.key; });
      if (it == s.fields.end()) return {fmt::format("field {} absent", op.key.value), true, {}};
      return {fmt::format("field {} = op{}", op.key.value, it->second.value), it->second != op.id, it->second};
    }
    case OpKind::list_add:
    case OpKind::list_update:
    case OpKind::list_remove: {
      auto it = std::find_if(s.items.begin(), s.items.end(), [&](const Item& i) { return i.id == op.key; });
      if (it == s.items.end()) return {fmt::format("item {} absent", op.key.value), op.kind != OpKind::list_remove, {}};
      const bool lacks = op.kind == OpKind::list_remove || it->value != op.id;
      return {fmt::format("item {} = op{}", op.key.value, it->value.value), lacks, it->value};
    }
    case OpKind::text_insert: {
      const bool has = std::find(s.text.begin(), s.text.end(), op.id) != s.text.end();
      return {fmt::format("{} op{}", has ? "has" : "lacks", op.id.value), !has, {}};
    }
    case OpKind::counter_add: return {fmt::format("counter = {}", s.counter), false, {}};
    case OpKind::text_delete: return {fmt::format("{} elements", s.text.size()), false, {}};
  }
  return out;
}

/// Each node's final value of the first named operation's subject; counters differ from the first server.
void finals(const History& history, const Operation& op, Story& story) {
  std::optional<std::int64_t> reference;
  for (const NodeFinal& f : history.finals) {
    Final v = final_of(f, op);
    if (!f.live) v.text += v.text.empty() ? "down" : " (down)";
    if (v.text.empty()) continue;
    if (op.kind == OpKind::counter_add && f.state) {
      if (!reference) reference = f.state->counter;
      v.lacks = f.state->counter != *reference;
    }
    story.finals.emplace(f.node.value, v.text);
    if (v.lacks && f.state) story.differs.insert(f.node.value);
  }
}

bool touches(const ScheduledFault& f, const Schedule& schedule, std::uint32_t client) {
  return std::any_of(f.side_a.begin(), f.side_a.end(), [&](NodeId n) { return n.value == client || schedule.is_server(n); });
}

/// Faults on the operation's client or a server that overlap the time from its issue until it had
/// reached every node (or the run's end, if it never did).
void cutting_faults(const Schedule& schedule, const Knowledge& k, std::int64_t end_t, std::set<std::size_t>& out) {
  const bool everywhere = k.learned.size() + 1 >= schedule.node_count();
  const std::int64_t until = everywhere ? k.last_t : end_t;
  for (std::size_t i = 0; i < schedule.faults.size(); ++i) {
    const ScheduledFault& f = schedule.faults[i];
    if (f.start.us <= until && f.end().us >= k.issued_t && touches(f, schedule, k.client)) out.insert(i);
  }
}

std::string names(const Schedule& schedule, const std::set<std::uint32_t>& nodes) {
  constexpr std::size_t kListed = 3;
  std::vector<std::string> listed;
  for (std::uint32_t n : nodes) {
    if (listed.size() < kListed) listed.push_back(node_name(schedule, n));
  }
  std::string s;
  for (std::size_t i = 0; i < listed.size(); ++i) {
    s += (i == 0 ? "" : (i + 1 == listed.size() && nodes.size() <= kListed) ? " and " : ", ") + listed[i];
  }
  if (nodes.size() > kListed) s += fmt::format(" and {} more", nodes.size() - kListed);
  return s;
}

std::string fault_sentence(const Schedule& schedule, const Story& story, const Knowledge* first) {
  // A fault on the writer that was under way when it wrote is the likeliest cause; else the first.
  std::optional<std::size_t> chosen;
  for (std::size_t i : story.faults) {
    const ScheduledFault& f = schedule.faults[i];
    const bool on_writer = first && std::any_of(f.side_a.begin(), f.side_a.end(), [&](NodeId n) { return n.value == first->client; });
    if (on_writer && first && f.start.us <= first->issued_t && f.end().us >= first->issued_t) {
      return fmt::format("It was written while {} was under the {} fault ({}).", node_name(schedule, first->client),
                         to_string(f.kind), span(f));
    }
    if (!chosen) chosen = i;
  }
  if (chosen) {
    const ScheduledFault& f = schedule.faults[*chosen];
    std::set<std::uint32_t> targets;
    for (NodeId n : f.side_a) targets.insert(n.value);
    return fmt::format("The {} fault on {} ({}) cut its path.", to_string(f.kind), names(schedule, targets), span(f));
  }
  if (!story.crashed.empty()) return fmt::format("A crash of {} took it.", names(schedule, story.crashed));
  if (!story.lost.empty()) return "A copy of it died in flight with its connection.";
  std::int64_t skew_us = 0;
  for (Duration d : schedule.clock_skew) skew_us = std::max(skew_us, std::abs(d.us));
  if (skew_us > 0) return fmt::format("No fault cut its path; the nodes' clocks were skewed by up to {}.", seconds(skew_us));
  return "No fault cut its path: it went wrong with the network healthy.";
}

/// Without a named operation there is no path to follow: the run's faults are listed instead.
std::string run_faults_sentence(const Schedule& schedule) {
  constexpr std::size_t kListed = 3;
  if (schedule.faults.empty()) return "The run had no faults.";
  std::string s = "The run's faults: ";
  for (std::size_t i = 0; i < schedule.faults.size() && i < kListed; ++i) {
    const ScheduledFault& f = schedule.faults[i];
    std::set<std::uint32_t> targets;
    for (NodeId n : f.side_a) targets.insert(n.value);
    s += fmt::format("{}{} on {} ({})", i == 0 ? "" : ", ", to_string(f.kind), names(schedule, targets), span(f));
  }
  if (schedule.faults.size() > kListed) s += fmt::format(" and {} more", schedule.faults.size() - kListed);
  return s + ".";
}

std::string fate(const OpRecord& r) {
  if (!r.issued) return "was never issued (its client was down)";
  if (r.rejected) return "was rejected at " + seconds(r.rejected->us);
  if (r.acknowledged) return "was acknowledged at " + seconds(r.acknowledged->us);
  if (r.applied) return "was applied for its user but never acknowledged";
  return "was never applied";
}

std::string caption(const Schedule& schedule, const Violation& v, const History& history, const Story& story,
                    const Knowledge* first) {
  std::string s;
  const bool named = !v.involved.empty() && recorded(history, v.involved.front().op);
  if (named) {
    const OpRecord& r = history.record(v.involved.front().op);
    s = fmt::format("op{} ({} by {}, issued at {}) {}", r.op.id.value, short_op(r.op), node_name(schedule, r.op.client.value),
                    seconds(r.op.issued_at.us), fate(r));
    if (!story.differs.empty()) {
      const std::uint32_t where = *story.differs.begin();
      s += fmt::format(", yet {} end{} with {}.", names(schedule, story.differs), story.differs.size() == 1 ? "s" : "",
                       story.finals.at(where));
    } else {
      s += fmt::format(", yet the run ends with {}.", v.observed);
    }
  } else {
    s = fmt::format("{}: expected {}; observed {}.", v.subject, v.expected, v.observed);
  }
  s += " " + (named ? fault_sentence(schedule, story, first) : run_faults_sentence(schedule));
  s += fmt::format(" That breaks {}: {}.", to_string(v.invariant), describe(v.invariant));
  return s;
}

/// The operations to narrate: the named ones, then the values shown in place of the first.
std::vector<std::uint64_t> narrated(const std::vector<Violation>& violations, const History& history, const Story& story) {
  std::vector<std::uint64_t> ops;
  auto add = [&](OpId id) {
    if (recorded(history, id) && ops.size() < kNarratedMax && std::find(ops.begin(), ops.end(), id.value) == ops.end()) {
      ops.push_back(id.value);
    }
  };
  for (const Involved& i : violations.front().involved) add(i.op);
  if (!violations.front().involved.empty() && recorded(history, violations.front().involved.front().op)) {
    const Operation& op = history.record(violations.front().involved.front().op).op;
    for (const NodeFinal& f : history.finals) {
      if (story.differs.count(f.node.value)) add(final_of(f, op).shown);
    }
  }
  for (const Violation& v : violations) {
    for (const Involved& i : v.involved) add(i.op);
  }
  return ops;
}

/// When `k` reached `node`: issued there, or the first delivery that could have carried it.
std::optional<std::int64_t> reached(const Knowledge& k, std::uint32_t node) {
  if (k.client == node) return k.issued_t;
  auto it = k.learned.find(node);
  if (it == k.learned.end()) return std::nullopt;
  return it->second;
}

/// Where a value shown in place of the first named operation arrived at a node that had it already:
/// the overwrite. Labelled on the operation's own client first, then servers, at most twice; a value
/// that arrived before the lost operation did is no overwrite and gets no label.
void overwrites(const History& history, const std::vector<Knowledge>& known, Story& story) {
  constexpr std::size_t kLabelsMax = 2;
  const Knowledge& lost_k = known.front();
  const Operation& lost = history.record(OpId{lost_k.op}).op;
  std::vector<std::uint32_t> order;
  if (story.differs.count(lost_k.client)) order.push_back(lost_k.client);
  for (std::uint32_t n : story.differs) {
    if (n != lost_k.client) order.push_back(n);
  }
  std::size_t labels = 0;
  for (std::uint32_t node : order) {
    auto f = std::find_if(history.finals.begin(), history.finals.end(), [&](const NodeFinal& x) { return x.node.value == node; });
    if (f == history.finals.end() || labels >= kLabelsMax) continue;
    const OpId shown = final_of(*f, lost).shown;
    const auto had = reached(lost_k, node);
    for (const Knowledge& k : known) {
      if (k.op != shown.value || k.op == lost_k.op) continue;
      const auto at = reached(k, node);
      if (!at || !had || *at < *had) continue;
      story.moments.push_back({*at, node, fmt::format("op{} overwrites op{}", k.op, lost_k.op), true});
      ++labels;
    }
  }
}

}  // namespace

Story tell(const Schedule& schedule, const std::vector<TraceLine>& events, const std::vector<Violation>& violations,
           const History& history) {
  Story story;
  if (violations.empty()) return story;
  story.told = true;
  std::int64_t end_t = std::max<std::int64_t>(schedule.end().us, events.empty() ? 0 : events.back().t);
  const Violation& v = violations.front();
  const bool named = !v.involved.empty() && recorded(history, v.involved.front().op);
  if (named) finals(history, history.record(v.involved.front().op).op, story);

  std::vector<Knowledge> known;
  for (std::uint64_t op : narrated(violations, history, story)) {
    auto issued = std::find_if(events.begin(), events.end(), [&](const TraceLine& e) { return e.kind == "operation" && e.a == op; });
    if (issued == events.end()) continue;
    Knowledge k;
    k.op = op;
    k.client = issued->node;
    k.issued_t = issued->t;
    k.issued_index = static_cast<std::size_t>(issued - events.begin());
    k.last_t = issued->t;
    k.first_named = named && op == v.involved.front().op.value;
    const OpRecord& r = history.record(OpId{op});
    story.moments.push_back({k.issued_t, k.client, fmt::format("op{} {}", op, short_op(r.op)), false});
    spread(events, k, end_t, story);
    lifecycle(events, k, story);
    known.push_back(std::move(k));
  }
  const Knowledge* first = nullptr;
  if (named && !known.empty() && known.front().op == v.involved.front().op.value) {
    first = &known.front();
    overwrites(history, known, story);
  }
  std::set<std::size_t> faults;
  for (const Knowledge& k : known) {
    // Only the named operations' faults: a value shown instead reached its node, so nothing cut it.
    const bool involved = std::any_of(v.involved.begin(), v.involved.end(), [&](const Involved& i) { return i.op.value == k.op; });
    if (involved) cutting_faults(schedule, k, end_t, faults);
  }
  // A crash that took the operation from a node that ends without it cut its path, whenever it came.
  for (std::size_t i = 0; i < schedule.faults.size(); ++i) {
    const ScheduledFault& f = schedule.faults[i];
    for (const auto& [node, t] : story.losing_crashes) {
      const auto crashed = node;  // Clang 14 cannot capture a structured binding
      const bool on_node = std::any_of(f.side_a.begin(), f.side_a.end(), [&](NodeId n) { return n.value == crashed; });
      const bool crash = f.kind == FaultKind::crash || f.kind == FaultKind::crash_after_flush;
      if (crash && on_node && f.start.us <= t && t <= f.end().us) faults.insert(i);
    }
  }
  story.faults.assign(faults.begin(), faults.end());
  for (std::size_t i : story.faults) {
    const ScheduledFault& f = schedule.faults[i];
    for (NodeId n : f.side_a) {
      story.moments.push_back({f.start.us, n.value, fmt::format("{} {}", to_string(f.kind), span(f)), true});
    }
  }
  std::stable_sort(story.moments.begin(), story.moments.end(),
                   [](const Moment& a, const Moment& b) { return std::tie(a.t, a.node) < std::tie(b.t, b.node); });
  story.caption = caption(schedule, v, history, story, first);
  return story;
}

}  // namespace syncstorm::story
