#!/bin/sh
# The figures of README.md's table "The article's systems and pitfalls, as scenarios": one
# `syncstorm compare` per row, each writing its report to OUT/rowN/ (report.md, results.json).
# Usage: reports/article_figures.sh [OUT] (default article-figures/); SYNCSTORM names the binary
# (default build/syncstorm) and JOBS the threads (default 2). Seeds 1..20 everywhere.
# Takes about ten minutes on two cores; rows 1 and 2 (200-client storms, a 2,000-field state) are most of it.
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-article-figures}
BIN=${SYNCSTORM:-build/syncstorm}
J=${JOBS:-2}
c() { row=$1; shift; echo "row $row: syncstorm compare $*" >&2; "$BIN" compare "$@" --seeds 20 --jobs "$J" --quiet --no-diagrams --out "$OUT/row$row" >/dev/null; }

c 1 scenarios/article/article-reconnect-storm.toml scenarios/article/article-reconnect-storm-herd.toml -m outbox-map --storm-seeds 20
c 2 scenarios/article/article-diff-sync.toml -m eventstore-map -m eventstore-map-full-resync -m event-log-list -m event-log-list-full-resync --no-backoff-study
c 3 scenarios/article-tab-reload.toml -m outbox-map -m outbox-map-memory --no-backoff-study
c 4 scenarios/article-event-log.toml -m eventstore-map -m eventstore-map-unbounded --no-backoff-study
c 5 scenarios/article-broker-fanout.toml -m broker-map -m broker-map-at-most-once --no-backoff-study
c 6 scenarios/article-p2p-webrtc.toml -m p2p-lww-map -m p2p-lww-map-no-gossip --no-backoff-study
c 7 scenarios/article-undo-rollback.toml -m undo-map -m undo-map-snapshot --no-backoff-study
c 8 scenarios/article-malicious-client.toml scenarios/article/article-malicious-fault.toml -m guarded-map -m guarded-map-trusting \
  -m echo -m lww-map -m server-authoritative -m pn-counter -m outbox-map -m eventstore-map -m undo-map -m versioned-map \
  -m refetch-map -m hybrid-dashboard -m broker-map --no-backoff-study
c 9 scenarios/article-refetch.toml -m refetch-map -m outbox-map --no-backoff-study
c 10 scenarios/article-hybrid-dashboard.toml -m hybrid-dashboard -m outbox-map --no-backoff-study
c 11 scenarios/article-versioned-events.toml -m versioned-map -m versioned-map-no-upcast --no-backoff-study
echo "reports in $OUT/row1 .. $OUT/row11 (report.md, results.json)" >&2
