// The shrinker: cuts a failing run's explicit schedule down while the same invariant still fails
// with the same seed. Whole clients and faults first, then operations by delta debugging, fault
// durations and the workload window, within a budget of runs and wall-clock time.
#include "sim/sweep/shrink.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <set>
#include <tuple>

#include "sim/sweep/repro.hpp"

namespace syncstorm {

namespace {

using WallClock = std::chrono::steady_clock;  // determinism-ok: the shrink's time limit only

std::int64_t elapsed_ms(WallClock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(WallClock::now() - since).count();
}

/// Runs candidates and keeps count of the work; once a limit is hit every candidate "passes", so the
/// shrink stops with what it has.
class Shrinker {
 public:
  Shrinker(const Scenario& scenario, const ModelInfo& model, std::uint64_t seed, std::string verdict, const ShrinkLimits& limits)
      : scenario_(scenario), model_(model), seed_(seed), verdict_(std::move(verdict)), limits_(limits), start_(WallClock::now()) {}

  bool fails(const Schedule& candidate) {
    if (exhausted()) return false;
    ++runs_;
    return shows(run_simulation(scenario_, model_, candidate, seed_), verdict_);
  }

  bool exhausted() {
    if (!stopped_.empty()) return true;
    if (runs_ >= limits_.max_runs) stopped_ = "run limit";
    else if (limits_.max_wall_ms > 0 && elapsed_ms(start_) >= limits_.max_wall_ms) stopped_ = "time limit";
    return !stopped_.empty();
  }

  std::uint32_t runs() const { return runs_; }
  std::string stopped() const { return stopped_.empty() ? "done" : stopped_; }

 private:
  const Scenario& scenario_;
  const ModelInfo& model_;
  std::uint64_t seed_;
  std::string verdict_;
  ShrinkLimits limits_;
  WallClock::time_point start_;
  std::uint32_t runs_ = 0;
  std::string stopped_;
};

/// Delta debugging (Zeller's ddmin): tries removing halves, then quarters, ... then single elements,
/// keeping every removal after which `fails` still holds.
template <typename T>
std::vector<T> ddmin(std::vector<T> items, const std::function<bool(const std::vector<T>&)>& fails) {
  std::size_t parts = 2;
  while (!items.empty()) {
    parts = std::min(parts, items.size());
    const std::size_t chunk = (items.size() + parts - 1) / parts;
    bool reduced = false;
    for (std::size_t begin = 0; begin < items.size(); begin += chunk) {
      std::vector<T> rest(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(begin));
      rest.insert(rest.end(), items.begin() + static_cast<std::ptrdiff_t>(std::min(begin + chunk, items.size())), items.end());
      if (fails(rest)) {
        items = std::move(rest);
        parts = std::max<std::size_t>(parts - 1, 2);
        reduced = true;
        break;
      }
    }
    if (reduced) continue;
    if (parts >= items.size()) break;
    parts = std::min(parts * 2, items.size());
  }
  return items;
}

/// Removes node `gone` from a sorted node list and closes the gap in the numbering.
void drop_node(std::vector<NodeId>& nodes, NodeId gone) {
  std::erase(nodes, gone);
  for (NodeId& n : nodes) {
    if (n.value > gone.value) --n.value;
  }
}

/// A fault that no longer names anyone (or, for a partition, no longer separates anyone) does nothing.
bool fault_is_empty(const ScheduledFault& f) {
  if (f.side_a.empty()) return true;
  return f.kind == FaultKind::partition && f.side_b.empty();
}

/// The schedule without client number `index`: its operations and its part in faults go, and the
/// clients after it move down one node number.
Schedule without_client(const Schedule& s, std::uint32_t index) {
  Schedule out = s;
  const NodeId gone = s.client(index);
  std::erase_if(out.operations, [&](const Operation& op) { return op.client == gone; });
  for (Operation& op : out.operations) {
    if (op.client.value > gone.value) --op.client.value;
  }
  for (ScheduledFault& f : out.faults) {
    drop_node(f.side_a, gone);
    drop_node(f.side_b, gone);
    drop_node(f.bridge, gone);
  }
  std::erase_if(out.faults, fault_is_empty);
  out.clock_skew.erase(out.clock_skew.begin() + gone.value);
  out.clock_drift_ppm.erase(out.clock_drift_ppm.begin() + gone.value);
  if (out.streams.empty()) {
    for (std::uint32_t i = 0; i < s.node_count(); ++i) out.streams.push_back(i);
  }
  out.streams.erase(out.streams.begin() + gone.value);
  --out.clients;
  normalise(out);
  return out;
}

bool shrink_clients(Schedule& s, Shrinker& shrinker) {
  bool progress = false;
  for (std::uint32_t i = s.clients; i-- > 0 && s.clients > 1;) {
    Schedule candidate = without_client(s, i);
    if (shrinker.fails(candidate)) {
      s = std::move(candidate);
      progress = true;
    }
  }
  return progress;
}

bool shrink_faults(Schedule& s, Shrinker& shrinker) {
  const std::size_t before = s.faults.size();
  s.faults = ddmin<ScheduledFault>(s.faults, [&](const std::vector<ScheduledFault>& kept) {
    Schedule candidate = s;
    candidate.faults = kept;
    return shrinker.fails(candidate);
  });
  return s.faults.size() < before;
}

bool shrink_operations(Schedule& s, Shrinker& shrinker) {
  const std::size_t before = s.operations.size();
  std::vector<Operation> kept = ddmin<Operation>(s.operations, [&](const std::vector<Operation>& ops) {
    Schedule candidate = s;
    candidate.operations = ops;
    normalise(candidate);
    return shrinker.fails(candidate);
  });
  if (kept.size() == before) return false;
  s.operations = std::move(kept);
  normalise(s);
  return true;
}

/// Keeps the shortest prefix of the operations (in time order) that still fails, by bisection. The
/// run up to the last kept operation is exactly the original one, so a prefix usually keeps the
/// failure where removing scattered operations would reshuffle everything after them.
bool shrink_prefix(Schedule& s, Shrinker& shrinker) {
  std::size_t low = 0;
  std::size_t high = s.operations.size();
  while (low < high) {
    const std::size_t mid = low + (high - low) / 2;
    Schedule candidate = s;
    candidate.operations.resize(mid);
    if (shrinker.fails(candidate)) high = mid;
    else low = mid + 1;
  }
  if (high == s.operations.size()) return false;
  s.operations.resize(high);
  return true;
}

/// Tries the operations the violation report names, and nothing else: one run that, when it works,
/// saves most of the delta debugging.
bool shrink_to_involved(Schedule& s, const std::set<OpId>& involved, Shrinker& shrinker) {
  if (involved.empty() || involved.size() >= s.operations.size()) return false;
  Schedule candidate = s;
  std::erase_if(candidate.operations, [&](const Operation& op) { return !involved.contains(op.id); });
  normalise(candidate);
  if (!shrinker.fails(candidate)) return false;
  s = std::move(candidate);
  return true;
}

/// The operations the first run's violations of `verdict` name.
std::set<OpId> involved_in(const RunResult& r, std::string_view verdict) {
  std::set<OpId> ids;
  for (const Violation& v : r.violations) {
    if (to_string(v.invariant) != verdict) continue;
    for (const Involved& i : v.involved) ids.insert(i.op);
  }
  return ids;
}

/// Halves each fault's duration while the failure stays; a shorter fault is easier to reason about.
bool shrink_durations(Schedule& s, Shrinker& shrinker) {
  bool progress = false;
  for (std::size_t i = 0; i < s.faults.size(); ++i) {
    while (s.faults[i].duration > Duration::millis(1)) {
      Schedule candidate = s;
      candidate.faults[i].duration = s.faults[i].duration / 2;
      if (!shrinker.fails(candidate)) break;
      s = std::move(candidate);
      progress = true;
    }
  }
  return progress;
}

/// Ends the users' window right after the last operation left; the settle period stays whole,
/// because convergence needs it.
bool shrink_window(Schedule& s, Shrinker& shrinker) {
  Instant last = Instant::start();
  for (const Operation& op : s.operations) last = max(last, op.issued_at);
  const Instant end = last + Duration::millis(1);
  if (end >= s.workload_end) return false;
  Schedule candidate = s;
  candidate.workload_end = end;
  if (!shrinker.fails(candidate)) return false;
  s = std::move(candidate);
  return true;
}

/// The target for a repro: at most this many clients (and 12 operations).
constexpr std::uint32_t kFewClients = 3;

bool smaller(const Schedule& a, const Schedule& b) {
  const ScheduleSize x = size_of(a);
  const ScheduleSize y = size_of(b);
  return std::tie(x.clients, x.operations, x.faults) < std::tie(y.clients, y.operations, y.faults);
}

/// One shrink from `original`. With `operations_first`, the one-shot cuts of the operations (the
/// ones the report names, else the shortest failing prefix) come before everything else.
Schedule shrink_pass(const Schedule& original, const std::set<OpId>& involved, bool operations_first, Shrinker& shrinker) {
  Schedule s = original;
  if (operations_first && !shrink_to_involved(s, involved, shrinker)) shrink_prefix(s, shrinker);
  // Then cheap, large cuts (whole clients, then faults), then the fine ones; repeat until nothing
  // more can go or the limits are hit.
  for (bool progress = true; progress && !shrinker.exhausted();) {
    progress = shrink_clients(s, shrinker);
    progress = shrink_faults(s, shrinker) || progress;
    progress = shrink_operations(s, shrinker) || progress;
    progress = shrink_durations(s, shrinker) || progress;
    progress = shrink_window(s, shrinker) || progress;
  }
  return s;
}

}  // namespace

bool shows(const RunResult& result, std::string_view verdict) {
  if (verdict == kAbortedVerdict) return !result.aborted.empty();
  return std::any_of(result.violations.begin(), result.violations.end(),
                     [&](const Violation& v) { return to_string(v.invariant) == verdict; });
}

Shrunk shrink_schedule(const Scenario& scenario, const ModelInfo& model, const Schedule& schedule, std::uint64_t seed,
                       const std::string& verdict, const ShrinkLimits& limits) {
  Shrinker shrinker(scenario, model, seed, verdict, limits);
  const std::set<OpId> involved = involved_in(run_simulation(scenario, model, schedule, seed), verdict);
  Schedule s = shrink_pass(schedule, involved, true, shrinker);
  // Cutting the operations first can leave a failure that needs every client (a client that issues
  // nothing still sends and receives). Starting again from the original with whole clients first
  // often does better, so a result with many clients gets that second try.
  if (s.clients > kFewClients && !shrinker.exhausted()) {
    Schedule other = shrink_pass(schedule, involved, false, shrinker);
    if (smaller(other, s)) s = std::move(other);
  }
  return Shrunk{std::move(s), shrinker.runs(), shrinker.stopped()};
}

}  // namespace syncstorm
