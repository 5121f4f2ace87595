// The bugs the exploration benchmark hunts: each shipped buggy baseline on a shipped scenario where
// it fails its own invariant. "deep": the random strategy found it in fewer than a third of seeds
// 1..30 of that scenario; "shallow": in a third or more (a survey of `syncstorm check --model M
// --seeds 30` over every scenario it fits, 2 December 2026; for each model the scenario where it
// failed least often, but at least once, so the strategies have something to find).
#pragma once

namespace syncstorm::bench {

struct BugCase { const char* model; const char* scenario; const char* depth; const char* story; };

inline constexpr BugCase kBugSuite[] = {
    {"counter-no-dedup", "wifi-drop", "deep", "a resent delta after a lost ack is added twice (5 of 30 seeds)"},
    {"lww-map-wallclock", "swarm", "deep", "a causally later write loses to a skewed clock (1 of 30)"},
    {"server-authoritative-silent", "article-refetch", "shallow", "a rejected write is rolled back without telling the user (23 of 30)"},
    {"replace-all", "article-refetch", "shallow", "a one-field push replaces the whole object (30 of 30)"},
    {"union-set-list", "offline-editing", "deep", "a replica that missed a remove brings the item back (3 of 30)"},
    {"tombstone-ttl-list", "offline-editing", "deep", "a client offline past the tombstone TTL resurrects items (1 of 30)"},
    {"outbox-map-memory", "article-tab-reload", "shallow", "a tab reload drops the unsent outbox (30 of 30)"},
    {"outbox-map-newest-first", "wifi-drop", "deep", "offline edits resent newest first are applied in reverse (1 of 30)"},
    {"outbox-map-rebuilding-server", "article-event-log", "shallow", "a restarted server rebuilds from the first client back (24 of 30)"},
    {"outbox-map-no-rebase", "wifi-drop", "shallow", "a server push hides the user's own pending edit (28 of 30)"},
    {"eventstore-map-unbounded", "article-versioned-events", "deep", "the event log outgrows the metadata bound (5 of 30)"},
    {"broker-map-at-most-once", "article-broker-fanout", "shallow", "pub/sub to a disconnected instance is lost (30 of 30)"},
    {"guarded-map-trusting", "article-malicious-client", "shallow", "forged writes of a hostile client reach every replica (30 of 30)"},
    {"undo-map-snapshot", "server-crash", "deep", "an undo restores a snapshot and wipes remote updates (6 of 30)"},
    {"p2p-lww-map-no-gossip", "partition-heal", "deep", "one-shot deltas lost in a partition leave replicas diverged (1 of 30)"},
    {"refetch-map-read-replicas", "article-refetch", "shallow", "a lagging read replica takes a view back in time (30 of 30)"},
    {"versioned-map-no-upcast", "article-versioned-events", "shallow", "old-schema clients neither save nor see writes (30 of 30)"},
    {"siblings-map", "article-malicious-client", "shallow", "siblings never discarded grow metadata with every write (22 of 30)"},
};

}  // namespace syncstorm::bench
