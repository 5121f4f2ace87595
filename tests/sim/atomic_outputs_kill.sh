#!/usr/bin/env bash
# Kills `syncstorm check` (JUnit, JSON, repro files) and `syncstorm compare` (the report folder) with
# SIGKILL at a fixed schedule of moments spread over their run, writing over the outputs of an earlier
# run, and then requires every output file to be absent, the earlier complete version, or the new
# complete version: never cut short, never mixed. The JUnit must parse and validate (xmllint), the
# JSON must parse (jq). Usage: atomic_outputs_kill.sh SYNCSTORM_BINARY SOURCE_DIR [KILLS]
set -euo pipefail
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
# seldom land inside a write. strace (when installed) holds every write(2) for 10 ms before it runs:
# the writes then fill much of the run, and a writer that truncates its file first (open, then
# write) is caught with it empty. Without strace the test still runs, with less power.
slow=()
if command -v strace > /dev/null; then slow=(strace -f -qq -o /dev/null -e trace=write -e inject=write:delay_enter=10000); fi

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

# ---- check: JUnit, JSON, repros ------------------------------------------------------------------
"$bin" $(check_args old 12) > /dev/null || true
"$bin" $(check_args new 24) > /dev/null || true
[ -s old.json ] && [ -s new.json ] && ! cmp -s old.json new.json || fail "the reference check runs wrote no distinct JSON"
start=$(ms_of)
"${slow[@]}" "$bin" $(check_args timed 24) > /dev/null || true
check_ms=$(( $(ms_of) - start ))
for i in $(seq 1 "$kills"); do
  rm -rf out.json out.xml out-corpus
  cp old.json out.json
  cp old.xml out.xml
  cp -r old-corpus out-corpus
  # Moments from 40% to 120% of a full run: the outputs are written at its end.
  delay=$(( check_ms * (40 + 80 * i / kills) / 100 ))
  run_killed "$delay" "$bin" $(check_args out 24)
  if ! cmp -s out.json old.json && ! cmp -s out.json new.json; then fail "check kill $i (${delay} ms): out.json is neither version"; fi
  jq empty out.json || fail "check kill $i: out.json does not parse"
  xmllint --noout --schema "$src/tests/sim/junit.xsd" out.xml 2> /dev/null || fail "check kill $i: out.xml does not validate"
  if ! cmp -s <(junit_norm out.xml) <(junit_norm old.xml) && ! cmp -s <(junit_norm out.xml) <(junit_norm new.xml); then
    fail "check kill $i: out.xml is neither version"
  fi
  for repro in out-corpus/*.repro.toml; do
    name=$(basename "$repro")
    cmp -s "$repro" "old-corpus/$name" || cmp -s "$repro" "new-corpus/$name" || fail "check kill $i: $name is neither version"
  done
done
echo "check: $kills kills over a ${check_ms} ms run; every output whole"

# ---- compare: the report folder ---------------------------------------------------------------------
"$bin" $(compare_args old-report 2) > /dev/null
"$bin" $(compare_args new-report 4) > /dev/null
start=$(ms_of)
"${slow[@]}" "$bin" $(compare_args timed-report 4) > /dev/null
compare_ms=$(( $(ms_of) - start ))
for i in $(seq 1 "$kills"); do
  rm -rf out-report
  cp -r old-report out-report
  delay=$(( compare_ms * (40 + 80 * i / kills) / 100 ))
  run_killed "$delay" "$bin" $(compare_args out-report 4)
  for file in index.html report.md results.json results.csv; do
    cmp -s "out-report/$file" "old-report/$file" || cmp -s "out-report/$file" "new-report/$file" ||
      fail "compare kill $i (${delay} ms): $file is neither version"
  done
  jq empty out-report/results.json || fail "compare kill $i: results.json does not parse"
  for svg in out-report/*.svg; do
    [ -e "$svg" ] || continue
    name=$(basename "$svg")
    cmp -s "$svg" "old-report/$name" || cmp -s "$svg" "new-report/$name" || fail "compare kill $i: $name is neither version"
  done
done
echo "compare: $kills kills over a ${compare_ms} ms run; every output whole"
