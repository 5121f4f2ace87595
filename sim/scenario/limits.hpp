// Every size a scenario file, a repro file or a flag can ask for, checked when it is read: a file that
// asks for more than a limit is refused with its file, line and key (exit 2) instead of exhausting
// memory or running for days. One place, one reason per value; sim/scenario/README.md has the table,
// with how to raise each. Raising one is a code change on purpose: a limit a file could lift would
// not protect the sweep that loads that file.
#pragma once

#include <cstdint>
#include <limits>

#include "sim/base/time.hpp"

namespace syncstorm::limits {

// ---- what one run may hold (scenario files and repro files) -------------------------------------

/// Clients in one run. The engine keeps a runtime of a few kilobytes per node and node ids are 32-bit;
/// the largest measured storm has 100,000 clients, so ten times that is room, not a target.
inline constexpr std::uint32_t kClientsMax = 1'000'000;
/// Servers in one run: server-to-server links grow with the square of their number.
inline constexpr std::uint32_t kServersMax = 64;
/// Keys (fields or item ids) users touch; key ids are 32-bit and a replica may hold every one.
inline constexpr std::uint32_t kKeysMax = 1'000'000;
/// User operations in one run (scenario: clients x duration / think time, the expected count). The
/// schedule is drawn before the run and every operation costs at least three engine events (issue,
/// send, delivery), so a larger schedule could not finish under kEventsMax anyway; drawing it would
/// first take about 0.5 GB (the schedule and the run's history of each operation).
inline constexpr std::uint64_t kOperationsMax = 5'000'000;
/// The size of one counter operation's amount in a repro file, either sign. With at most
/// kOperationsMax operations, any run's sum stays 6 orders of magnitude inside 64 bits, so a model's
/// total cannot overflow on the users' own amounts.
inline constexpr std::int64_t kCounterAmountMax = 1'000'000;
/// The largest size the workload draws for a counter operation (from 1, either sign).
inline constexpr std::int64_t kCounterAmountDrawnMax = 1'000;
static_assert(kCounterAmountDrawnMax <= kCounterAmountMax, "a drawn amount must replay from its repro");
/// [[fault]] entries in one scenario file, each made concrete per seed.
inline constexpr std::uint32_t kFaultsMax = 10'000;
/// Swarm faults drawn per seed (`[swarm] max_faults`).
inline constexpr std::uint32_t kSwarmFaultsMax = 1'000;
/// Any duration a file gives (latency, timeouts, backoff, fault times and lengths, settle, clock skew),
/// and the whole simulated span of a run (its last heal plus settle). A week is 5,000 times the
/// longest shipped scenario; the engine samples convergence every 100 ms, so a week is already six
/// million sample events, and every sum of instants stays far inside 64-bit microseconds.
inline constexpr Duration kDurationMax = Duration::seconds(7 * 24 * 3600);
/// Any byte count a file gives (bandwidth, fault sizes, metadata bounds): a terabyte, so that sums of
/// byte counts over a run cannot overflow 64 bits.
inline constexpr std::uint64_t kBytesMax = 1'000'000'000'000;
/// The size of a scenario file: a scenario is a page of TOML (the largest shipped one is under 3 KB),
/// and the parser holds the whole file and its tree in memory.
inline constexpr std::uint64_t kScenarioFileBytesMax = 1'000'000;
/// The size of a repro file. A shrunk repro is a few kilobytes, an unshrunk one (a crash) holds the
/// whole schedule at about 100 bytes of TOML per operation; the parsed tree takes about ten times the
/// file, so 256 MB keeps a hand-edited mistake from taking the machine's memory.
inline constexpr std::uint64_t kReproFileBytesMax = 256'000'000;

// ---- what one run may do (the engine) --------------------------------------------------------------

/// Events one run may process: 20 million, or kEventsPerNodeMax per node when that is more (a
/// 100,000-client storm legitimately needs more than 20 million). A model that never goes quiet ends
/// here, with a message naming this limit, instead of hanging a sweep: 20 million events are a few
/// seconds of one core at the engine's rate, far more than any shipped scenario uses.
inline constexpr std::uint64_t kEventsMax = 20'000'000;
inline constexpr std::uint64_t kEventsPerNodeMax = 1'000;

// ---- what one command may ask for (flags) ------------------------------------------------------------

/// The largest seed: repro files and the JSON summary store seeds as TOML and JSON integers, which
/// are signed 64-bit, so a larger seed could not be written down and replayed.
inline constexpr std::uint64_t kSeedMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
/// Seeds in one `check` (--seeds, or the size of --seed-range without --time-budget). Check keeps a
/// trace hash per seed and pair (8 MB per pair at this count); more seeds go in shards (--shard) or
/// consecutive --seed-range runs joined by `syncstorm merge`.
inline constexpr std::uint64_t kCheckSeedsMax = 1'000'000;
/// Seeds per pair in one `compare` (--seeds, --storm-seeds). A comparison keeps every run's figures,
/// up to 200,000 latency samples each, in memory for its quantiles.
inline constexpr std::uint32_t kCompareSeedsMax = 10'000;
/// Parallel workers (--jobs): child processes for `check`, threads for `compare`. Each holds a whole
/// simulation; beyond the cores they only cost memory, and 256 covers the largest machines.
inline constexpr std::uint32_t kJobsMax = 256;
/// --run-timeout, in wall-clock seconds: a day. A run that takes longer is hung by any measure.
inline constexpr std::uint32_t kRunTimeoutSecondsMax = 24 * 3600;
/// --shrink-runs: simulations spent on shrinking one failure (default 2,000, which shrinks every
/// shipped buggy model); a million is hours of work on one failure.
inline constexpr std::uint32_t kShrinkRunsMax = 1'000'000;
/// --shrink-time, in wall-clock milliseconds: an hour per failure (0 means no time limit).
inline constexpr std::int64_t kShrinkTimeMsMax = 3'600'000;
/// Shards of one sweep (--shard K/N): a million, one seed each at the largest --seeds.
inline constexpr std::uint64_t kShardsMax = 1'000'000;
/// --time-budget, in its own unit: ten million seconds (about 116 days) is beyond any CI job, and
/// keeps the budget in milliseconds far from overflow.
inline constexpr std::uint64_t kTimeBudgetCountMax = 10'000'000;

}  // namespace syncstorm::limits
