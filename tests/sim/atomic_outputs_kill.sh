#!/usr/bin/env bash
# Kills `syncstorm check` (JUnit, JSON, repro files) and `syncstorm compare` (the report folder) with
# SIGKILL at a fixed schedule of moments spread over their run, writing over the outputs of an earlier
# run, and then requires every output file to be absent, the earlier complete version, or the new
# complete version: never cut short, never mixed. The JUnit must parse and validate (xmllint), the
# JSON must parse (jq). Usage: atomic_outputs_kill.sh SYNCSTORM_BINARY SOURCE_DIR [KILLS]
set -euo pipefail
# LeakSanitizer cannot run under ptrace (strace, below) and aborts a sanitized build's process at exit;
# every other sanitized test still checks for leaks.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
bin=$1
src=$2
kills=${3:-12}
for tool in xmllint jq setsid; do
  command -v "$tool" > /dev/null || { echo "FAILED: this test needs $tool"; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAILED: $*"; exit 1; }

# JUnit carries wall-clock times; everything else in these outputs is byte-identical run to run.
junit_norm() { sed -E 's/time="[^"]*"/time=""/g' "$1"; }
# same_as_either FILE: killed/FILE is old/FILE or new/FILE, byte for byte (JUnit: but for its times).
same_as_either() {
  local norm=cat
  [[ $1 == *.xml ]] && norm=junit_norm
  cmp -s <($norm "killed/$1" 2> /dev/null) <($norm "old/$1") || cmp -s <($norm "killed/$1" 2> /dev/null) <($norm "new/$1")
}

# check_run OUT SEEDS: one complete check, writing OUT.json, OUT.xml and repros into OUT-corpus.
check_args() {
  echo check clock-skew partition-heal --model lww-map-wallclock --model lww-map --model outbox-map-no-rebase \
    --seeds "$2" --jobs 1 --no-progress --shrink-time 0 --json "$1.json" --junit "$1.xml" --corpus "$1-corpus"
}
compare_args() {
  echo compare quiet clock-skew partition-heal --model lww-map-wallclock --model lww-map --model or-set-list \
    --seeds "$2" --jobs 1 --quiet --no-backoff-study --out "$1"
}

# Writing a few files takes a millisecond of a run of seconds, so kills spread over the run would
# seldom land inside a write. strace (when installed) holds every write(2) and writev(2) to an output file's own
# name for 300 ms before it runs: a writer that truncates its file first (open, then write) leaves it
# empty for that long, and the kills below find it so. A writer that writes a temporary file and
# renames it never writes the name itself. Without strace the test still runs, with less power.
slow=()
# slow_writes FOLDER FILE...: sets `slow` to hold the writes to these files under FOLDER.
slow_writes() {
  slow=()
  command -v strace > /dev/null || return 0
  local folder=$1
  shift
  slow=(strace -f -qq -o /dev/null -e trace=write,writev -e inject=write,writev:delay_enter=300000)
  local file
  for file in "$@"; do slow+=(-P "$folder/$file"); done
}

# run_killed DELAY_MS COMMAND...: starts the command in its own process group (under strace's slow
# writes), kills the group after DELAY_MS, and waits for it.
run_killed() {
  local delay=$1
  shift
  setsid "${slow[@]}" "$@" > /dev/null 2>&1 &
  local pid=$!
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  kill -KILL -- "-$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
}

ms_of() { date +%s%3N; }

# Each run happens in a folder of its own under the same relative names (the outputs name their
# paths): "old" is a complete earlier run, "new" the complete run the killed ones repeat from the old
# state, and every killed run starts from a copy of "old".

# ---- check: JUnit, JSON, repros ------------------------------------------------------------------
mkdir old && (cd old && "$bin" $(check_args out 12) > /dev/null || true)
cp -r old new && (cd new && "$bin" $(check_args out 24) > /dev/null || true)
[ -s old/out.json ] && [ -s new/out.json ] && ! cmp -s old/out.json new/out.json || fail "the reference check runs wrote no distinct JSON"
check_outputs=(out.json out.xml $(cd new/out-corpus && ls | sed 's|^|out-corpus/|'))
cp -r old timed
slow_writes "$work/timed" "${check_outputs[@]}"
start=$(ms_of)
(cd timed && "${slow[@]}" "$bin" $(check_args out 24) > /dev/null || true)
slow_writes "$work/killed" "${check_outputs[@]}"
check_ms=$(( $(ms_of) - start ))
for i in $(seq 1 "$kills"); do
  rm -rf killed
  cp -r old killed
  # Moments from 40% to 120% of a full run: the outputs are written at its end.
  delay=$(( check_ms * (40 + 80 * i / kills) / 100 ))
  (cd killed && run_killed "$delay" "$bin" $(check_args out 24))
  for file in out.json out.xml; do
    same_as_either "$file" || fail "check kill $i (${delay} ms of ${check_ms}): $file is neither version"
  done
  jq empty killed/out.json || fail "check kill $i: out.json does not parse"
  xmllint --noout --schema "$src/tests/sim/junit.xsd" killed/out.xml 2> /dev/null || fail "check kill $i: out.xml does not validate"
  for repro in killed/out-corpus/*.repro.toml; do
    name=$(basename "$repro")
    same_as_either "out-corpus/$name" || fail "check kill $i: $name is neither version"
  done
done
echo "check: $kills kills over a ${check_ms} ms run; every output whole"

# ---- compare: the report folder ---------------------------------------------------------------------
(cd old && "$bin" $(compare_args out-report 2) > /dev/null)
(cd new && "$bin" $(compare_args out-report 4) > /dev/null)
report_outputs=($(cd new && ls out-report/*))
slow_writes "$work/timed" "${report_outputs[@]}"
start=$(ms_of)
(cd timed && "${slow[@]}" "$bin" $(compare_args out-report 4) > /dev/null)
slow_writes "$work/killed" "${report_outputs[@]}"
compare_ms=$(( $(ms_of) - start ))
for i in $(seq 1 "$kills"); do
  rm -rf killed
  mkdir killed
  cp -r old/out-report killed/
  delay=$(( compare_ms * (40 + 80 * i / kills) / 100 ))
  (cd killed && run_killed "$delay" "$bin" $(compare_args out-report 4))
  for file in index.html report.md results.json results.csv; do
    same_as_either "out-report/$file" ||
      fail "compare kill $i (${delay} ms of ${compare_ms}): $file is neither version"
  done
  jq empty killed/out-report/results.json || fail "compare kill $i: results.json does not parse"
  for svg in killed/out-report/*.svg; do
    [ -e "$svg" ] || continue
    name=$(basename "$svg")
    same_as_either "out-report/$name" || fail "compare kill $i: $name is neither version"
  done
done
echo "compare: $kills kills over a ${compare_ms} ms run; every output whole"
