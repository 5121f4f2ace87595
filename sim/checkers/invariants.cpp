// The invariant checkers. Each one reads the History the engine recorded from its own envelopes and
// flags only what a user would call data loss, never what the strategy's SupersedeRule promises.
//
// Shape of the work, so that 10^5 operations stay cheap:
// - Live replicas are grouped by identical final state: after convergence thousands of clients share
//   one state, which is then read once. Reports name the first node (in node order) of a group.
// - Operations are grouped by key once. The only quadratic loops run over one key's candidates and
//   stop at the first legitimate superseder or the first uncovered write. They scan from the latest
//   issued operation back, because an operation issued later cannot have happened before an earlier
//   one: the first candidate usually settles the question.
// - A write is only checked for a superseder once a replica is found without it. A remove excuses
//   only an item that is gone; an item shown with the value an acknowledged remove took away is that
//   remove's resurrection (remove_of_value), and the item's writes are then not reported again.
//
// Choices a reader of a report should know:
// - Divergence is one violation naming the first node outside the majority state, with the count
//   and a few ids of the others, instead of one line per client. Bounded metadata likewise names
//   the first node over the bound and counts the rest.
// - Bounded metadata is judged twice: against the scenario's absolute bound, and against its own
//   growth: a node's end may hold at most what it held at a sample in the first half of the writes,
//   scaled by how much its visible state and its writers grew since (times a slack, plus a floor).
//   A sibling, tombstone or log entry kept per write outgrows that; what a model declares it keeps
//   by design (ModelInfo::metadata_growth) is left to the absolute bound, and a model that declares
//   it keeps every change for ever (Automerge) to neither: its size is a figure, not a finding.
// - The convergence time is only judged when at least two live replicas hold a state: a single
//   replica trivially agrees with itself. It runs from the last heal, or from the moment the last
//   client without its connection at the heal had it again (History::clients_back): the reconnect
//   backoff is the scenario's, the same for every strategy; never agreeing is never excused.
// - Under server order another unrejected write to the key may supersede unless the users saw it
//   ordered first: the writer's own earlier write (monotonic writes), or a write acknowledged to its
//   user or shown on the writer's replica before the write was issued (server_may_order_after). A
//   remove may supersede an add unless the add's client had already seen the remove.
// - A silent rollback is looked for first on its own client's replica, because that is what its
//   user sees. Operations never issued are ignored; rejected ones may vanish, unless they were also
//   acknowledged: an acknowledgement stands whatever the model reports before or after it.
// - A write that the replicas of the largest state hold (more of them than any state without it) is
//   not lost: the replicas without it diverged, and the divergence violation names them. Reporting
//   it again as a lost write or a rollback would count one stall many times, once per write it
//   kept from the stalled replicas. With convergence off, or when the largest state lacks the write
//   too, it is reported as lost. With convergence on, a write is judged on the first replica
//   without it (the divergence names the rest); with it off, on every replica without it.
// - Monotonic reads and read-your-writes are judged on client views the engine samples every
//   100 ms (History::view_regressions): a view that moves from a write to one users saw ordered
//   before it (directly or through a chain of writes, walked back at most kViewChainMax writes per
//   regression, so at most kViewRegressionsMax x kViewChainMax steps a run), or loses it with no
//   remove that may take that value away, went back in time. It is read-your-writes when the
//   write shown first was the replica's own user's, monotonic reads otherwise. A write rejected by
//   then may vanish; a crash starts a new session. Transient views between two samples go unseen.
// - A client a malicious fault turns hostile (History::untrusted) has a dishonest user, to whom a
//   server owes nothing: it may drop that client's writes or cut it off. So its replica is left out
//   of every state check (convergence, phantoms, metadata) and its writes are never reported lost
//   or rolled back. Its issued operations remain real writes: their values are legitimate on honest
//   replicas and may supersede honest writes. A counter has no per-user view, so the counter check
//   still sums the hostile client's applied increments like anyone's.
// - A counter state is one number, so a lost increment and a doubled one of the same amount cancel.
//   The workload draws amounts of 1 to 1,000 (either sign) so that this takes a coincidence, and a
//   report names the increments whose amount alone explains the difference.
#include "sim/checkers/invariants.hpp"

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include <fmt/format.h>

namespace syncstorm {
namespace {

constexpr std::size_t kReportWidth = 100;  ///< columns of a formatted violation
constexpr std::size_t kNodesNamed = 6;     ///< how many differing nodes a convergence report lists

// ---------------------------------------------------------------------------------------------
// Display helpers.

std::string format_ms(Instant at) {
  const std::int64_t us = at.us < 0 ? -at.us : at.us;
  return fmt::format("{}{}.{:03} ms", at.us < 0 ? "-" : "", us / 1'000, us % 1'000);
}

std::string format_seconds(Duration d) {
  const std::int64_t us = d.us < 0 ? -d.us : d.us;
  return fmt::format("{}{}.{:03} s", d.us < 0 ? "-" : "", us / 1'000'000, (us / 1'000) % 1'000);
}

std::string op_name(OpId id) { return fmt::format("op{}", id.value); }

bool is_recorded(const History& history, OpId id) {
  return id.value >= 1 && id.value <= history.ops.size();
}

/// Whether the write's user was told it failed and never that it was saved. An acknowledgement is a
/// promise that the write is kept: a rejection reported after it does not take it back, and one
/// reported before it is overruled by it, so neither excuses the write's absence.
bool told_failed(const OpRecord& r) { return r.rejected.has_value() && !r.acknowledged.has_value(); }

// ---------------------------------------------------------------------------------------------
// Subjects. Reports are sorted by invariant, then subject, then op id; subjects sort by kind and
// then numerically, so "item 10" comes after "item 2".

enum class SubjectKind : std::uint8_t { replicas, field, item, element, counter, node };

struct Subject {
  SubjectKind kind = SubjectKind::replicas;
  std::uint64_t number = 0;

  auto operator<=>(const Subject&) const = default;
  std::string name() const {
    switch (kind) {
      case SubjectKind::replicas: return "all replicas";
      case SubjectKind::field: return fmt::format("field {}", number);
      case SubjectKind::item: return fmt::format("item {}", number);
      case SubjectKind::element: return fmt::format("text element op{}", number);
      case SubjectKind::counter: return "counter";
      case SubjectKind::node: return fmt::format("node {}", number);
    }
    return "?";
  }
};

/// The subject a state-writing operation concerns: its field, its item or its own text element.
Subject subject_of(const Operation& op) {
  switch (data_type_of(op.kind)) {
    case DataType::map: return {SubjectKind::field, op.key.value};
    case DataType::list: return {SubjectKind::item, op.key.value};
    case DataType::counter: return {SubjectKind::counter, 0};
    case DataType::text: return {SubjectKind::element, op.id.value};
  }
  return {};
}

struct Finding {
  Invariant invariant = Invariant::convergence;
  Subject subject;
  OpId op;  ///< the operation the finding is about, for ordering; zero when none
  Violation violation;
};

/// Collects findings, keeping each (invariant, subject) once.
class Findings {
 public:
  bool has(Invariant invariant, Subject subject) const {
    return seen_.contains({invariant, subject});
  }
  void add(Invariant invariant, Subject subject, OpId op, Violation violation) {
    if (!seen_.insert({invariant, subject}).second) return;
    violation.invariant = invariant;
    violation.subject = subject.name();
    all_.push_back({invariant, subject, op, std::move(violation)});
  }
  std::vector<Violation> sorted() && {
    std::stable_sort(all_.begin(), all_.end(), [](const Finding& a, const Finding& b) {
      return std::tie(a.invariant, a.subject, a.op) < std::tie(b.invariant, b.subject, b.op);
    });
    std::vector<Violation> out;
    out.reserve(all_.size());
    for (Finding& f : all_) out.push_back(std::move(f.violation));
    return out;
  }

 private:
  std::set<std::pair<Invariant, Subject>> seen_;
  std::vector<Finding> all_;
};

// ---------------------------------------------------------------------------------------------
// Final states, grouped.

/// One distinct final state and the live nodes that hold it.
struct StateGroup {
  const State* state = nullptr;
  std::vector<NodeId> nodes;  ///< in node order; nodes.front() is the node reports name
  std::vector<const CausalPast*> pasts;  ///< NodeFinal::past of each of `nodes` (null: anything)
  /// Sorted (key, value) pairs for membership tests: map fields, list items, or text elements
  /// under key 0.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> entries;

  bool holds(std::uint32_t key, OpId value) const {
    return std::binary_search(entries.begin(), entries.end(), std::pair{key, value.value});
  }
};

struct Snapshot {
  std::vector<StateGroup> groups;         ///< ordered by their first node
  std::map<NodeId, std::size_t> group_of;
  std::size_t nodes = 0;                  ///< live nodes that hold a state
};

std::vector<std::pair<std::uint32_t, std::uint64_t>> entries_of(const State& state, DataType type) {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> entries;
  switch (type) {
    case DataType::map:
      for (const auto& [key, value] : state.fields) entries.emplace_back(key.value, value.value);
      break;
    case DataType::list:
      for (const Item& item : state.items) entries.emplace_back(item.id.value, item.value.value);
      break;
    case DataType::text:
      for (OpId element : state.text) entries.emplace_back(0, element.value);
      break;
    case DataType::counter: break;
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

Snapshot take_snapshot(const History& history) {
  std::vector<const NodeFinal*> live;
  for (const NodeFinal& final_state : history.finals) {
    if (final_state.live && final_state.state && !history.is_untrusted(final_state.node)) live.push_back(&final_state);
  }
  std::stable_sort(live.begin(), live.end(),
                   [](const NodeFinal* a, const NodeFinal* b) { return a->node < b->node; });
  Snapshot snapshot;
  snapshot.nodes = live.size();
  std::map<std::uint64_t, std::vector<std::size_t>> by_digest;
  for (const NodeFinal* node : live) {
    const State& state = *node->state;
    std::vector<std::size_t>& candidates = by_digest[state.digest()];
    auto same = std::find_if(candidates.begin(), candidates.end(),
                             [&](std::size_t g) { return *snapshot.groups[g].state == state; });
    std::size_t group = same != candidates.end() ? *same : snapshot.groups.size();
    if (same == candidates.end()) {
      snapshot.groups.push_back({&state, {}, {}, entries_of(state, history.type)});
      candidates.push_back(group);
    }
    snapshot.groups[group].nodes.push_back(node->node);
    snapshot.groups[group].pasts.push_back(node->past.get());
    snapshot.group_of[node->node] = group;
  }
  return snapshot;
}

// ---------------------------------------------------------------------------------------------
// Operations, grouped by key.

/// One key's operations, ordered by issue time (then id). An operation issued later cannot have
/// happened before an earlier one, so scans from the back meet concurrent or later ones first.
struct KeyOps {
  std::vector<OpId> writes;   ///< issued sets, adds and updates
  std::vector<OpId> removes;  ///< issued list removes
};

struct OpIndex {
  std::map<KeyId, KeyOps> by_key;                  ///< map and list
  std::map<OpId, std::vector<OpId>> deletes_of;    ///< text: element -> deletes that removed it
};

bool writes_state(OpKind kind) {
  return kind == OpKind::map_set || kind == OpKind::list_add || kind == OpKind::list_update ||
         kind == OpKind::text_insert;
}

OpIndex index_ops(const History& history) {
  OpIndex index;
  for (const OpRecord& record : history.ops) {
    if (!record.issued || data_type_of(record.op.kind) != history.type) continue;
    const OpKind kind = record.op.kind;
    if (kind == OpKind::list_remove) {
      index.by_key[record.op.key].removes.push_back(record.op.id);
    } else if (kind == OpKind::text_delete) {
      if (record.target.valid()) index.deletes_of[record.target].push_back(record.op.id);
    } else if (kind != OpKind::text_insert && writes_state(kind)) {
      index.by_key[record.op.key].writes.push_back(record.op.id);
    }
  }
  auto by_issue = [&history](OpId a, OpId b) {
    return std::pair{history.record(a).op.issued_at, a} < std::pair{history.record(b).op.issued_at, b};
  };
  for (auto& [key, ops] : index.by_key) {
    std::stable_sort(ops.writes.begin(), ops.writes.end(), by_issue);
    std::stable_sort(ops.removes.begin(), ops.removes.end(), by_issue);
  }
  return index;
}

/// The value a group shows for `key` (the first one if the key appears twice), if any.
std::optional<OpId> value_at(const StateGroup& group, std::uint32_t key) {
  auto it = std::lower_bound(group.entries.begin(), group.entries.end(), std::pair{key, std::uint64_t{0}});
  if (it == group.entries.end() || it->first != key) return std::nullopt;
  return OpId{it->second};
}

// ---------------------------------------------------------------------------------------------
// 1. Convergence.

struct Difference {
  std::string text;
  std::vector<Involved> involved;
};

std::string shown(std::optional<OpId> value) { return value ? op_name(*value) : "nothing"; }

/// The first key whose value differs between two sorted (key, value) lists.
Difference keyed_difference(const StateGroup& a, const StateGroup& b, std::string_view noun,
                            std::string_view name_a, std::string_view name_b) {
  std::set<std::uint32_t> keys;
  for (const auto& entry : a.entries) keys.insert(entry.first);
  for (const auto& entry : b.entries) keys.insert(entry.first);
  for (std::uint32_t key : keys) {
    const std::optional<OpId> va = value_at(a, key);
    const std::optional<OpId> vb = value_at(b, key);
    if (va == vb) continue;
    Difference d{fmt::format("{} {} holds {} on {} but {} on {}", noun, key, shown(va), name_a,
                             shown(vb), name_b), {}};
    if (va) d.involved.push_back({*va, fmt::format("value on {}", name_a)});
    if (vb) d.involved.push_back({*vb, fmt::format("value on {}", name_b)});
    return d;
  }
  return {fmt::format("the same {}s appear in a different order or more than once", noun), {}};
}

Difference text_difference(const State& a, const State& b, std::string_view name_a,
                           std::string_view name_b) {
  const std::size_t common = std::min(a.text.size(), b.text.size());
  for (std::size_t i = 0; i < common; ++i) {
    if (a.text[i] == b.text[i]) continue;
    return {fmt::format("element {} is {} on {} but {} on {}", i, op_name(a.text[i]), name_a,
                        op_name(b.text[i]), name_b),
            {{a.text[i], fmt::format("element on {}", name_a)},
             {b.text[i], fmt::format("element on {}", name_b)}}};
  }
  return {fmt::format("{} has {} elements but {} has {}", name_a, a.text.size(), name_b,
                      b.text.size()), {}};
}

Difference first_difference(const StateGroup& a, const StateGroup& b, std::string_view name_a,
                            std::string_view name_b) {
  if (a.state->type != b.state->type) return {"the replicas hold different data types", {}};
  switch (a.state->type) {
    case DataType::map: return keyed_difference(a, b, "field", name_a, name_b);
    case DataType::list: {
      if (a.entries != b.entries) return keyed_difference(a, b, "item", name_a, name_b);
      return {"the same items appear in a different order", {}};
    }
    case DataType::counter:
      return {fmt::format("the counter is {} on {} but {} on {}", a.state->counter, name_a,
                          b.state->counter, name_b), {}};
    case DataType::text: return text_difference(*a.state, *b.state, name_a, name_b);
  }
  return {"the states differ", {}};
}

/// The group most nodes agree on; on a tie the one whose first node comes first.
std::size_t majority_group(const Snapshot& snapshot) {
  std::size_t best = 0;
  for (std::size_t g = 1; g < snapshot.groups.size(); ++g) {
    if (snapshot.groups[g].nodes.size() > snapshot.groups[best].nodes.size()) best = g;
  }
  return best;
}

std::string node_list(const Snapshot& snapshot, std::size_t skip_group, std::size_t& count) {
  std::vector<NodeId> nodes;
  for (std::size_t g = 0; g < snapshot.groups.size(); ++g) {
    if (g == skip_group) continue;
    nodes.insert(nodes.end(), snapshot.groups[g].nodes.begin(), snapshot.groups[g].nodes.end());
  }
  std::sort(nodes.begin(), nodes.end());
  count = nodes.size();
  std::string out;
  for (std::size_t i = 0; i < nodes.size() && i < kNodesNamed; ++i) {
    out += fmt::format("{}{}", i ? ", " : "", nodes[i].value);
  }
  if (nodes.size() > kNodesNamed) out += fmt::format(" and {} more", nodes.size() - kNodesNamed);
  return out;
}

void check_divergence(const Snapshot& snapshot, Findings& findings) {
  if (snapshot.groups.size() < 2) return;
  const std::size_t reference = majority_group(snapshot);
  const std::size_t first = reference == 0 ? 1 : 0;
  const StateGroup& ref = snapshot.groups[reference];
  const StateGroup& odd = snapshot.groups[first];
  const std::string ref_name = fmt::format("node {}", ref.nodes.front().value);
  const std::string odd_name = fmt::format("node {}", odd.nodes.front().value);
  std::size_t differing = 0;
  const std::string listed = node_list(snapshot, reference, differing);
  Difference diff = first_difference(ref, odd, ref_name, odd_name);
  Violation v;
  v.expected = fmt::format("the state of {} (held by {} of {} live replicas): {}", ref_name,
                           ref.nodes.size(), snapshot.nodes, ref.state->describe());
  v.observed = odd.state->describe();
  v.detail = fmt::format("{} of {} live replicas end in another state ({} {}). First difference: "
                         "{}.", differing, snapshot.nodes, differing == 1 ? "node" : "nodes", listed,
                         diff.text);
  v.involved = std::move(diff.involved);
  findings.add(Invariant::convergence, {SubjectKind::node, odd.nodes.front().value}, {}, std::move(v));
}

void check_convergence_time(const History& history, const Snapshot& snapshot,
                            const InvariantOptions& options, Findings& findings) {
  // One replica agrees with itself: the engine need not record a moment of agreement for it.
  if (snapshot.nodes < 2) return;
  Violation v;
  v.expected = fmt::format("agreement within {} of the last heal", format_seconds(options.convergence_bound));
  if (!history.converged_at) {
    v.observed = "never agreed";
    v.detail = fmt::format("The live replicas never held identical states after the last heal at "
                           "{}; the run ended at {}.", format_ms(history.last_heal), format_ms(history.end));
  } else if (history.clients_back && *history.clients_back > history.last_heal) {
    // A client was still without its connection at the heal: the bound runs from its return.
    const Instant back = *history.clients_back;
    if (*history.converged_at <= back || *history.converged_at - back <= options.convergence_bound) return;
    const Duration took = *history.converged_at - back;
    v.expected = fmt::format("agreement within {} of the last client's reconnection after the heal",
                             format_seconds(options.convergence_bound));
    v.observed = fmt::format("agreement {} after it", format_seconds(took));
    v.detail = fmt::format("The live replicas agreed only at {}, {} after the last client without its "
                           "connection at the heal ({}) had it again at {}; the bound is {}.",
                           format_ms(*history.converged_at), format_seconds(took), format_ms(history.last_heal),
                           format_ms(back), format_seconds(options.convergence_bound));
  } else {
    const Duration took = *history.converged_at - history.last_heal;
    if (took <= options.convergence_bound) return;
    v.observed = fmt::format("agreement {} after the last heal", format_seconds(took));
    v.detail = fmt::format("The live replicas agreed only at {}, {} after the last heal at {}; the "
                           "bound is {}.", format_ms(*history.converged_at), format_seconds(took),
                           format_ms(history.last_heal), format_seconds(options.convergence_bound));
  }
  findings.add(Invariant::convergence, {SubjectKind::replicas, 0}, {}, std::move(v));
}

// ---------------------------------------------------------------------------------------------
// Server order, judged by what users saw.

/// Whether a server that serialises writes may have ordered `other` after `write`, judged by what
/// the users saw rather than by the engine's happens-before (which counts any message chain, the
/// reconnect handshakes too, and would call a resent offline write "earlier" than one the server
/// legitimately applied before it). The server may order concurrent writes as it likes, but never:
/// - a client's own earlier write after its later one (monotonic writes);
/// - a write it had already applied before `write` was issued: one acknowledged to its own user, or
///   shown on `write`'s client, before `write` existed.
bool server_may_order_after(const OpRecord& other, const OpRecord& write) {
  if (other.op.client == write.op.client) return other.sequence > write.sequence;
  if (other.acknowledged && *other.acknowledged < write.op.issued_at) return false;
  return std::find(write.seen_before.begin(), write.seen_before.end(), other.op.id) == write.seen_before.end();
}

// ---------------------------------------------------------------------------------------------
// 2. Resurrection.

/// Whether `write` certainly came before the value `target` that `remove` took away, so that the
/// remove covers it. Under server order this is judged by what users saw, as for lost writes (see
/// server_may_order_after): the engine's happens-before would count a write whose message was
/// still on its way to the server, stalled behind a latency tail, because a later handshake of its
/// client carried its causal past; the server may then legitimately apply it after the remove.
bool ordered_before_remove(const History& history, const OpRecord& write, const OpRecord& remove, const OpRecord& target) {
  if (history.rule != SupersedeRule::server_order) return history.happened_before(write.op.id, target.op.id);
  return !server_may_order_after(write, target) || !server_may_order_after(write, remove);
}

/// Whether remove `r` took away a value covering every add and update of its item: acknowledged,
/// nothing may bring the item back after it. A remove covers what its replica showed (the value
/// it reports as its target) and that value's causal past; a remove of an item its user could not
/// see covers nothing. (The engine's happens-before says what a replica *could* have seen through
/// any message; the target says what it did see, so blind removes raise no false alarm.)
bool remove_covers(const History& history, const KeyOps& ops, const OpRecord& r) {
  if (told_failed(r) || !r.target.valid() || !is_recorded(history, r.target)) return false;
  for (auto it = ops.writes.rbegin(); it != ops.writes.rend(); ++it) {
    const OpRecord& write = history.record(*it);
    if (told_failed(write) || *it == r.target) continue;
    if (!ordered_before_remove(history, write, r, history.record(r.target))) return false;
  }
  return true;
}

/// The first acknowledged remove that covers every add and update of its item (remove_covers).
std::optional<OpId> covering_remove(const History& history, const KeyOps& ops) {
  for (OpId remove : ops.removes) {
    const OpRecord& r = history.record(remove);
    if (r.acknowledged && remove_covers(history, ops, r)) return remove;
  }
  return std::nullopt;
}

/// Whether `first` certainly came before `write` of the same item, so that `write` wins over it
/// under the rule: by the engine's happens-before, or under server order by what users saw (see
/// server_may_order_after).
bool certainly_before(const History& history, const OpRecord& first, const OpRecord& write) {
  if (history.rule == SupersedeRule::server_order) return !server_may_order_after(first, write);
  return history.happened_before(first.op.id, write.op.id);
}

/// An acknowledged remove that took away the value `shown` itself, when nothing may have kept that
/// value alive: the remove's target is `shown` or came after it, and every add or update of the item
/// the remove did not cover came after `shown` too, so it would win over `shown` were it alive. The
/// item may then be absent, or show a write the remove did not cover, but not `shown`: a remove that
/// does not cover every write (remove_covers) still stays done for the value it took away.
std::optional<OpId> remove_of_value(const History& history, const KeyOps& ops, KeyId key, OpId shown) {
  if (!is_recorded(history, shown)) return std::nullopt;
  const OpRecord& value = history.record(shown);
  if (value.op.key != key || !writes_state(value.op.kind) || told_failed(value)) return std::nullopt;
  for (OpId remove : ops.removes) {
    const OpRecord& r = history.record(remove);
    if (!r.acknowledged || told_failed(r) || !r.target.valid() || !is_recorded(history, r.target)) continue;
    const OpRecord& target = history.record(r.target);
    if (shown != r.target && !ordered_before_remove(history, value, r, target)) continue;
    const bool nothing_kept_it = std::all_of(ops.writes.rbegin(), ops.writes.rend(), [&](OpId id) {
      const OpRecord& write = history.record(id);
      return told_failed(write) || id == shown || id == r.target || ordered_before_remove(history, write, r, target) ||
             certainly_before(history, value, write);
    });
    if (nothing_kept_it) return remove;
  }
  return std::nullopt;
}

/// `covering`: the remove covered every add and update of the item (covering_remove); otherwise it
/// took away the value shown, which every write it did not cover would win over (remove_of_value).
void report_resurrection(const History& history, const StateGroup& group, KeyId key, OpId remove, bool covering,
                         Findings& findings) {
  const std::optional<OpId> value = value_at(group, key.value);
  const std::string node = fmt::format("node {}", group.nodes.front().value);
  Violation v;
  v.expected = covering ? fmt::format("item {} absent", key.value)
                        : fmt::format("item {} absent or showing a write remove {} did not see", key.value,
                                      op_name(remove));
  v.observed = fmt::format("item {} = {} on {}", key.value, shown(value), node);
  v.detail = covering ? fmt::format("Node {} still shows item {} although remove {} was acknowledged and had "
                                    "seen every add and update of the item, so no concurrent add explains it.",
                                    group.nodes.front().value, key.value, op_name(remove))
                      : fmt::format("Node {} shows item {} with the value {} that remove {} took away, although "
                                    "the remove was acknowledged and every write of the item it did not see came "
                                    "after that value, so none could have kept it.",
                                    group.nodes.front().value, key.value, shown(value), op_name(remove));
  v.involved.push_back({remove, "acknowledged remove"});
  if (value && is_recorded(history, *value)) v.involved.push_back({*value, "value shown"});
  findings.add(Invariant::resurrection, {SubjectKind::item, key.value}, remove, std::move(v));
}

bool live_at_end(const History& history, NodeId node) {
  for (const NodeFinal& f : history.finals) {
    if (f.node == node) return f.live;
  }
  return false;
}

bool enabled(const InvariantOptions& options, Invariant invariant) {
  return std::find(options.enabled.begin(), options.enabled.end(), invariant) != options.enabled.end();
}

/// Whether the largest state lacks text element `element` while every state that shows it is
/// smaller: then those replicas diverged (they missed its delete) and the divergence violation
/// names them, as for a write the largest state holds (check_absences).
bool dropped_by_the_largest_state(const Snapshot& snapshot, OpId element) {
  if (snapshot.groups.size() < 2) return false;
  const StateGroup& largest = snapshot.groups[majority_group(snapshot)];
  if (largest.holds(0, element)) return false;
  for (const StateGroup& group : snapshot.groups) {
    if (group.holds(0, element) && group.nodes.size() >= largest.nodes.size()) return false;
  }
  return true;
}

void report_undeleted(const History& history, const StateGroup& group, OpId element, const OpRecord& del,
                      Invariant invariant, Findings& findings) {
  const bool acked = invariant == Invariant::resurrection;
  const NodeId node = acked ? group.nodes.front() : del.op.client;
  Violation v;
  v.expected = fmt::format("element {} absent", op_name(element));
  v.observed = fmt::format("element {} present on node {}{}", op_name(element), node.value,
                           acked ? "" : " (the deleting client)");
  v.detail = acked ? fmt::format("Node {} still shows element {} although delete {} that removed it was "
                                 "acknowledged: a text element is inserted once, so nothing may bring it back.",
                                 node.value, op_name(element), op_name(del.op.id))
                   : fmt::format("Delete {} removed element {} for its user at {} and was never acknowledged "
                                 "nor rejected, yet the user's own replica, node {}, ends showing the element again.",
                                 op_name(del.op.id), op_name(element), format_ms(*del.applied), node.value);
  v.involved.push_back({del.op.id, acked ? "acknowledged delete" : "applied, unacknowledged delete"});
  if (is_recorded(history, element)) v.involved.push_back({element, "element shown"});
  findings.add(invariant, {SubjectKind::element, element.value}, del.op.id, std::move(v));
}

/// Text deletes that did not stay done. An element is inserted once and a delete names the element
/// its replica removed, so under every rule a shown element whose delete was acknowledged came back
/// (resurrection), and one whose delete its live user was never answered about was undone on that
/// user's own replica without a word (silent rollback). A replica that never received the delete,
/// when the largest state has it, diverged instead (see dropped_by_the_largest_state).
void check_text_deletes(const History& history, const Snapshot& snapshot, const OpIndex& index,
                        const InvariantOptions& options, Findings& findings) {
  const bool resurrection = enabled(options, Invariant::resurrection);
  const bool rollback = enabled(options, Invariant::silent_rollback);
  for (const StateGroup& group : snapshot.groups) {
    for (OpId element : group.state->text) {
      auto deletes = index.deletes_of.find(element);
      if (deletes == index.deletes_of.end()) continue;
      const Subject subject{SubjectKind::element, element.value};
      for (OpId id : deletes->second) {
        const OpRecord& del = history.record(id);
        if (told_failed(del) || !del.applied || history.is_untrusted(del.op.client)) continue;
        if (del.acknowledged) {
          if (!resurrection || findings.has(Invariant::resurrection, subject)) continue;
          if (enabled(options, Invariant::convergence) && dropped_by_the_largest_state(snapshot, element)) continue;
          report_undeleted(history, group, element, del, Invariant::resurrection, findings);
        } else if (rollback && !findings.has(Invariant::silent_rollback, subject) && live_at_end(history, del.op.client) &&
                   std::binary_search(group.nodes.begin(), group.nodes.end(), del.op.client)) {
          report_undeleted(history, group, element, del, Invariant::silent_rollback, findings);
        }
      }
    }
  }
}

void check_resurrection(const History& history, const Snapshot& snapshot, const OpIndex& index,
                        Findings& findings) {
  if (history.type != DataType::list) return;
  std::map<KeyId, std::optional<OpId>> covering;
  for (const StateGroup& group : snapshot.groups) {
    for (const Item& item : group.state->items) {
      if (findings.has(Invariant::resurrection, {SubjectKind::item, item.id.value})) continue;
      auto ops = index.by_key.find(item.id);
      if (ops == index.by_key.end()) continue;
      auto [cached, fresh] = covering.try_emplace(item.id);
      if (fresh) cached->second = covering_remove(history, ops->second);
      if (cached->second) {
        report_resurrection(history, group, item.id, *cached->second, true, findings);
      } else if (const auto remove = remove_of_value(history, ops->second, item.id, item.value)) {
        report_resurrection(history, group, item.id, *remove, false, findings);
      }
    }
  }
}

void report_undone_remove(const History& history, const StateGroup& group, KeyId key, const OpRecord& remove,
                          Findings& findings) {
  const std::optional<OpId> value = value_at(group, key.value);
  Violation v;
  v.expected = fmt::format("item {} absent", key.value);
  v.observed = fmt::format("item {} = {} on node {} (the removing client)", key.value, shown(value), remove.op.client.value);
  v.detail = fmt::format("Remove {} took item {} away for its user at {} and was never acknowledged nor "
                         "rejected, yet the user's own replica, node {}, ends showing the item again, and the "
                         "remove had seen every add and update of it.",
                         op_name(remove.op.id), key.value, format_ms(*remove.applied), remove.op.client.value);
  v.involved.push_back({remove.op.id, "applied, unacknowledged remove"});
  if (value && is_recorded(history, *value)) v.involved.push_back({*value, "value shown"});
  findings.add(Invariant::silent_rollback, {SubjectKind::item, key.value}, remove.op.id, std::move(v));
}

/// List removes undone without a word: a remove its live user was never answered about, which had
/// seen every add and update of its item (as covering_remove asks of an acknowledged one), while
/// that user's own replica ends showing the item. An acknowledged one is a resurrection instead.
void check_undone_removes(const History& history, const Snapshot& snapshot, const OpIndex& index,
                          Findings& findings) {
  for (const auto& [key, ops] : index.by_key) {
    const Subject subject{SubjectKind::item, key.value};
    for (OpId id : ops.removes) {
      const OpRecord& r = history.record(id);
      if (r.acknowledged || told_failed(r) || !r.applied || history.is_untrusted(r.op.client)) continue;
      if (findings.has(Invariant::silent_rollback, subject) || findings.has(Invariant::resurrection, subject)) break;
      auto own = snapshot.group_of.find(r.op.client);
      if (own == snapshot.group_of.end() || !live_at_end(history, r.op.client)) continue;
      const StateGroup& group = snapshot.groups[own->second];
      if (!value_at(group, key.value) || !remove_covers(history, ops, r)) continue;
      report_undone_remove(history, group, key, r, findings);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 3 and 4. Lost acknowledged writes and silent rollbacks.

/// Whether remove `remove` may come after write `write` of its item, under any rule: under server
/// order by what users saw (server_may_order_after), otherwise unless it happened before the write.
bool remove_may_follow(const History& history, const OpRecord& remove, const OpRecord& write) {
  return history.rule == SupersedeRule::server_order ? server_may_order_after(remove, write)
                                                     : !history.happened_before(remove.op.id, write.op.id);
}

/// Under server order: whether an add of the item certainly came between `remove` and `update`,
/// bringing the item back for the update to change. Certainly applied (acknowledged, or shown on
/// the update's client before it wrote), certainly after the remove and before the update.
bool readded_between(const History& history, const KeyOps& ops, const OpRecord& remove, const OpRecord& update) {
  for (OpId id : ops.writes) {
    const OpRecord& add = history.record(id);
    if (add.op.kind != OpKind::list_add || told_failed(add)) continue;
    const bool applied = add.acknowledged.has_value() ||
                         std::find(update.seen_before.begin(), update.seen_before.end(), id) != update.seen_before.end();
    if (applied && !server_may_order_after(remove, add) && !server_may_order_after(add, update)) return true;
  }
  return false;
}

/// Whether `remove` may legitimately take away write `write` of the same item under `rule`.
/// Add-wins: only a remove that had seen the write. Otherwise a concurrent or later remove may win.
bool remove_supersedes(const History& history, const KeyOps& ops, OpId remove, OpId write) {
  switch (history.rule) {
    case SupersedeRule::add_wins: return history.happened_before(write, remove);
    case SupersedeRule::server_order: {
      // Ordered after the write, the remove takes the item away. Ordered before an update, it
      // leaves the update no item to change, unless an add the server certainly applied between
      // the two brought the item back. An add ordered after the remove stays.
      const OpRecord& r = history.record(remove);
      const OpRecord& w = history.record(write);
      if (server_may_order_after(r, w)) return true;
      return w.op.kind == OpKind::list_update && !readded_between(history, ops, r, w);
    }
    case SupersedeRule::remove_wins:
    case SupersedeRule::last_writer_wins: return !history.happened_before(remove, write);
  }
  return true;
}

/// Whether `op` can have changed what a node with causal past `past` shows: it is the node's own,
/// or a message carried it there. A remove that never reached a replica (made offline by a client
/// that never came back, or sent only to a peer that crashed) explains nothing that replica shows
/// or lacks.
bool reached(const OpRecord& op, NodeId node, const CausalPast* past) {
  return op.op.client == node || past == nullptr || past->sees(op.op.client, op.sequence);
}

/// reached, for any of `group`'s replicas.
bool reached(const OpRecord& op, const StateGroup& group) {
  for (std::size_t i = 0; i < group.nodes.size(); ++i) {
    if (reached(op, group.nodes[i], group.pasts[i])) return true;
  }
  return false;
}

/// Whether a write that may supersede `write` (concurrent or later, not rejected) may itself have
/// been removed from what `group` shows: the item is then legitimately gone. Under add-wins a set
/// that lost to a concurrent one is gone with it when a remove that saw only the winner takes it
/// away (Yjs's Y.Map). The remove must itself be able to come after `write`: one that came before
/// it cannot take away what replaced it.
bool superseded_then_removed(const History& history, const KeyOps& ops, const OpRecord& write,
                             const StateGroup& group) {
  for (auto it = ops.writes.rbegin(); it != ops.writes.rend(); ++it) {
    const OpRecord& other = history.record(*it);
    if (*it == write.op.id || told_failed(other) || !reached(other, group)) continue;
    const bool may = history.rule == SupersedeRule::server_order ? server_may_order_after(other, write)
                                                                  : !history.happened_before(*it, write.op.id);
    if (!may) continue;
    for (OpId remove : ops.removes) {
      const OpRecord& r = history.record(remove);
      if (!told_failed(r) && reached(r, group) && remove_may_follow(history, r, write) &&
          remove_supersedes(history, ops, remove, *it)) {
        return true;
      }
    }
  }
  return false;
}

/// The operation that may legitimately have replaced `write` in what `group` shows, if any. Of the
/// writes, only the group's own value at the key is a candidate: a write that may supersede `write`
/// but is not what the replica shows (one that never left its client, say) explains nothing about
/// the value it shows instead. A remove explains only an item that is gone: one that supersedes
/// `write`, or one that supersedes a write that superseded it. An item still shown with a value that
/// may not supersede `write` is no remove's doing, whatever removes its key had: the write was rolled
/// back to an older value (when that older value is an acknowledged remove's resurrection, the
/// resurrection is reported instead; see check_absences).
std::optional<OpId> superseder(const History& history, const OpIndex& index, const OpRecord& write,
                               const StateGroup& group) {
  const OpId id = write.op.id;
  if (write.op.kind == OpKind::text_insert) {
    auto deletes = index.deletes_of.find(id);
    if (deletes == index.deletes_of.end()) return std::nullopt;
    for (OpId del : deletes->second) {
      const OpRecord& d = history.record(del);
      if (d.applied && !told_failed(d) && reached(d, group)) return del;
    }
    return std::nullopt;
  }
  const std::optional<OpId> shown_value = value_at(group, write.op.key.value);
  if (shown_value && *shown_value != id && is_recorded(history, *shown_value)) {
    const OpRecord& other = history.record(*shown_value);
    const bool may = !told_failed(other) && other.op.key == write.op.key && writes_state(other.op.kind) &&
                     (history.rule == SupersedeRule::server_order ? server_may_order_after(other, write)
                                                                  : !history.happened_before(*shown_value, id));
    if (may) return shown_value;
  }
  if (shown_value) return std::nullopt;
  const KeyOps& ops = index.by_key.at(write.op.key);
  for (auto it = ops.removes.rbegin(); it != ops.removes.rend(); ++it) {
    const OpRecord& r = history.record(*it);
    if (told_failed(r) || !reached(r, group)) continue;
    if (remove_supersedes(history, ops, *it, id)) return *it;
  }
  if (!ops.removes.empty() && superseded_then_removed(history, ops, write, group)) return ops.removes.back();
  return std::nullopt;
}

bool group_holds(const StateGroup& group, const Operation& op) {
  return group.holds(op.kind == OpKind::text_insert ? 0 : op.key.value, op.id);
}

/// The groups lacking `op`, in the order a report should name them: for a silent rollback the
/// client's own replica first, because that is what its user looks at, then the rest in node order.
/// With convergence on only the first is judged (see check_absences); with it off, every one.
std::vector<const StateGroup*> groups_without(const Snapshot& snapshot, const Operation& op, bool own_first,
                                              bool every_one) {
  std::vector<const StateGroup*> out;
  const StateGroup* own = nullptr;
  if (own_first) {
    auto it = snapshot.group_of.find(op.client);
    if (it != snapshot.group_of.end() && !group_holds(snapshot.groups[it->second], op)) {
      own = &snapshot.groups[it->second];
      out.push_back(own);
    }
  }
  for (const StateGroup& group : snapshot.groups) {
    if (!every_one && !out.empty()) break;
    if (&group != own && !group_holds(group, op)) out.push_back(&group);
  }
  return out;
}

std::string place_of(const Operation& op) {
  switch (op.kind) {
    case OpKind::map_set: return fmt::format("field {}", op.key.value);
    case OpKind::list_add:
    case OpKind::list_update:
    case OpKind::list_remove: return fmt::format("item {}", op.key.value);
    default: return fmt::format("element {}", op_name(op.id));
  }
}

void report_absence(const History& history, const OpRecord& write, const StateGroup& group,
                    Invariant invariant, Findings& findings) {
  const Operation& op = write.op;
  const bool own = std::binary_search(group.nodes.begin(), group.nodes.end(), op.client);
  const NodeId node = own ? op.client : group.nodes.front();
  const std::string where = fmt::format("node {}{}", node.value, own ? " (its own client)" : "");
  Violation v;
  std::optional<OpId> instead;
  if (op.kind == OpKind::text_insert) {
    v.expected = fmt::format("element {} present", op_name(op.id));
    v.observed = fmt::format("element {} missing on {}", op_name(op.id), where);
  } else {
    instead = value_at(group, op.key.value);
    v.expected = fmt::format("{} = {}", place_of(op), op_name(op.id));
    v.observed = instead ? fmt::format("{} = {} on {}", place_of(op), op_name(*instead), where)
                         : fmt::format("{} absent on {}", place_of(op), where);
  }
  const bool acked = invariant == Invariant::lost_acknowledged_write;
  v.detail = fmt::format(
      "Write {} was {} at {}{}, yet {} ends without it, and no answered operation may supersede it "
      "under {}.",
      op_name(op.id), acked ? "acknowledged to its user" : "applied for its user",
      format_ms(acked ? *write.acknowledged : *write.applied),
      acked ? "" : " and never acknowledged nor rejected", where, to_string(history.rule));
  v.involved.push_back({op.id, acked ? "acknowledged write" : "applied, unacknowledged write"});
  if (instead && is_recorded(history, *instead)) v.involved.push_back({*instead, "value shown instead"});
  findings.add(invariant, subject_of(op), op.id, std::move(v));
}

/// Whether `group` shows, where acknowledged `write` should be, an earlier write of `write`'s own
/// client that was acknowledged after it: the server applied the user's writes out of order. (One
/// acknowledged before it points at a lost write instead, and is reported as one.)
bool earlier_own_write(const History& history, const OpRecord& write, const StateGroup& group) {
  if (write.op.kind == OpKind::text_insert || !write.acknowledged) return false;
  const std::optional<OpId> shown_value = value_at(group, write.op.key.value);
  if (!shown_value || !is_recorded(history, *shown_value)) return false;
  const OpRecord& other = history.record(*shown_value);
  return other.issued && other.op.client == write.op.client && other.sequence < write.sequence &&
         other.acknowledged && *other.acknowledged > *write.acknowledged;
}

void report_reordered(const OpRecord& write, const StateGroup& group, Findings& findings) {
  const Operation& op = write.op;
  const OpId earlier = *value_at(group, op.key.value);
  const bool own = std::binary_search(group.nodes.begin(), group.nodes.end(), op.client);
  const NodeId node = own ? op.client : group.nodes.front();
  const std::string where = fmt::format("node {}{}", node.value, own ? " (its own client)" : "");
  Violation v;
  v.expected = fmt::format("{} = {} or a later write", place_of(op), op_name(op.id));
  v.observed = fmt::format("{} = {} on {}", place_of(op), op_name(earlier), where);
  v.detail = fmt::format(
      "Client node {} wrote {} and then {}; {} was acknowledged at {} and {} only after it, and {} "
      "ends with the earlier {}: the user's own writes were applied out of the order they were made in.",
      op.client.value, op_name(earlier), op_name(op.id), op_name(op.id), format_ms(*write.acknowledged),
      op_name(earlier), where, op_name(earlier));
  v.involved.push_back({op.id, "acknowledged later write"});
  v.involved.push_back({earlier, "earlier write shown instead"});
  findings.add(Invariant::monotonic_writes, subject_of(op), op.id, std::move(v));
}

/// Whether the largest state holds `op` while every state without it is smaller: then the replicas
/// without it diverged (see the top) rather than lost it.
bool held_by_the_largest_state(const Snapshot& snapshot, const Operation& op) {
  if (snapshot.groups.size() < 2) return false;
  const StateGroup& largest = snapshot.groups[majority_group(snapshot)];
  if (!group_holds(largest, op)) return false;
  for (const StateGroup& group : snapshot.groups) {
    if (!group_holds(group, op) && group.nodes.size() >= largest.nodes.size()) return false;
  }
  return true;
}


void check_absences(const History& history, const Snapshot& snapshot, const OpIndex& index,
                    const InvariantOptions& options, Findings& findings) {
  for (const OpRecord& write : history.ops) {
    const Operation& op = write.op;
    if (!write.issued || told_failed(write) || !writes_state(op.kind)) continue;
    if (data_type_of(op.kind) != history.type || (!write.applied && !write.acknowledged)) continue;
    if (history.is_untrusted(op.client)) continue;  // no promise to a hostile user (see the top)
    // An acknowledged write is judged as lost-acknowledged only, never also as a rollback.
    const Invariant invariant =
        write.acknowledged ? Invariant::lost_acknowledged_write : Invariant::silent_rollback;
    if (!enabled(options, invariant) || findings.has(invariant, subject_of(op))) continue;
    // An item shown after a remove that took it away is that remove's resurrection: one finding.
    if (findings.has(Invariant::resurrection, subject_of(op))) continue;
    // With convergence judged, replicas that disagree are its finding: the write is judged on the
    // first replica without it only. With convergence off nothing else speaks for the others, so
    // every replica without the write must show something that may have replaced it.
    const bool converging = enabled(options, Invariant::convergence);
    if (converging && held_by_the_largest_state(snapshot, op)) continue;
    // Under server order the server answers every write it receives, so a later write explains a
    // missing value only for a write that was answered. A write its live client never heard back
    // about, and that is gone, was dropped without telling the user: a silent rollback.
    const bool unanswered = history.rule == SupersedeRule::server_order && !write.acknowledged &&
                            live_at_end(history, op.client);
    const StateGroup* without = nullptr;
    for (const StateGroup* group : groups_without(snapshot, op, invariant == Invariant::silent_rollback, !converging)) {
      if (unanswered || !superseder(history, index, write, *group)) {
        without = group;
        break;
      }
    }
    if (without == nullptr) continue;
    // The value shown instead is the same user's earlier write: the writes were applied out of the
    // order they were made in. Named for what went wrong, when that check is on.
    if (write.acknowledged && enabled(options, Invariant::monotonic_writes) &&
        earlier_own_write(history, write, *without)) {
      if (!findings.has(Invariant::monotonic_writes, subject_of(op))) {
        report_reordered(write, *without, findings);
      }
      continue;
    }
    report_absence(history, write, *without, invariant, findings);
  }
}

// ---------------------------------------------------------------------------------------------
// Session guarantees: monotonic reads and read-your-writes, from the engine's view samples.

/// How many writes a view check walks back through what users saw (seen_ordered_before). A bound on
/// cost, not on soundness: an order that only a longer chain shows goes unjudged. With at most
/// kViewRegressionsMax regressions judged, the walks together visit at most 4,096 x 256 writes,
/// whatever the run's length.
constexpr std::size_t kViewChainMax = 256;

/// Whether users saw `first` ordered before `write` directly: `write`'s own client's earlier write,
/// one shown on that client before `write` was issued, or under server order one acknowledged to
/// its user by then (the negation of server_may_order_after).
bool seen_first(const History& history, const OpRecord& first, const OpRecord& write) {
  if (first.op.client == write.op.client) return first.sequence < write.sequence;
  if (history.rule == SupersedeRule::server_order && first.acknowledged && *first.acknowledged < write.op.issued_at) {
    return true;
  }
  return std::find(write.seen_before.begin(), write.seen_before.end(), first.op.id) != write.seen_before.end();
}

/// One key's writes by client, in issue order: a client's own earlier write of the key is a step
/// back in what users saw.
using OwnWrites = std::map<NodeId, std::vector<OpId>>;

OwnWrites own_writes_of(const History& history, const KeyOps& ops) {
  OwnWrites own;
  for (OpId id : ops.writes) own[history.record(id).op.client].push_back(id);
  return own;
}

/// The write of the same key its client made just before `write`, if any.
std::optional<OpId> previous_own(const History& history, const OwnWrites& own, const OpRecord& write) {
  auto mine = own.find(write.op.client);
  if (mine == own.end()) return std::nullopt;
  auto it = std::lower_bound(mine->second.begin(), mine->second.end(), write.sequence,
                             [&](OpId id, std::uint32_t sequence) { return history.record(id).sequence < sequence; });
  if (it == mine->second.begin()) return std::nullopt;
  return *std::prev(it);
}

/// Whether users saw `to` ordered before `from`, through any chain of such facts (seen_first): a
/// write that `from`'s client had seen, or its own earlier write, may in turn have been made after
/// `to` was seen. Walks back from `from`, breadth first, through each write's seen_before and its
/// client's previous write of the key, never to a write issued before `to` (no chain back to `to`
/// passes one), at most kViewChainMax writes.
bool seen_ordered_before(const History& history, const OwnWrites& own, const OpRecord& to, const OpRecord& from) {
  std::vector<OpId> walk{from.op.id};
  std::set<OpId> visited{from.op.id};
  auto step = [&](OpId id) {
    if (!is_recorded(history, id) || history.record(id).op.issued_at < to.op.issued_at) return;
    if (visited.insert(id).second) walk.push_back(id);
  };
  for (std::size_t i = 0; i < walk.size() && i < kViewChainMax; ++i) {
    const OpRecord& write = history.record(walk[i]);
    if (seen_first(history, to, write)) return true;
    for (OpId seen : write.seen_before) step(seen);
    if (const std::optional<OpId> previous = previous_own(history, own, write)) step(*previous);
  }
  return false;
}

/// Whether a replica showing `from` may then show `to` (an earlier-issued write) under the rule:
/// only when `to` could have been ordered after `from`. Judged by what users saw, under every rule:
/// a view in the middle of a merge may briefly rank writes the engine's happens-before calls
/// ordered (it counts handshakes that carried no data), so only a write that users saw ordered
/// before `from`, directly or through a chain of writes (seen_ordered_before), certainly came first.
bool view_may_go_to(const History& history, const OwnWrites& own, const OpRecord& to, const OpRecord& from) {
  return !seen_ordered_before(history, own, to, from);
}

/// Whether remove `r` may take away value `from` of its item, as the final-state check would let it
/// (remove_supersedes): it removed that very value (its target), the rule lets it win over `from`,
/// or it removed a value that may itself have replaced `from` (a set that lost to a concurrent one
/// goes with it, as in superseded_then_removed; only the remove's own target is asked, which keeps
/// this linear in the item's removes).
bool remove_may_take(const History& history, const KeyOps& ops, const OpRecord& r, const OpRecord& from) {
  if (r.target == from.op.id || remove_supersedes(history, ops, r.op.id, from.op.id)) return true;
  if (!r.target.valid() || !is_recorded(history, r.target)) return false;
  const OpRecord& target = history.record(r.target);
  if (told_failed(target) || target.op.key != from.op.key || !writes_state(target.op.kind)) return false;
  const bool may = history.rule == SupersedeRule::server_order ? server_may_order_after(target, from)
                                                               : !history.happened_before(r.target, from.op.id);
  return may && remove_may_follow(history, r, from) && remove_supersedes(history, ops, r.op.id, r.target);
}

/// Whether an item showing `from` may vanish from a view (`reg`): some remove of it issued by the
/// sample, not rejected by then, that had reached the node by then, may take that value away
/// (remove_may_take). A remove the value was written after (a re-add made once the user had seen the
/// remove) explains nothing.
bool item_removed_by(const History& history, const OpIndex& index, KeyId key, const OpRecord& from,
                     const ViewRegression& reg) {
  auto ops = index.by_key.find(key);
  if (ops == index.by_key.end()) return false;
  return std::any_of(ops->second.removes.begin(), ops->second.removes.end(), [&](OpId remove) {
    const OpRecord& r = history.record(remove);
    return r.op.issued_at <= reg.at && !(told_failed(r) && *r.rejected <= reg.at) &&
           reached(r, reg.node, reg.past.get()) && remove_may_take(history, ops->second, r, from);
  });
}

/// Whether text element `element` may vanish from a view (`reg`): some delete of it that had reached
/// the node by the sample was issued by then and not rejected by then.
bool element_deleted_by(const History& history, const OpIndex& index, OpId element, const ViewRegression& reg) {
  auto deletes = index.deletes_of.find(element);
  if (deletes == index.deletes_of.end()) return false;
  return std::any_of(deletes->second.begin(), deletes->second.end(), [&](OpId del) {
    const OpRecord& d = history.record(del);
    return d.op.issued_at <= reg.at && !(told_failed(d) && *d.rejected <= reg.at) &&
           reached(d, reg.node, reg.past.get());
  });
}

/// The subject of a view regression: a field, an item, or a text element (keyed by its own id).
Subject view_subject(const History& history, KeyId key) {
  switch (history.type) {
    case DataType::list: return {SubjectKind::item, key.value};
    case DataType::text: return {SubjectKind::element, key.value};
    default: return {SubjectKind::field, key.value};
  }
}

void report_text_regression(const History& history, const ViewRegression& reg, Invariant invariant,
                            Findings& findings) {
  const OpRecord& from = history.record(reg.from);
  const bool own = invariant == Invariant::read_your_writes;
  Violation v;
  v.expected = fmt::format("element {} shown until a delete of it", op_name(reg.from));
  v.observed = fmt::format("element {} gone from node {} at {}", op_name(reg.from), reg.node.value, format_ms(reg.at));
  v.detail = fmt::format("Node {} showed element {} ({}) and then, by {}, no longer did, although no delete of "
                         "it had reached that node: the user's view went back in time.",
                         reg.node.value, op_name(reg.from),
                         own ? "its own user's insert" : fmt::format("inserted by node {}", from.op.client.value),
                         format_ms(reg.at));
  v.involved.push_back({reg.from, own ? "own insert shown first" : "element shown first"});
  findings.add(invariant, view_subject(history, reg.key), reg.from, std::move(v));
}

void report_regression(const History& history, const ViewRegression& reg, Invariant invariant,
                       Findings& findings) {
  if (history.type == DataType::text) {
    report_text_regression(history, reg, invariant, findings);
    return;
  }
  const OpRecord& from = history.record(reg.from);
  const bool own = invariant == Invariant::read_your_writes;
  const std::string place = fmt::format("{} {}", history.type == DataType::list ? "item" : "field", reg.key.value);
  Violation v;
  v.expected = fmt::format("{} = {} or a value that may supersede it", place, op_name(reg.from));
  v.observed = fmt::format("{} = {} on node {} at {}", place, reg.to.valid() ? op_name(reg.to) : "nothing",
                           reg.node.value, format_ms(reg.at));
  v.detail = fmt::format(
      "Node {} showed {} ({}) for {} and then, by {}, {}, which {} under {}: the user's view went back "
      "in time.", reg.node.value, op_name(reg.from), own ? "its own user's write" : fmt::format("written by node {}", from.op.client.value),
      place, format_ms(reg.at), reg.to.valid() ? op_name(reg.to) : "nothing",
      reg.to.valid() ? "was ordered before it" : "no remove explains", to_string(history.rule));
  v.involved.push_back({reg.from, own ? "own write shown first" : "value shown first"});
  if (reg.to.valid()) v.involved.push_back({reg.to, "older value shown after it"});
  findings.add(invariant, view_subject(history, reg.key), reg.from, std::move(v));
}

void check_sessions(const History& history, const OpIndex& index, const InvariantOptions& options,
                    Findings& findings) {
  std::map<KeyId, OwnWrites> own_by_key;  // built only for the keys whose views went back
  for (const ViewRegression& reg : history.view_regressions) {
    const OpRecord& from = history.record(reg.from);
    if (told_failed(from) && *from.rejected <= reg.at) continue;  // rolled back, and its user was told
    const Invariant invariant = from.op.client == reg.node ? Invariant::read_your_writes : Invariant::monotonic_reads;
    const Subject subject = view_subject(history, reg.key);
    if (!enabled(options, invariant) || findings.has(invariant, subject)) continue;
    if (reg.to.valid()) {
      auto [own, fresh] = own_by_key.try_emplace(reg.key);
      if (fresh) {
        auto ops = index.by_key.find(reg.key);
        if (ops != index.by_key.end()) own->second = own_writes_of(history, ops->second);
      }
      if (view_may_go_to(history, own->second, history.record(reg.to), from)) continue;
    } else if (history.type == DataType::list && item_removed_by(history, index, reg.key, from, reg)) {
      continue;
    } else if (history.type == DataType::text && element_deleted_by(history, index, reg.from, reg)) {
      continue;
    }
    report_regression(history, reg, invariant, findings);
  }
}

/// Whether item `read`, missing from a view (`gap`), may be gone legitimately: a remove that had
/// reached the node may take it away, or may take away a later value of the item that had reached
/// the node and may have replaced it (the remove saw the value after the one the writer had read).
/// Looks at most kViewChainMax such values; past that it gives the view the benefit of the doubt.
bool read_removed_by(const History& history, const OpIndex& index, const OpRecord& read, const ReadGap& gap) {
  const ViewRegression reg{gap.node, gap.at, read.op.key, gap.read, OpId{}, gap.past};
  if (item_removed_by(history, index, read.op.key, read, reg)) return true;
  auto ops = index.by_key.find(read.op.key);
  if (ops == index.by_key.end()) return false;
  std::optional<OwnWrites> own;
  std::size_t looked = 0;
  for (OpId id : ops->second.writes) {
    const OpRecord& later = history.record(id);
    if (id == read.op.id || later.op.issued_at > gap.at || (told_failed(later) && *later.rejected <= gap.at) ||
        !reached(later, gap.node, gap.past.get())) {
      continue;
    }
    if (++looked > kViewChainMax) return true;
    if (!own) own = own_writes_of(history, ops->second);
    if (!seen_ordered_before(history, *own, later, read) && item_removed_by(history, index, read.op.key, later, reg)) {
      return true;
    }
  }
  return false;
}

/// Writes follow reads, for a model that promises it: a view that shows another user's write must
/// show, for each key that user had read before writing it, that read or a value that may supersede
/// it. Judged by what users saw, like the view checks: the value shown instead breaks the promise
/// only when users saw it ordered before the read (seen_ordered_before); nothing shown, only when
/// no remove that had reached the node may take the read away.
///
/// Writes in order, for a model that promises it: the same, for a writer's own earlier writes of other
/// keys that its replica had applied (its user read them), judged as monotonic writes (the final-state
/// check judges one key's order). A remove read, the writer's own or another user's, asks that the
/// view not show the value it took away or an older one; the item gone is what it promised. Its excuse is a rejection told at any time, not only before the
/// sample: a write the system refused was never in its order, whenever the user heard of it.
void check_writes_follow_reads(const History& history, const OpIndex& index, const InvariantOptions& options,
                               Findings& findings) {
  if (!history.writes_follow_reads && !history.writes_in_order) return;
  std::map<KeyId, OwnWrites> own_by_key;  // built only for the keys a gap names
  for (const ReadGap& gap : history.read_gaps) {
    const OpRecord& shown = history.record(gap.shown);
    const OpRecord& read = history.record(gap.read);
    const bool own_write = read.op.client == shown.op.client;
    const Invariant invariant = own_write ? Invariant::monotonic_writes : Invariant::writes_follow_reads;
    if (!enabled(options, invariant) || !(own_write ? history.writes_in_order : history.writes_follow_reads)) continue;
    if (history.is_untrusted(shown.op.client)) continue;  // a hostile user's reads promise nothing
    if (told_failed(shown) && *shown.rejected <= gap.at) continue;
    if (told_failed(read) && (own_write || *read.rejected <= gap.at)) continue;  // rolled back, its user told
    const Subject subject = view_subject(history, read.op.key);
    if (findings.has(invariant, subject)) continue;
    if (gap.instead.valid()) {
      // The node's own write: an optimistic replica shows its user's write over what it received
      // (pending, or acknowledged before the server's next state arrived), whatever the server
      // ordered after it. What a replica shows of its own writes is read-your-writes' to judge, and
      // where it ends, the final-state checks'.
      const OpRecord& instead = history.record(gap.instead);
      if (instead.op.client == gap.node) continue;
      auto [own, fresh] = own_by_key.try_emplace(read.op.key);
      if (fresh) {
        auto ops = index.by_key.find(read.op.key);
        if (ops != index.by_key.end()) own->second = own_writes_of(history, ops->second);
      }
      if (read.op.kind == OpKind::list_remove) {
        if (!is_recorded(history, read.target)) continue;
        // A remove read (the writer's own earlier one, or another user's it saw): the view still shows
        // the value it took away (its target), or one users saw ordered before that value, which the
        // remove supersedes under the rule.
        const OpRecord& target = history.record(read.target);
        if (gap.instead != read.target && !seen_ordered_before(history, own->second, instead, target)) continue;
        auto ops = index.by_key.find(read.op.key);
        if (ops == index.by_key.end() || !remove_supersedes(history, ops->second, read.op.id, gap.instead)) continue;
      } else if (!seen_ordered_before(history, own->second, instead, read)) {
        continue;
      }
    } else if (read.op.kind == OpKind::list_remove) {
      continue;  // the item gone: what the remove promised
    } else if (history.type == DataType::list && read_removed_by(history, index, read, gap)) {
      continue;
    }
    const bool read_remove = read.op.kind == OpKind::list_remove;
    const std::string place = fmt::format("{} {}", history.type == DataType::list ? "item" : "field", read.op.key.value);
    const std::string what_instead =
        read_remove ? fmt::format("{} had removed", op_name(gap.read))
        : gap.instead.valid() ? fmt::format("users saw ordered before {}", op_name(gap.read))
                              : std::string("no remove that had reached the node explains");
    Violation v;
    v.expected = read_remove ? fmt::format("{} removed by {}, or a value written after it, wherever {} is shown",
                                           place, op_name(gap.read), op_name(gap.shown))
                             : fmt::format("{} = {} or a value that may supersede it wherever {} is shown", place,
                                           op_name(gap.read), op_name(gap.shown));
    v.observed = fmt::format("{} = {} beside {} on node {} at {}", place,
                             gap.instead.valid() ? op_name(gap.instead) : "nothing", op_name(gap.shown),
                             gap.node.value, format_ms(gap.at));
    const std::string_view what = read_remove ? "remove" : "write";
    const std::string writer_had =
        own_write ? fmt::format("whose replica had applied its own earlier {} {} of {}", what, op_name(gap.read), place)
        : read_remove
            ? fmt::format("whose replica had applied node {}'s remove {} of {} before", read.op.client.value, op_name(gap.read), place)
            : fmt::format("whose replica had shown {} for {} before", op_name(gap.read), place);
    const std::string broken =
        own_write ? std::string("one user's writes became visible out of the order they were made in, and the model "
                                "promises its users' writes are seen in order across keys")
                  : fmt::format("a write became visible before a {} its user had seen, and the model promises writes "
                                "follow reads", what);
    v.detail = fmt::format("Node {} showed {} (written by node {}, {}) while {} showed {}, which {} under {}: {}.",
                           gap.node.value, op_name(gap.shown), shown.op.client.value, writer_had, place,
                           gap.instead.valid() ? op_name(gap.instead) : "nothing", what_instead,
                           to_string(history.rule), broken);
    v.involved.push_back({gap.read, own_write ? fmt::format("earlier {} of the same user", what)
                                              : fmt::format("{} seen by the writer first", what)});
    v.involved.push_back({gap.shown, own_write ? "later write shown" : "write shown"});
    if (gap.instead.valid()) v.involved.push_back({gap.instead, "older value shown beside it"});
    findings.add(invariant, subject, gap.read, std::move(v));
  }
}

// ---------------------------------------------------------------------------------------------
// 5. Phantom or double-applied values.

/// Whether `value` is an issued, unrejected operation of `kind`s that writes `key` (text: any key).
/// A write its user was told had failed is no value any replica may end with: reading it back is
/// an aborted read, the counterpart of a rejected increment still counted.
bool written_by(const History& history, OpId value, std::initializer_list<OpKind> kinds,
                std::optional<KeyId> key) {
  if (!is_recorded(history, value)) return false;
  const OpRecord& record = history.record(value);
  if (!record.issued || told_failed(record)) return false;
  if (std::find(kinds.begin(), kinds.end(), record.op.kind) == kinds.end()) return false;
  return !key || record.op.key == *key;
}

/// Why `value` may not be shown: `unwritten` when it is no write of the place at all, or the
/// rejection its user was told of.
std::string phantom_reason(const History& history, OpId value, std::string_view unwritten) {
  if (!is_recorded(history, value) || !told_failed(history.record(value))) return std::string(unwritten);
  return fmt::format("a write rejected at {}: its user was told it failed",
                     format_ms(*history.record(value).rejected));
}

void report_phantom(Subject subject, const StateGroup& group, std::string expected, OpId value,
                    std::string_view what, Findings& findings) {
  Violation v;
  v.expected = std::move(expected);
  v.observed = fmt::format("{} on node {}", op_name(value), group.nodes.front().value);
  v.detail = fmt::format("Node {} shows {} for {}, {}.", group.nodes.front().value, op_name(value),
                         subject.name(), what);
  findings.add(Invariant::phantom_or_double_applied, subject, value, std::move(v));
}

void report_duplicate(Subject subject, const StateGroup& group, std::size_t times, Findings& findings) {
  Violation v;
  v.expected = fmt::format("{} present at most once", subject.name());
  v.observed = fmt::format("{} times on node {}", times, group.nodes.front().value);
  v.detail = fmt::format("Node {} shows {} {} times: an operation was applied twice.",
                         group.nodes.front().value, subject.name(), times);
  findings.add(Invariant::phantom_or_double_applied, subject, {}, std::move(v));
}

/// Reports entries of a group that appear more than once, by (key, value) pairs' key.
template <typename SubjectOf>
void check_duplicates(const StateGroup& group, SubjectOf subject_for, Findings& findings) {
  const auto& e = group.entries;
  for (std::size_t i = 0; i < e.size();) {
    std::size_t j = i;
    while (j < e.size() && subject_for(e[j]) == subject_for(e[i])) ++j;
    if (j - i > 1) report_duplicate(subject_for(e[i]), group, j - i, findings);
    i = j;
  }
}

void check_phantom_map(const History& history, const StateGroup& group, Findings& findings) {
  for (const auto& [key, value] : group.state->fields) {
    if (written_by(history, value, {OpKind::map_set}, key)) continue;
    report_phantom({SubjectKind::field, key.value}, group, "the id of an issued, unrejected set of the field",
                   value, phantom_reason(history, value, "which no issued set of this field wrote"), findings);
  }
  check_duplicates(group, [](const auto& entry) { return Subject{SubjectKind::field, entry.first}; },
                   findings);
}

void check_phantom_list(const History& history, const StateGroup& group, Findings& findings) {
  for (const Item& item : group.state->items) {
    if (written_by(history, item.value, {OpKind::list_add, OpKind::list_update}, item.id)) continue;
    report_phantom({SubjectKind::item, item.id.value}, group,
                   "the id of an issued, unrejected add or update of the item", item.value,
                   phantom_reason(history, item.value, "which no issued add or update of this item wrote"), findings);
  }
  check_duplicates(group, [](const auto& entry) { return Subject{SubjectKind::item, entry.first}; },
                   findings);
}

void check_phantom_text(const History& history, const StateGroup& group, Findings& findings) {
  for (OpId element : group.state->text) {
    if (written_by(history, element, {OpKind::text_insert}, std::nullopt)) continue;
    report_phantom({SubjectKind::element, element.value}, group, "the id of an issued, unrejected insert",
                   element, phantom_reason(history, element, "which is not an issued insert"), findings);
  }
  check_duplicates(group, [](const auto& entry) { return Subject{SubjectKind::element, entry.second}; },
                   findings);
}

/// The increments whose amount alone explains a counter `excess` (negative: a shortfall), at most
/// kCounterSuspectsMax of them: the workload draws amounts of many sizes, so usually one or two. An
/// excess names increments counted twice or counted though rejected; a shortfall, increments users
/// saw that the counter lacks. Suspects only: several faults may add up to the same difference.
std::vector<Involved> counter_suspects(const History& history, std::int64_t excess) {
  constexpr std::size_t kCounterSuspectsMax = 3;
  std::vector<Involved> suspects;
  for (const OpRecord& r : history.ops) {
    if (suspects.size() == kCounterSuspectsMax) break;
    if (!r.issued || r.op.kind != OpKind::counter_add) continue;
    const bool seen = r.applied || r.acknowledged;
    if (excess < 0 && seen && !told_failed(r) && r.op.amount == -excess) {
      suspects.push_back({r.op.id, "an increment the counter may lack"});
    } else if (excess > 0 && r.op.amount == excess) {
      suspects.push_back({r.op.id, told_failed(r) ? "a rejected increment the counter may count"
                                   : seen         ? "an increment the counter may count twice"
                                                  : "an increment its user never saw that the counter may count"});
    }
  }
  return suspects;
}

void check_counter(const History& history, const Snapshot& snapshot, Findings& findings) {
  // The counter must be the sum of what users saw applied and were never told had failed. An
  // acknowledged increment counts even if its replica never reported applying it: a strategy that
  // shows increments only once the server confirms them is not double-applying.
  std::int64_t expected = 0;
  for (const OpRecord& r : history.ops) {
    const bool seen = r.applied || r.acknowledged;
    if (r.issued && r.op.kind == OpKind::counter_add && seen && !told_failed(r)) expected += r.op.amount;
  }
  for (const StateGroup& group : snapshot.groups) {
    const std::int64_t observed = group.state->counter;
    if (observed == expected) continue;
    Violation v;
    v.expected = fmt::format("{}", expected);
    v.observed = fmt::format("{} on node {}", observed, group.nodes.front().value);
    v.detail = fmt::format("Node {} ends at {} but the applied, unrejected increments sum to {}: {} "
                           "by {}.", group.nodes.front().value, observed, expected,
                           observed > expected ? "double-applied" : "lost",
                           observed > expected ? observed - expected : expected - observed);
    v.involved = counter_suspects(history, observed - expected);
    findings.add(Invariant::phantom_or_double_applied, {SubjectKind::counter, 0}, {}, std::move(v));
    return;
  }
}

void check_phantoms(const History& history, const Snapshot& snapshot, Findings& findings) {
  if (history.type == DataType::counter) return check_counter(history, snapshot, findings);
  for (const StateGroup& group : snapshot.groups) {
    switch (history.type) {
      case DataType::map: check_phantom_map(history, group, findings); break;
      case DataType::list: check_phantom_list(history, group, findings); break;
      case DataType::text: check_phantom_text(history, group, findings); break;
      case DataType::counter: break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 6. Bounded metadata: an absolute bound, and growth no faster than the state the metadata serves.

void check_metadata_bound(const History& history, const InvariantOptions& options, Findings& findings) {
  if (!history.metadata_bound_applies) return;
  // One report names the first node over the bound and sums up the rest: tombstone growth tends to
  // hit every replica alike, and a line per client would bury the other findings.
  const NodeFinal* first = nullptr;
  const NodeFinal* largest = nullptr;
  std::size_t over = 0;
  std::size_t live = 0;
  for (const NodeFinal& node : history.finals) {
    if (!node.live || history.is_untrusted(node.node)) continue;
    ++live;
    if (node.metadata_bytes <= options.metadata_bytes_max) continue;
    ++over;
    if (first == nullptr || node.node < first->node) first = &node;
    if (largest == nullptr || node.metadata_bytes > largest->metadata_bytes) largest = &node;
  }
  if (first == nullptr) return;
  Violation v;
  v.expected = fmt::format("at most {} bytes of metadata per replica", options.metadata_bytes_max);
  v.observed = fmt::format("{} bytes on node {}", first->metadata_bytes, first->node.value);
  v.detail = fmt::format("{} of {} live nodes hold more sync metadata than the bound; the largest is "
                         "node {} with {} bytes.", over, live, largest->node.value, largest->metadata_bytes);
  findings.add(Invariant::bounded_metadata, {SubjectKind::node, first->node.value}, {}, std::move(v));
}

/// How much a node may hold at the end if its metadata grew no faster than what it serves since
/// `then`: then's bytes, scaled by the growth of its visible elements times the growth of its writers
/// (a product, so that a version vector per field stays within it), times the allowed growth, plus
/// the floor. Metadata that is a sum of per-element, per-writer and per-pair terms with any
/// non-negative weights, plus what is in flight at the sample, never exceeds it. Nullopt when the
/// sample served nothing of a kind the end serves: there is no ratio to scale by.
std::optional<std::uint64_t> growth_allowance(const MetadataSample& then, const MetadataSample& end,
                                              const InvariantOptions& options) {
  // Bytes times elements times writers times the allowed growth can pass 64 bits.
  __extension__ typedef unsigned __int128 Wide;
  Wide num = 1;
  Wide den = 1;
  for (auto [was, is] : {std::pair{then.visible, end.visible}, std::pair{then.writers, end.writers}}) {
    if (was == 0 && is > 0) return std::nullopt;
    if (was == 0) continue;
    num *= std::max(was, is);
    den *= was;
  }
  const Wide scaled = Wide{then.bytes} * num * options.metadata_growth_milli_max / (den * 1'000);
  const Wide allowed = scaled + options.metadata_growth_bytes_min;
  constexpr std::uint64_t kMost = std::numeric_limits<std::uint64_t>::max();
  return allowed > Wide{kMost} ? kMost : static_cast<std::uint64_t>(allowed);
}

/// One node whose metadata outgrew its state, against the sample that allowed it the most.
struct Outgrown {
  const NodeFinal* node = nullptr;
  MetadataSample then;
  MetadataSample end;
  OpId since;
  std::uint64_t allowed = 0;
};

/// Whether the model's declaration lets the growth check judge `node` (see MetadataGrowth).
bool growth_judged(const History& history, const NodeFinal& node) {
  if (!node.live || history.is_untrusted(node.node)) return false;
  return node.server ? history.growth_judges_servers : history.growth_judges_clients;
}

/// The node outgrew its state when its end exceeds what every sample of it allows: each sample is a
/// sound comparison on its own, and asking all of them keeps one odd moment (a restart, a burst in
/// flight) from deciding.
std::optional<Outgrown> outgrown(const History& history, const NodeFinal& node, const InvariantOptions& options) {
  const MetadataSample end{true, node.metadata_bytes, visible_elements(node.state), node.writers};
  std::optional<Outgrown> found;
  for (const MetadataSampling& sampling : history.metadata_samples) {
    if (node.node.value >= sampling.nodes.size()) continue;
    const MetadataSample& then = sampling.nodes[node.node.value];
    if (!then.taken) continue;
    const std::optional<std::uint64_t> allowed = growth_allowance(then, end, options);
    if (!allowed) continue;
    if (end.bytes <= *allowed) return std::nullopt;
    if (!found || *allowed > found->allowed) found = Outgrown{&node, then, end, sampling.before, *allowed};
  }
  return found;
}

void check_metadata_growth(const History& history, const InvariantOptions& options, Findings& findings) {
  std::optional<Outgrown> first;
  std::size_t over = 0;
  std::size_t judged = 0;
  for (const NodeFinal& node : history.finals) {
    if (!growth_judged(history, node)) continue;
    ++judged;
    std::optional<Outgrown> o = outgrown(history, node, options);
    if (!o) continue;
    ++over;
    if (!first) first = o;
  }
  if (!first) return;
  // The growth figure: bytes gained per write issued after the sample.
  const auto writes = static_cast<std::uint64_t>(std::count_if(
      history.ops.begin() + static_cast<std::ptrdiff_t>(first->since.value - 1), history.ops.end(),
      [](const OpRecord& r) { return r.issued; }));
  const std::uint64_t gained = first->end.bytes - std::min(first->end.bytes, first->then.bytes);
  Violation v;
  v.expected = fmt::format("metadata that grows no faster than the state it serves: at most {} bytes on node {} "
                           "({}.{:03} times its sample, scaled by the growth of its elements and writers, plus {} bytes)",
                           first->allowed, first->node->node.value, options.metadata_growth_milli_max / 1'000,
                           options.metadata_growth_milli_max % 1'000, options.metadata_growth_bytes_min);
  v.observed = fmt::format("{} bytes on node {}", first->end.bytes, first->node->node.value);
  v.detail = fmt::format("{} of {} judged nodes outgrew their state. Node {} held {} bytes for {} elements and {} "
                         "writers just before {}, and {} bytes for {} elements and {} writers at the end: {} bytes more "
                         "over {} writes ({} per write) while what it serves grew far less.",
                         over, judged, first->node->node.value, first->then.bytes, first->then.visible,
                         first->then.writers, op_name(first->since), first->end.bytes, first->end.visible,
                         first->end.writers, gained, writes, writes == 0 ? 0 : gained / writes);
  findings.add(Invariant::bounded_metadata, {SubjectKind::node, first->node->node.value}, {}, std::move(v));
}

void check_metadata(const History& history, const InvariantOptions& options, Findings& findings) {
  check_metadata_bound(history, options, findings);
  check_metadata_growth(history, options, findings);
}

// ---------------------------------------------------------------------------------------------
// Formatting.

/// Word-wraps `text` to kReportWidth columns; the first line starts with `first`, the rest with
/// `rest`. A word longer than a line is cut, so no line is ever wider than the report.
void wrap(std::string& out, std::string_view first, std::string_view rest, std::string_view text) {
  std::string line(first);
  bool empty = true;
  bool wrote = false;
  auto flush = [&] {
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
    line = std::string(rest);
    empty = true;
    wrote = true;
  };
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(pos, end - pos);
    pos = end + 1;
    if (word.empty()) continue;
    if (!empty && line.size() + 1 + word.size() > kReportWidth) flush();
    while (line.size() + (empty ? 0 : 1) + word.size() > kReportWidth) {
      const std::size_t room = kReportWidth - line.size() - (empty ? 0 : 1);
      if (!empty) line += ' ';
      line += word.substr(0, room);
      word.remove_prefix(room);
      flush();
    }
    if (word.empty()) continue;
    if (!empty) line += ' ';
    line += word;
    empty = false;
  }
  if (!empty || !wrote) flush();
}

std::string describe_op(const Operation& op) {
  switch (op.kind) {
    case OpKind::map_set:
    case OpKind::list_add:
    case OpKind::list_update:
    case OpKind::list_remove: return fmt::format("{} {}", to_string(op.kind), place_of(op));
    case OpKind::counter_add: return fmt::format("increment by {}", op.amount);
    case OpKind::text_insert:
    case OpKind::text_delete:
      return fmt::format("{} at {} ppm of the length", to_string(op.kind), op.position_ppm);
  }
  return "?";
}

std::string lifecycle_of(const OpRecord& r) {
  if (!r.issued) return "Never issued (its client was down)";
  std::string out = r.applied ? "Applied at " + format_ms(*r.applied) : "Never applied";
  out += r.acknowledged ? ", acknowledged at " + format_ms(*r.acknowledged) : ", never acknowledged";
  if (r.rejected) {
    out += ", rejected at " + format_ms(*r.rejected);
    if (r.acknowledged) out += " (its acknowledgement stands: a write once saved cannot be taken back)";
  }
  if (r.op.kind == OpKind::text_delete) {
    out += r.target.valid() ? ", removed " + op_name(r.target) : ", removed nothing";
  }
  return out;
}

std::string relation(const History& history, OpId op, OpId first) {
  if (history.happened_before(op, first)) return "happened before " + op_name(first);
  if (history.happened_before(first, op)) return "happened after " + op_name(first);
  return "concurrent with " + op_name(first);
}

void format_involved(std::string& out, const Involved& inv, const History& history, OpId first) {
  if (!is_recorded(history, inv.op)) {
    wrap(out, "  - ", "    ", fmt::format("{} ({}): not an operation of this run.", op_name(inv.op), inv.role));
    return;
  }
  const OpRecord& r = history.record(inv.op);
  wrap(out, "  - ", "    ", fmt::format("{} ({}): client node {}, {}, issued at {}.", op_name(inv.op),
                                        inv.role, r.op.client.value, describe_op(r.op),
                                        format_ms(r.op.issued_at)));
  std::string status = lifecycle_of(r);
  if (inv.op != first && is_recorded(history, first)) status += "; " + relation(history, inv.op, first);
  wrap(out, "    ", "    ", status + ".");
}

}  // namespace

std::vector<Violation> check_invariants(const History& history, const InvariantOptions& options) {
  const Snapshot snapshot = take_snapshot(history);
  const OpIndex index = index_ops(history);
  Findings findings;
  if (enabled(options, Invariant::convergence)) {
    check_divergence(snapshot, findings);
    check_convergence_time(history, snapshot, options, findings);
  }
  if (enabled(options, Invariant::resurrection)) check_resurrection(history, snapshot, index, findings);
  if (history.type == DataType::text) check_text_deletes(history, snapshot, index, options, findings);
  if (history.type == DataType::list && enabled(options, Invariant::silent_rollback)) {
    check_undone_removes(history, snapshot, index, findings);
  }
  check_absences(history, snapshot, index, options, findings);
  check_sessions(history, index, options, findings);
  check_writes_follow_reads(history, index, options, findings);
  if (enabled(options, Invariant::phantom_or_double_applied)) check_phantoms(history, snapshot, findings);
  if (enabled(options, Invariant::bounded_metadata)) check_metadata(history, options, findings);
  return std::move(findings).sorted();
}

std::string format_violation(const Violation& violation, const History& history) {
  std::string out;
  wrap(out, "", "    ", fmt::format("{} violation: {}", to_string(violation.invariant), violation.subject));
  wrap(out, "  expected: ", "            ", violation.expected);
  wrap(out, "  observed: ", "            ", violation.observed);
  wrap(out, "  detail:   ", "            ", violation.detail);
  if (violation.involved.empty()) return out;
  out += "  operations:\n";
  const OpId first = violation.involved.front().op;
  for (const Involved& inv : violation.involved) format_involved(out, inv, history, first);
  return out;
}

}  // namespace syncstorm
