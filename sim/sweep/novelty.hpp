// The novelty exploration strategy (`check --explore novelty`): AFL's idea, made deterministic. A
// sweep keeps a corpus of the schedules that reached something no earlier run of it had reached,
// measured by a cheap coverage signal read from each run's history (novelty_features), and breeds
// most later runs from a corpus member by one small mutation (mutate) instead of drawing fresh.
//
// Determinism: a run's schedule is a function of its lineage alone, the seeds it was bred from,
// oldest first, ending with its own seed (novelty_schedule). The corpus decides only which lineage
// a seed gets, and the sweep plans a whole generation of seeds from the corpus as it stood before
// that generation and merges their results in seed order afterwards, so --jobs cannot change it.
// A lineage is what a replay needs (`replay ... --explore novelty --lineage A,B`), and a repro file
// holds the bred schedule explicitly as any repro does.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "sim/base/data.hpp"
#include "sim/base/result.hpp"
#include "sim/engine/simulation.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/scenario/schedule.hpp"

namespace syncstorm {

/// The seeds a schedule was bred from, oldest first; the last is the run's own seed. One seed alone
/// is a root: the random strategy's schedule of that seed.
using Lineage = std::vector<std::uint64_t>;

/// How many seeds generation `generation` (0-based) of a sweep plans from one state of the corpus:
/// the sweep folds their results only after all of them ran. 16, 16, 32, 32, then 64: small at
/// first, so breeding starts early, then large enough to keep many jobs busy. Never derived from
/// --jobs, so any number of jobs breeds the same runs; always a multiple of 16, so check's chunks
/// of 16 seeds start at the same seeds as under the other strategies.
constexpr std::uint64_t novelty_generation_size(std::uint64_t generation) {
  return generation >= 4 ? 64 : std::uint64_t{16} << (generation / 2);
}
/// The longest lineage the corpus breeds from: a replay rebuilds a schedule mutation by mutation.
inline constexpr std::size_t kLineageMax = 8;
/// One seed in this many is planned as a fresh root even when the corpus has members.
inline constexpr std::uint64_t kFreshOneIn = 4;

/// The schedule of `lineage`: the root's random schedule, then one mutation per later seed.
Schedule novelty_schedule(const Scenario& scenario, const ModelInfo& model, const Lineage& lineage);

/// One mutation of `parent`, its draws from `seed`: shift a fault's start, remove a fault, add a
/// copy of a fault at another moment, or take the users' operations of `seed`'s own schedule
/// (keeping the parent's faults). The nodes and the time window never change.
Schedule mutate(const Scenario& scenario, const ModelInfo& model, const Schedule& parent, std::uint64_t seed);

/// The coverage signal of one run, sorted and without repeats: per operation its kind and what its
/// user saw (issued, applied, acknowledged, rejected) with the kind of fault that started while it
/// was in flight on its client's side; bucketed counts of resets, crashes, lost intents, drops,
/// duplicates, view regressions and distinct final states; whether it converged; the invariants it
/// broke. Each feature is a 64-bit hash of a tag and small values.
std::vector<std::uint64_t> novelty_features(const Schedule& schedule, const RunResult& run);

/// The corpus of one (scenario, model) sweep.
class NoveltyCorpus {
 public:
  /// The lineage seed `seed` runs with: a fresh root, or a member's lineage with `seed` appended.
  Lineage plan(std::uint64_t seed) const;
  /// Counts a finished run's features; when one is new, its lineage joins the corpus. Returns
  /// whether it joined.
  bool add(const Lineage& lineage, const std::vector<std::uint64_t>& features);

  std::size_t size() const { return members_.size(); }
  std::size_t features_seen() const { return seen_.size(); }

 private:
  std::set<std::uint64_t> seen_;  ///< ordered: nothing here may depend on hash-table order
  std::vector<Lineage> members_;  ///< in the order they joined
};

/// "A,B,C" as a lineage's ancestors (every seed but the last); `key` names the flag in errors.
Result<std::vector<std::uint64_t>> parse_lineage(std::string_view text, const std::string& key = "--lineage");

}  // namespace syncstorm
