'use strict';
// A small correct adapter with no npm dependencies, used by tests/models/external_test.cpp, and the
// base of the deliberately broken adapters beside it (each breaks exactly one rule of PROTOCOL.md).
//
// The model: a peer-to-peer last-writer-wins map. A client applies its user's write at once and
// broadcasts it to every other client over (lossy, reordering) datagram links, numbered per origin.
// A receiver applies each origin's writes in number order, buffering a write that arrives before
// its predecessors; the winner of a field is the write with the larger (lamport, origin). Servers
// hold nothing. A heartbeat timer every second is virtual time only.

const protocol = require('../../../models/adapters/lib/protocol');

const HEARTBEAT_US = 1000000;

/** Options turn one behaviour into a bug: { dropOutOfOrder, realClockHeartbeat, hangOnOp, ... };
 *  { protocol2 } makes it a version-2 adapter (one process for many runs, reset between them). */
function run(bugs = {}) {
  let opsSeen = 0;
  let resets = 0;  // runs this process served before the current one (version 2)

  class Client {
    constructor(event) {
      this.node = event.node;
      this.peers = event.clients.filter((id) => id !== event.node);
      this.fields = new Map();   // key -> { op, lamport, origin }
      this.lamport = 0;
      this.sent = 0;
      this.expected = new Map(); // origin -> next sequence number to apply
      this.buffered = new Map(); // origin -> Map(seq -> write)
    }

    start(event, out) { out.timer(this.heartbeatDelay(), 1); }

    heartbeatDelay() {
      // The bug: state kept outside the replicas that a reset does not clear.
      if (bugs.leakAcrossRuns) return HEARTBEAT_US + resets;
      if (!bugs.realClockHeartbeat) return HEARTBEAT_US;
      // The bug: aligning the heartbeat to whole seconds of a REAL clock. process.hrtime is the one
      // clock the protocol library cannot virtualise.
      const realUs = Number(process.hrtime.bigint() / 1000n);
      return HEARTBEAT_US - (realUs % HEARTBEAT_US);
    }

    timer(event, out) { out.timer(this.heartbeatDelay(), 1); }

    op(event, out) {
      opsSeen++;
      if (bugs.hangOnOp && opsSeen >= bugs.hangOnOp) for (;;) { /* an infinite loop in the library */ }
      if (bugs.crashOnOp && opsSeen >= bugs.crashOnOp) {
        // An exception thrown outside the handler kills Node.js, as a crash of a native library would.
        process.nextTick(() => { throw new TypeError('simulated library crash: cannot read properties of undefined'); });
      }
      if (bugs.throwOnOp && opsSeen >= bugs.throwOnOp) throw new RangeError('simulated library exception: offset out of bounds');
      if (bugs.garbageOnOp && opsSeen >= bugs.garbageOnOp) console.log('debug: applying op', event.op.id);
      const op = event.op;
      this.lamport++;
      const write = { origin: this.node, seq: this.sent++, lamport: this.lamport, key: op.key, op: op.id };
      this.merge(write);
      out.report(op.id, 'applied');
      const bytes = Buffer.from(JSON.stringify(write), 'utf8');
      for (const peer of this.peers) out.send(peer, bytes);
    }

    message(event, out) {
      const write = JSON.parse(Buffer.from(event.data, 'base64').toString('utf8'));
      const next = this.expected.get(write.origin) || 0;
      if (write.seq < next) return;  // a duplicate
      if (write.seq > next) {
        if (bugs.dropOutOfOrder) return;  // the bug: it cannot apply this yet, so it forgets it
        if (!this.buffered.has(write.origin)) this.buffered.set(write.origin, new Map());
        this.buffered.get(write.origin).set(write.seq, write);
        return;
      }
      this.applyRemote(write, out);
      const later = this.buffered.get(write.origin);
      while (later && later.has(this.expected.get(write.origin))) {
        const seq = this.expected.get(write.origin);
        const w = later.get(seq);
        later.delete(seq);
        this.applyRemote(w, out);
      }
    }

    applyRemote(write, out) {
      this.expected.set(write.origin, write.seq + 1);
      this.lamport = Math.max(this.lamport, write.lamport);
      if (this.merge(write)) out.report(write.op, 'seen');
    }

    /** Applies a write if it wins its field; says whether it did. */
    merge(write) {
      const current = this.fields.get(write.key);
      const wins = !current || write.lamport > current.lamport ||
        (write.lamport === current.lamport && write.origin > current.origin);
      if (wins) this.fields.set(write.key, write);
      return wins;
    }

    state() {
      const fields = {};
      for (const key of [...this.fields.keys()].sort((a, b) => a - b)) fields[key] = this.fields.get(key).op;
      let buffered = 0;
      for (const m of this.buffered.values()) buffered += m.size;
      return { state: { type: 'map', fields }, metadata_bytes: 16 * (this.expected.size + buffered) };
    }
  }

  class Server {
    state() { return { state: null }; }
  }

  protocol.serve(
    {
      name: 'fixture',
      description: 'test fixture: peer-to-peer last-writer-wins map over datagrams',
      data_type: 'map',
      topology: 'peer_to_peer',
      rule: 'last_writer_wins',
      // The one bug that is a broken invariant; the others make the adapter itself misbehave.
      breaks: bugs.dropOutOfOrder ? 'convergence' : undefined,
      protocol: bugs.protocol2 ? 2 : undefined,
    },
    (event) => (event.role === 'server' ? new Server() : new Client(event)),
    {
      reset() {
        resets++;
        opsSeen = 0;
      },
    },
  );
}

module.exports = { run };
if (require.main === module) run();
