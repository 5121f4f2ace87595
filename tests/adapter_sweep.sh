#!/usr/bin/env bash
# The adapter sweep: every shipped external adapter (real libraries in Node.js) over every shipped
# scenario it fits (the slowest over a few cheap ones: only_scenarios below), with a seed count per
# adapter sized so that the whole sweep takes under 9 minutes on 2 cores (the aim allows 10), and the costliest scenarios
# at a share of it (scenario_share below). Prints, per adapter, the seeds run, the runs and the
# wall-clock seconds, and exits 1 when a model declared correct fails any seed, or a buggy baseline
# (one that declares "breaks X") fails anything but X (another invariant, a crash, a hang). Exits 2
# on bad input or a missing program.
#
#   tests/adapter_sweep.sh [SYNCSTORM_BINARY [MODEL...]]
#
# SYNCSTORM_BINARY defaults to build/release/syncstorm; MODEL names limit the sweep to those adapters
# (all shipped ones by default).
# ADAPTER_SWEEP_JOBS (default 2): check's --jobs. ADAPTER_SWEEP_SEEDS_PERCENT (default 100): scales
# every seed count (at least 1 seed each), for a faster or a longer machine. Seed counts, their cost
# and the libraries' own limits: models/adapters/README.md, "The adapter sweep".
set -uo pipefail

bin=${1:-build/release/syncstorm}
shift $(( $# > 0 ? 1 : 0 ))
only=" $* "
jobs=${ADAPTER_SWEEP_JOBS:-2}
percent=${ADAPTER_SWEEP_SEEDS_PERCENT:-100}
cd "$(dirname "$0")/.." || exit 2
# A loaded CI machine can take seconds to start Node.js and a library: a hang is still caught, later.
export SYNCSTORM_EXTERNAL_TIMEOUT_MS=${SYNCSTORM_EXTERNAL_TIMEOUT_MS:-60000}

fail_input() { printf 'adapter_sweep: %s\n' "$1" >&2; exit 2; }
[ -x "$bin" ] || fail_input "no syncstorm binary at $bin (build it, or pass its path)"
command -v node > /dev/null || fail_input "node is not installed: the external adapters need Node.js 20"
[[ $jobs =~ ^[1-9][0-9]*$ ]] || fail_input "ADAPTER_SWEEP_JOBS: not a positive integer: $jobs"
[[ $percent =~ ^[1-9][0-9]*$ ]] || fail_input "ADAPTER_SWEEP_SEEDS_PERCENT: not a positive integer: $percent"

# Seeds per adapter (of every scenario it fits but those of scenario_share below: 15 to 19 for a
# map, 8 to 11 for a list or a text): seeds 1..ceil(N/2) at random and 1..floor(N/2) under --explore
# priority (the scenarios of scenario_share below at random only).
# The aim is 200; the libraries' own work allows far fewer in 9 minutes of 2 cores (about 800 CPU
# seconds once a margin is kept). One seed of every scenario an adapter fits costs, warm, about 3
# CPU seconds (Yjs) to 60 (automerge-repo map): models/adapters/README.md, "The adapter sweep",
# gives the estimates and how they were measured.
declare -A seeds=(
  [yjs-list]=24
  [yjs-text]=24
  [automerge-map]=2
  [automerge-list]=4
  [sharedb-map]=4
  [sharedb-list]=9
  [sharedb-text]=12
  [sharedb-map-1.0.0-beta.29]=2
  [sharedb-map-1.0.0-beta.31]=2
  [yjs-ws-list]=13
  [yjs-ws-text]=13
  [automerge-repo-map]=1
  [automerge-repo-list]=1
  [loro-map]=4
  [loro-list]=13
  [loro-text]=3
  [loro-p2p-map]=3
  [loro-p2p-list]=4
  [loro-p2p-text]=2
  [tinybase-map]=2
  [tinybase-list]=3
)

# Scenarios whose one seed costs as much as several of the others together, run at this percent of
# an adapter's seed count (at least 1 seed), so that the seeds go where they are cheap. One seed of
# reconnect-storm (60 clients, where the others have 3 to 9) took 24% (ShareDB map) to 72% (Loro
# text) of one seed of every scenario an adapter fits, 48% over all of them: run at a quarter of the
# count, it leaves time for half as many seeds again of the other scenarios, for the same sweep time.
# Its 60 clients make each of its seeds many interleavings already. models/adapters/README.md, "The
# adapter sweep", has the figures.
declare -A scenario_share=(
  [reconnect-storm]=25
)

# Findings of the libraries themselves, not of our adapters: verdicts the checkers give rightly, which
# a user of the library should know, listed here so that the sweep still catches every other failure.
# One line per finding: MODEL SCENARIO INVARIANT (SCENARIO * for any), and why. Each is in
# models/adapters/README.md, "The adapter sweep".
# - A ShareDB client keeps its unacknowledged ops in memory only (ShareDB has no offline
#   persistence): a reloaded tab drops them, and its user is told nothing (article-tab-reload, and
#   swarm when it crashes a client with ops in flight).
# - y-websocket's server relays other users' updates to a client from the moment it connects, before
#   it has answered the client's state vector; Yjs then shows a key as absent while an overwrite
#   waits for the item it follows (yjs#461), so a view goes back in time until the resync arrives.
#   yjs-ws-list declares the monotonic-reads break this causes; when the write that vanishes is the
#   client's own, the same cause breaks read-your-writes. The yjs-list relay keeps causal order and
#   is held to both guarantees.
# - automerge-repo 2.5.6 stalls after a reconnect (the convergence break its models declare): the
#   stalled clients' later writes reach nobody else, and their users are told nothing. The checks
#   report those writes as silent rollbacks beside the divergence.
# - TinyBase 10.0.1 never sends a change made while its synchronizer is loading (the convergence
#   break its models declare): the replicas that never pull it lose that write, silently.
# - ShareDB 1.0.0-beta.29 acknowledges an offline edit merged into an op whose acknowledgement was
#   lost, and never applies it (sharedb#327, the read-your-writes break its model declares): the
#   edit is then an acknowledged write lost for good (server-crash seed 3, its crash point resetting
#   every connection while acknowledgements are on the wire). 1.0.0-beta.31 passes the same seed.
#   The same lost edit breaks the orders ShareDB promises (a later write of its user shown without
#   it: monotonic writes) and leaves its client apart from everyone for good (convergence):
#   article-hybrid-dashboard seeds 3 and 8, flaky-mobile, server-crash. 1.0.0-beta.31 passes them.
known_findings="
sharedb-map article-tab-reload silent-rollback
sharedb-map-1.0.0-beta.29 article-tab-reload silent-rollback
sharedb-map-1.0.0-beta.31 article-tab-reload silent-rollback
sharedb-map swarm silent-rollback
sharedb-list swarm silent-rollback
sharedb-text swarm silent-rollback
yjs-ws-list * read-your-writes
automerge-repo-map * silent-rollback
automerge-repo-list * silent-rollback
tinybase-map * silent-rollback
tinybase-list * silent-rollback
sharedb-map-1.0.0-beta.29 * lost-acknowledged-write
sharedb-map-1.0.0-beta.29 * monotonic-writes
sharedb-map-1.0.0-beta.29 * convergence
"

# Quarantined adapters: failures whose cause (the library or our adapter) is not yet found. The sweep
# skips them, saying so, unless they are named on the command line; they are not counted as passing.
# One line per model: MODEL, then why. Each is in models/adapters/README.md, "The adapter sweep".
declare -A quarantined=()
# Adapters whose library's own work leaves no seed of every scenario inside the budget: printed as not
# run, and swept by the nightly shards (.ci/examples/github-actions-adapters.yml) or by naming them.
declare -A over_budget=()
# Adapters too slow for one seed of every scenario they fit, run on the cheapest of them instead (one
# seed of each costs 4 to 8 s of wall time); the rest are the nightly shards'. One seed of every
# scenario: automerge-repo-list over 9 minutes of one core (reconnect-storm's 60 clients),
# automerge-repo-map about 3 minutes of 2 cores and reconnect-storm besides.
declare -A only_scenarios=(
  [automerge-repo-map]="quiet server-crash wifi-drop offline-editing"
  [automerge-repo-list]="quiet server-crash wifi-drop offline-editing"
)

work=$(mktemp -d) || exit 2
trap 'rm -rf "$work"' EXIT
listing="$work/list.json"
"$bin" list --json > "$listing" || fail_input "$bin list --json failed"
# The shipped external models and what each declares it breaks ("-" for a model declared correct).
models=$(node -e '
  for (const m of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).models) if (m.external) console.log(m.name, m.correct ? "-" : m.breaks);' "$listing") ||
  fail_input "$bin list --json printed no model list"
[ -n "$models" ] || fail_input "$bin lists no external model"
# The shipped scenarios each one fits (its data type, its topology): the scenarios it is checked on.
fitting=$(node -e '
  for (const m of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).models) {
    if (!m.external) continue;
    if (!Array.isArray(m.fits)) throw new Error(`no "fits" for ${m.name}: a binary older than this script?`);
    console.log(m.name, m.fits.join(" "));
  }' "$listing") || fail_input "$bin list --json does not say which scenarios each model fits"
declare -A fits=()
while read -r name scenario_names; do
  fits[$name]=$scenario_names
done <<< "$fitting"

# Every shipped adapter must have a seed count here: a new one is not silently left out.
while read -r name _; do
  [ -n "${seeds[$name]:-}" ] || fail_input "no seed count for the shipped adapter $name: add it to the table in $0"
done <<< "$models"
while read -r name _; do
  [ -z "$name" ] || grep -q "^$name " <<< "$models" || fail_input "known finding of $name, which is not a shipped external model"
done <<< "$known_findings"
for name in "${!quarantined[@]}" "${!over_budget[@]}" "${!only_scenarios[@]}"; do
  grep -q "^$name " <<< "$models" || fail_input "$name, quarantined, over budget or limited to some scenarios, is not a shipped external model"
done
for name in "${!only_scenarios[@]}"; do
  for scenario in ${only_scenarios[$name]}; do
    [[ " ${fits[$name]:-} " == *" $scenario "* ]] || fail_input "only_scenarios of $name names $scenario, a scenario it does not fit"
  done
done
# Every shipped scenario, by name.
scenarios=$(node -e 'for (const s of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).scenarios) console.log(s.name);' "$listing") ||
  fail_input "$bin list --json printed no scenario list"
for scenario in "${!scenario_share[@]}"; do
  grep -qx "$scenario" <<< "$scenarios" || fail_input "scenario_share names $scenario, which is not a shipped scenario"
  [[ ${scenario_share[$scenario]} =~ ^[1-9][0-9]?$|^100$ ]] ||
    fail_input "scenario_share of $scenario: not a percent from 1 to 100: ${scenario_share[$scenario]}"
done
for name in $only; do
  grep -q "^$name " <<< "$models" || fail_input "$name is not a shipped external model ($bin list)"
done
if [ "$only" != "  " ]; then models=$(grep -E "^($(tr ' ' '\n' <<< "$only" | grep . | paste -sd '|')) " <<< "$models"); fi

# Prints the failures of a check JSON summary that the model's declaration does not explain: every
# failure of a correct model, and a buggy model's failures of anything but the invariant it breaks.
unexplained() {
  node -e '
    const fs = require("fs");
    const [file, breaks, known] = process.argv.slice(1);
    const summary = JSON.parse(fs.readFileSync(file, "utf8"));
    const expected = new Set(known.split("\n").filter((l) => l));
    for (const result of summary.results) {
      for (const f of result.failures) {
        if (breaks !== "-" && f.invariant === breaks && !f.crash) continue;
        if (!f.crash && (expected.has(`${result.scenario} ${f.invariant}`) || expected.has(`* ${f.invariant}`))) continue;
        console.log(`    ${result.scenario} seed ${f.seed}: ${f.crash ? "crashed: " + f.crash : f.invariant} (${f.replay})`);
      }
      for (const d of result.divergences || []) console.log(`    ${result.scenario}: a re-run gave another trace: ${JSON.stringify(d)}`);
    }' "$1" "$2" "$3"
}

# The known findings of MODEL as "SCENARIO INVARIANT" lines.
known_of() { awk -v m="$1" '$1 == m { print $2, $3 }' <<< "$known_findings"; }

runs_of() { node -e 'let n = 0; for (const r of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results) n += r.seeds_run; console.log(n);' "$1"; }

status=0
total_start=$(date +%s)
printf '%-28s %6s %6s %8s  %s\n' model seeds runs seconds verdict
while read -r name breaks; do
  if [ -n "${quarantined[$name]:-}" ] && [ "$only" = "  " ]; then
    printf '%-28s %6s %6s %8s  %s\n' "$name" "-" "-" "-" "QUARANTINED, not run: ${quarantined[$name]}"
    continue
  fi
  if [ -n "${over_budget[$name]:-}" ] && [ "$only" = "  " ]; then
    printf '%-28s %6s %6s %8s  %s\n' "$name" "-" "-" "-" "OVER BUDGET, not run: ${over_budget[$name]}"
    continue
  fi
  n=$(( seeds[$name] * percent / 100 ))
  [ "$n" -ge 1 ] || n=1
  # One check of the scenarios at the adapter's count, then one of each costly scenario at its share.
  groups=()
  light=""
  heavy_note=""
  for scenario in ${only_scenarios[$name]:-${fits[$name]:-}}; do
    if [ -n "${scenario_share[$scenario]:-}" ]; then
      k=$(( n * scenario_share[$scenario] / 100 ))
      [ "$k" -ge 1 ] || k=1
      groups+=("$k $scenario")
    else
      light="$light $scenario"
    fi
  done
  light=${light# }
  [ -z "$light" ] || groups=("$n $light" "${groups[@]}")
  start=$(date +%s)
  error=""
  error_tail=""
  bad=""
  runs=0
  any_failed=0
  index=0
  for group in "${groups[@]}"; do
    read -r count group_scenarios <<< "$group"
    # Half the seeds (rounded up) at random, the other half under --explore priority, which puts
    # resets and crashes where writes are in flight: it found a library's divergence (Automerge 3,
    # models/adapters/automerge/repros) on a seed that hundreds of random runs had passed. A costly
    # scenario's few seeds stay random: another check costs a start of the adapters for little.
    for explore in random priority; do
      if [ "$group_scenarios" != "$light" ]; then
        [ "$explore" = random ] || continue
        explore_count=$count
      elif [ "$explore" = random ]; then explore_count=$(( (count + 1) / 2 )); else explore_count=$(( count / 2 )); fi
      [ "$explore_count" -ge 1 ] || continue
      out="$work/$name.$index"
      index=$((index + 1))
      # shellcheck disable=SC2086 # the scenario names are words
      "$bin" check $group_scenarios -m "$name" --seeds "$explore_count" --explore "$explore" --jobs "$jobs" --no-shrink \
        --no-progress --corpus "$work/corpus-$name" --json "$out.json" > "$out.log" 2>&1
      rc=$?
      if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ] || [ ! -s "$out.json" ]; then
        error="check of $group_scenarios ($explore) exited $rc"
        error_tail=$(tail -n 20 "$out.log" | sed 's/^/    /')
        break 2
      fi
      [ "$rc" -eq 0 ] || any_failed=1
      found=$(unexplained "$out.json" "$breaks" "$(known_of "$name")")
      [ -z "$found" ] || bad="${bad:+$bad$'\n'}$found"
      runs=$(( runs + $(runs_of "$out.json") ))
    done
    [ "$group_scenarios" = "$light" ] || heavy_note="$heavy_note; $group_scenarios at $count seed$([ "$count" -eq 1 ] || echo s)"
  done
  seconds=$(( $(date +%s) - start ))
  [ -n "$error" ] || [ "$runs" -gt 0 ] || error="no scenario it fits was run"
  if [ -n "$error" ]; then
    printf '%-28s %6s %6s %8s  %s\n' "$name" "$n" "-" "$seconds" "ERROR ($error)"
    [ -z "$error_tail" ] || printf '%s\n' "$error_tail"
    status=1
    continue
  fi
  if [ -n "$bad" ]; then verdict="FAIL"; status=1
  elif [ "$any_failed" -eq 1 ] && [ "$breaks" != "-" ]; then verdict="pass (fails only $breaks, as it declares, or a known finding)"
  elif [ "$any_failed" -eq 1 ]; then verdict="pass (fails only known findings of the library)"
  else verdict="pass"; fi
  [ -z "${only_scenarios[$name]:-}" ] || verdict="$verdict; only ${only_scenarios[$name]}"
  verdict="$verdict$heavy_note"
  printf '%-28s %6s %6s %8s  %s\n' "$name" "$n" "$runs" "$seconds" "$verdict"
  [ -z "$bad" ] || printf '%s\n' "$bad"
done <<< "$models"
printf 'total %d s; verdict: %s\n' "$(( $(date +%s) - total_start ))" "$([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
