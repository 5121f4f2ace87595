#!/usr/bin/env bash
# Runs every benchmark and prints one table: each figure beside its baseline measured in the same run,
# every ratio as min / median / max over at least five repetitions (tests/bench/ratios.py), with the
# load average before and after (a ratio against a baseline in the same process travels; the rates
# do not, least of all from a loaded machine).
#   tests/bench/run_all.sh [BUILD_DIR]     (default build/release; build it with ./setup.sh build)
# The peers (SimGrid's S4U, ns-3's scheduler) are installed from Debian when missing; where one cannot
# be installed or built, its rows are skipped with a message, not failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
bench=$build/tests/bench/syncstorm_bench
[ -x "$bench" ] || { echo "run_all: $bench is missing: run ./setup.sh build first" >&2; exit 2; }
out=$(mktemp -d)
reps=${SYNCSTORM_BENCH_REPETITIONS:-5}
[ "$reps" -ge 5 ] 2> /dev/null ||
  { echo "run_all: SYNCSTORM_BENCH_REPETITIONS must be at least 5 (a spread needs runs), got '$reps'" >&2; exit 2; }
# SYNCSTORM_BENCH_FILTER narrows syncstorm's own benchmarks (a Google Benchmark regex), e.g. '^(hold|peers)/'
# to leave out the long scale runs.
filter=${SYNCSTORM_BENCH_FILTER:-.}

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== syncstorm benchmarks ($reps repetitions, medians)"
# Random interleaving runs the repetitions of all benchmarks in a shuffled order, so that a figure and
# its baseline meet the same spells of load from other processes.
"$bench" --benchmark_filter="$filter" --benchmark_repetitions="$reps" --benchmark_display_aggregates_only=true \
  --benchmark_enable_random_interleaving=true --benchmark_out="$out/syncstorm.json" --benchmark_out_format=json | tee "$out/syncstorm.txt" |
  sed -n '/^figure/,/^$/p; /^real work/,/^$/p; /^scale (median)/,/^$/p'

echo
echo "== peers on the same patterns"
peers_ok=1
if ! dpkg-query -W -f='${Status}' libsimgrid-dev libns3-dev 2>/dev/null | grep -c "install ok installed" | grep -q 2; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  ($sudo apt-get install -y -q libsimgrid-dev libns3-dev > "$out/apt.log" 2>&1) ||
    { echo "SKIPPED: libsimgrid-dev or libns3-dev could not be installed (see $out/apt.log)"; peers_ok=0; }
fi
if [ "$peers_ok" = 1 ]; then
  g++ -O2 -std=c++20 -I. -c tests/bench/peers/draws.cpp -o "$out/draws.o" &&
    g++ -O2 -std=c++20 -I. -c sim/base/rng.cpp -o "$out/rng.o" || peers_ok=0
  # ns-3.37's headers are not C++20-clean: the peers build as C++17 and reach our RNG through draws.hpp.
  g++ -O2 -std=c++17 -I. tests/bench/peers/ns3_patterns.cpp "$out/draws.o" "$out/rng.o" -o "$out/ns3" -lns3-core ||
    { echo "SKIPPED: the ns-3 benchmark did not build"; }
  g++ -O2 -std=c++17 -I. tests/bench/peers/simgrid_peers.cpp "$out/draws.o" "$out/rng.o" -o "$out/simgrid" -lsimgrid ||
    { echo "SKIPPED: the SimGrid benchmark did not build"; }
fi
# One line per peer row for ratios.py: label, syncstorm's figure, then the peer's rate in each run.
peer_row() {  # peer_row LABEL FIGURE COMMAND...
  local label=$1 figure=$2 r
  shift 2
  printf '%s\t%s' "$label" "$figure"
  for r in $(seq "$reps"); do printf '\t%s' "$("$@" 2> /dev/null | awk '{print $6}')"; done
  printf '\n'
}
: > "$out/peers.tsv"
for n in 10 1000 10000 100000; do
  [ -x "$out/ns3" ] && peer_row "hold N=$n vs ns-3 PriorityQueue" "hold/engine/$n" "$out/ns3" hold "$n" >> "$out/peers.tsv"
done
for spec in "10 1000" "100 1000" "1000 100"; do
  set -- $spec
  [ -x "$out/simgrid" ] && peer_row "peers N=$1 vs SimGrid S4U" "peers/engine/$1/$2" "$out/simgrid" "$1" "$2" >> "$out/peers.tsv"
  [ -x "$out/ns3" ] && peer_row "peers N=$1 vs ns-3 scheduler" "peers/engine/$1/$2" "$out/ns3" peers "$1" "$2" >> "$out/peers.tsv"
done
echo
echo "== ratios over the $reps repetitions (repetition i against repetition i; load average now $(cut -d' ' -f1-3 /proc/loadavg))"
python3 tests/bench/ratios.py "$out/syncstorm.json" "$out/peers.tsv"
rm -rf "$out"
