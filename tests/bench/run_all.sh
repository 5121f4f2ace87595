#!/usr/bin/env bash
# Runs every benchmark and prints one table: each figure beside its baseline measured in the same run.
#   tests/bench/run_all.sh [BUILD_DIR]     (default build/release; build it with ./setup.sh build)
# The peers (SimGrid's S4U, ns-3's scheduler) are installed from Debian when missing; where one cannot
# be installed or built, its rows are skipped with a message, not failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
bench=$build/tests/bench/syncstorm_bench
[ -x "$bench" ] || { echo "run_all: $bench is missing: run ./setup.sh build first" >&2; exit 2; }
out=$(mktemp -d)
reps=${SYNCSTORM_BENCH_REPETITIONS:-3}
# SYNCSTORM_BENCH_FILTER narrows syncstorm's own benchmarks (a Google Benchmark regex), e.g. 'hold|peers'
# to leave out the long scale runs.
filter=${SYNCSTORM_BENCH_FILTER:-.}

echo "== syncstorm benchmarks ($reps repetitions, medians)"
"$bench" --benchmark_filter="$filter" --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true | tee "$out/syncstorm.txt" |
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
    g++ -O2 -std=c++20 -I. -c sim/rng.cpp -o "$out/rng.o" || peers_ok=0
  # ns-3.37's headers are not C++20-clean: the peers build as C++17 and reach our RNG through draws.hpp.
  g++ -O2 -std=c++17 -I. tests/bench/peers/ns3_patterns.cpp "$out/draws.o" "$out/rng.o" -o "$out/ns3" -lns3-core ||
    { echo "SKIPPED: the ns-3 benchmark did not build"; }
  g++ -O2 -std=c++17 -I. tests/bench/peers/simgrid_peers.cpp "$out/draws.o" "$out/rng.o" -o "$out/simgrid" -lsimgrid ||
    { echo "SKIPPED: the SimGrid benchmark did not build"; }
fi
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rate_of() {  # rate_of NAME: the median items per wall second syncstorm_bench printed for NAME
  awk -v n="$1" '$1 == "rate" && $2 == n {print $3}' "$out/syncstorm.txt"
}
printf '%-34s %14s %14s %8s\n' "pattern" "syncstorm/s" "peer/s" "ratio"
for n in 10 1000 10000 100000; do
  [ -x "$out/ns3" ] || break
  peer=$(for r in $(seq "$reps"); do "$out/ns3" hold "$n" | awk '{print $6}'; done | median)
  mine=$(rate_of "hold/engine/$n")
  [ -n "$mine" ] && printf '%-34s %14.0f %14.0f %8.2f\n' "hold N=$n vs ns-3 PriorityQueue" "$mine" "$peer" "$(awk -v a="$mine" -v b="$peer" 'BEGIN {print a / b}')"
done
for spec in "10 1000" "100 1000" "1000 100"; do
  set -- $spec
  mine=$(rate_of "peers/engine/$1/$2")
  if [ -x "$out/simgrid" ]; then
    peer=$(for r in $(seq "$reps"); do "$out/simgrid" "$1" "$2" 2>/dev/null | awk '{print $6}'; done | median)
    [ -n "$mine" ] && printf '%-34s %14.0f %14.0f %8.2f\n' "peers N=$1 vs SimGrid S4U" "$mine" "$peer" "$(awk -v a="$mine" -v b="$peer" 'BEGIN {print a / b}')"
  fi
  if [ -x "$out/ns3" ]; then
    peer=$(for r in $(seq "$reps"); do "$out/ns3" peers "$1" "$2" | awk '{print $6}'; done | median)
    [ -n "$mine" ] && printf '%-34s %14.0f %14.0f %8.2f\n' "peers N=$1 vs ns-3 scheduler" "$mine" "$peer" "$(awk -v a="$mine" -v b="$peer" 'BEGIN {print a / b}')"
  fi
done
rm -rf "$out"
