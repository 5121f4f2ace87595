// The bug-finding benchmark's targets: every in-process buggy baseline shipped in models/strategies/
// and every model of the bug suite (models/bugs/), each with a shipped scenario a user could have
// written without knowing the bug. The failing-seed rates measured for each are in
// models/bugs/README.md.
#pragma once
namespace syncstorm::bench {
/// depth: "shallow" (one coincidence), "deep" (two or three ordered coincidences)
struct BugCase { const char* model; const char* scenario; const char* depth; const char* story; };
inline constexpr BugCase kBugSuite[] = {
    // The shipped baselines.
    {"lww-map-wallclock", "clock-skew", "shallow", "LWW stamps from each node's own clock: under skew a causally later write loses"},
    {"counter-no-dedup", "flaky-mobile", "shallow", "the server counts every resent delta again: a lost acknowledgement double-counts"},
    {"server-authoritative-silent", "partition-heal", "shallow", "rejected optimistic writes are rolled back without telling the user"},
    {"replace-all", "quiet", "shallow", "the client reducer replaces its whole object with one pushed field"},
    {"union-set-list", "swarm", "shallow", "a set merged by union without tombstones: a replica that missed a remove brings the item back"},
    {"tombstone-ttl-list", "offline-editing", "shallow", "tombstones dropped after 10 s: a client offline longer resurrects removed items"},
    {"outbox-map-memory", "article-tab-reload", "shallow", "the outbox lives in memory: a tab reload silently drops unsent edits"},
    {"outbox-map-newest-first", "article-tab-reload", "shallow", "a reconnecting client resends its outbox newest first: its offline edits apply in reverse"},
    {"outbox-map-rebuilding-server", "article-event-log", "shallow", "the server rebuilds its state after a restart from the first client that reconnects"},
    {"outbox-map-no-rebase", "quiet", "shallow", "server pushes shown without the pending edits on top: a user's own edit flickers back"},
    {"eventstore-map-unbounded", "article-event-log", "shallow", "an event log without retention grows with every write"},
    {"broker-map-at-most-once", "article-broker-fanout", "shallow", "fan-out through at-most-once pub/sub: messages to a disconnected instance are lost"},
    {"guarded-map-trusting", "article-malicious-client", "shallow", "the server trusts its clients: forged writes reach every replica"},
    {"undo-map-snapshot", "article-undo-rollback", "shallow", "rollback restores the pre-write snapshot and wipes remote updates"},
    {"p2p-lww-map-no-gossip", "article-p2p-webrtc", "shallow", "one-shot deltas over lossy datagrams and no anti-entropy: replicas diverge"},
    {"refetch-map-read-replicas", "article-refetch", "shallow", "fetches load-balanced over a lagging read replica: views go back in time"},
    {"versioned-map-no-upcast", "article-versioned-events", "shallow", "the server speaks only the new event schema: old clients neither save nor see writes"},
    {"siblings-map", "quiet", "shallow", "multi-value registers never discard superseded siblings"},
    {"index-text", "quiet", "shallow", "text synced by index without transformation: concurrent edits land at other places"},
    {"event-log-list-fire-and-forget", "offline-editing", "deep", "removes sent once and forgotten on reconnect: a lost remove's item comes back"},
    // The bug suite.
    {"ack-before-fsync-map", "server-crash", "shallow", "group commit once a second, acknowledgement at once: a crash loses acknowledged writes"},
    {"reused-mutation-id-map", "article-tab-reload", "shallow", "mutation numbers restart at 1 after a reload: new writes are dropped as resends"},
    {"resend-skips-inflight-map", "wifi-drop", "shallow", "only never-sent writes are resent on reconnect: the write in flight when the connection died never arrives"},
    {"restored-not-resent-map", "article-tab-reload", "shallow", "a reloaded tab shows its restored pending edits but never sends them"},
    {"global-watermark-map", "offline-editing", "shallow", "pending writes older than the server's global version are taken as applied and dropped"},
    {"newest-id-wins-map", "offline-editing", "shallow", "clients ignore pushed updates with an older id, the server orders by arrival: late offline writes diverge"},
    {"ring-dedup-counter", "flaky-mobile", "shallow", "the dedup set capped to the last 8 ids: a resend after 8 others is counted again"},
    {"count-acked-counter", "flaky-mobile", "shallow", "acknowledged by count: a resend before the count arrives is counted twice, and later deltas are dropped unsent"},
    {"volatile-dedup-counter", "server-crash", "shallow", "the dedup table in memory: resends after a crash are counted twice"},
    {"volatile-marks-map", "server-crash", "deep", "dedup marks in memory: ack lost in a crash, then a newer write, then the resend applies over it"},
    {"mark-before-apply-map", "server-crash", "deep", "the dedup mark is flushed before a queued worker applies the write: a crash in the 5-ms gap loses it"},
    {"snapshot-replay-counter", "server-crash", "deep", "log replay from the snapshot's sequence inclusive: a crash between a snapshot and the next delta double-counts"},
    {"dedup-ttl-counter", "wifi-drop", "deep", "dedup keys expire after 5 s: an ack lost as a stall begins, and the stall outlasts the window"},
};
}
