#include "sim/sweep/novelty.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <charconv>
#include <initializer_list>

#include "sim/base/rng.hpp"

namespace syncstorm {

namespace {

/// One feature: a hash of a tag (what is counted) and its small values.
std::uint64_t feature(std::uint64_t tag, std::initializer_list<std::uint64_t> values) {
  std::uint64_t state = fnv1a64("novelty-feature") ^ tag;
  std::uint64_t hash = splitmix64(state);
  for (std::uint64_t v : values) {
    state ^= v + hash;
    hash = splitmix64(state);
  }
  return hash;
}

/// 0 for none, else 1 + floor(log2(n)): counts that differ by less than a factor of two look alike.
std::uint64_t bucket(std::uint64_t n) { return n == 0 ? 0 : static_cast<std::uint64_t>(std::bit_width(n)); }

enum Tag : std::uint64_t { op_outcome = 1, count = 2, converged = 3, broke = 4, finals = 5 };

bool touches(const ScheduledFault& f, NodeId client, const Schedule& s) {
  const auto has = [](const std::vector<NodeId>& nodes, NodeId n) { return std::find(nodes.begin(), nodes.end(), n) != nodes.end(); };
  const bool server_side = std::any_of(f.side_a.begin(), f.side_a.end(), [&](NodeId n) { return s.is_server(n); });
  return server_side || has(f.side_a, client) || has(f.side_b, client);
}

/// The kinds of fault (a bit per FaultKind) that started on `op`'s client's side while its user
/// waited for it to be applied and acknowledged.
std::uint64_t in_flight_faults(const Schedule& s, const OpRecord& r, Instant run_end) {
  Instant until = run_end;
  if (r.acknowledged) until = *r.acknowledged;
  else if (r.rejected) until = *r.rejected;
  std::uint64_t mask = 0;
  for (const ScheduledFault& f : s.faults) {
    if (f.start >= until) break;  // faults are sorted by start
    if (f.start >= r.op.issued_at && touches(f, r.op.client, s)) mask |= std::uint64_t{1} << (static_cast<unsigned>(f.kind) % 64);
  }
  return mask;
}

}  // namespace

Schedule novelty_schedule(const Scenario& scenario, const ModelInfo& model, const Lineage& lineage) {
  assert(!lineage.empty() && "a lineage holds at least the run's own seed");
  Schedule s = make_schedule(scenario, model, lineage.front(), Exploration::novelty);
  for (std::size_t i = 1; i < lineage.size(); ++i) s = mutate(scenario, model, s, lineage[i]);
  return s;
}

Schedule mutate(const Scenario& scenario, const ModelInfo& model, const Schedule& parent, std::uint64_t seed) {
  Schedule s = parent;
  Rng rng = Rng::derive(seed, "explore-novelty-mutate");
  const std::int64_t window = std::max<std::int64_t>(s.workload_end.us, 1);
  std::uint64_t kind = rng.below(4);
  // A parent without faults can only take other operations.
  if (s.faults.empty()) kind = 3;
  const std::size_t i = s.faults.empty() ? 0 : static_cast<std::size_t>(rng.below(s.faults.size()));
  switch (kind) {
    case 0: {  // shift a fault by up to a quarter of the workload window either way
      ScheduledFault& f = s.faults[i];
      const std::int64_t moved = f.start.us + rng.between(-window / 4, window / 4);
      f.start = Instant{std::clamp<std::int64_t>(moved, 0, window - 1)};
      break;
    }
    case 1:  // remove a fault
      s.faults.erase(s.faults.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    case 2: {  // the same fault once more, at another moment of the workload
      ScheduledFault copy = s.faults[i];
      copy.start = Instant{rng.between(0, window - 1)};
      s.faults.push_back(std::move(copy));
      break;
    }
    default: {  // the users of `seed`'s own schedule, meeting the parent's faults
      const Schedule fresh = make_schedule(scenario, model, seed, Exploration::novelty);
      if (fresh.servers == s.servers && fresh.clients == s.clients) s.operations = fresh.operations;
      break;
    }
  }
  s.explore = Exploration::novelty;
  normalise(s);
  return s;
}

std::vector<std::uint64_t> novelty_features(const Schedule& schedule, const RunResult& run) {
  std::vector<std::uint64_t> out;
  const History& h = run.history;
  for (const OpRecord& r : h.ops) {
    out.push_back(feature(op_outcome, {static_cast<std::uint64_t>(r.op.kind), r.issued, r.applied.has_value(),
                                       r.acknowledged.has_value(), r.rejected.has_value(), in_flight_faults(schedule, r, h.end)}));
  }
  const Metrics& m = run.metrics;
  std::uint64_t index = 0;
  for (std::uint64_t n : {m.connection_resets, m.crashes, m.intents_lost, m.messages_dropped, m.messages_duplicated,
                          m.rejected, static_cast<std::uint64_t>(h.view_regressions.size())}) {
    out.push_back(feature(count, {index++, bucket(n)}));
  }
  std::set<std::uint64_t> states;
  for (const NodeFinal& f : h.finals) {
    if (f.live && f.state) states.insert(f.state->fingerprint());
  }
  out.push_back(feature(finals, {bucket(states.size())}));
  out.push_back(feature(converged, {m.convergence_us >= 0, run.aborted.empty()}));
  for (const Violation& v : run.violations) out.push_back(feature(broke, {static_cast<std::uint64_t>(v.invariant)}));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Lineage NoveltyCorpus::plan(std::uint64_t seed) const {
  Rng rng = Rng::derive(seed, "explore-novelty-plan");
  const bool fresh = rng.below(kFreshOneIn) == 0;
  if (fresh || members_.empty()) return Lineage{seed};
  const Lineage& parent = members_[rng.below(members_.size())];
  if (parent.size() >= kLineageMax) return Lineage{seed};
  Lineage lineage = parent;
  lineage.push_back(seed);
  return lineage;
}

bool NoveltyCorpus::add(const Lineage& lineage, const std::vector<std::uint64_t>& features) {
  bool added = false;
  for (std::uint64_t f : features) added = seen_.insert(f).second || added;
  if (added) members_.push_back(lineage);
  return added;
}

Result<std::vector<std::uint64_t>> parse_lineage(std::string_view text, const std::string& key) {
  std::vector<std::uint64_t> out;
  std::size_t from = 0;
  while (from <= text.size()) {
    const std::size_t comma = std::min(text.find(',', from), text.size());
    const std::string_view part = text.substr(from, comma - from);
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size()) {
      return InputError{"", 0, 0, key, fmt::format("expected seeds separated by commas, like \"5,23\", got \"{}\"", text)};
    }
    out.push_back(value);
    from = comma + 1;
  }
  if (out.size() >= kLineageMax) {
    return InputError{"", 0, 0, key, fmt::format("expected at most {} seeds, got {}", kLineageMax - 1, out.size())};
  }
  return out;
}

}  // namespace syncstorm
