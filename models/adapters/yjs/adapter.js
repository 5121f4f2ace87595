'use strict';
// syncstorm adapter for Yjs: `node adapter.js list` (yjs-list) or `node adapter.js text` (yjs-text).
//
// Clients hold a Y.Doc and apply user operations locally. A relay server holds a Y.Doc too: it
// merges every update it receives, stores it durably, acknowledges it with its state vector, and
// rebroadcasts it to the other connected clients. On (re)connect the client and the server swap
// state vectors and each sends the other what it lacks, as y-websocket's sync protocol does.
//
// Updates travel in causal order: every update a replica receives finds the items it depends on
// already there. Yjs does not need this for the final state, but it shows a wrong state while it
// waits: it applies an update's delete set at once and parks the update's new items until the
// update they follow arrives, so an overwrite of a map key (a new item plus the deletion of the old
// one) makes the key vanish in between, although nobody removed it (yjs#461). Two rules keep the
// order, and so keep the views of users monotonic:
// - the server relays updates to a client only after it has answered the client's state vector
//   with everything the client lacks (the same stream then carries the relayed updates after it);
// - a client sends its own updates only after it has answered the server's state vector, because
//   edits made while it was away reach the server in that answer, and a newer edit sent before
//   them would depend on them.
// y-websocket (../y-websocket/) keeps neither rule, and its users meet the vanishing key.
//
// Several servers (`multi_server`, as behind a load balancer): each server is a replica of the whole
// document, and servers sync with one another. A server sends a peer what that peer lacks beyond the
// snapshot (state vector and delete set) the peer last reported, never from a guess: the peer holds at
// least that much, so every update it receives finds its past there. A Yjs delete adds no item and so
// does not move the state vector; the delete set in the snapshot is what shows a peer lacks one. Every
// PEER_SYNC_US each server reports its snapshot to every peer, which repairs what a crash or a
// partition between them lost.
//
// Message bytes: one tag byte, then a Yjs encoding.
//   0 = a state vector (sync step 1: "this is what I have")
//   1 = an update (sync step 2, or an incremental change)
//   2 = an acknowledgement: the server's state vector after it stored an update
//   3 = server to server, as it starts: my snapshot; send me what I lack, and yours
//   4 = server to server: my snapshot (after an import that changed something, and every PEER_SYNC_US)

const protocol = require('../lib/protocol');  // first: it virtualises the clock and randomness
const Y = requireInstalled('yjs');

function requireInstalled(name) {
  try {
    return require(name);
  } catch (error) {
    process.stderr.write(`${error.message}\nthe adapter's packages are not installed: run npm ci --prefix models/adapters/yjs\n`);
    process.exit(3);
  }
}

const variant = process.argv[2] || 'list';
// `--relay-before-sync` gives up the causal order (below) as y-websocket does: the server relays to
// a client from the moment it connects, and a client sends its edits at once. A buggy baseline,
// reached as `external:node models/adapters/yjs/adapter.js list --relay-before-sync`: its tests
// show the vanishing key the causal order prevents (list only: the checkers sample views of lists).
const relayBeforeSync = process.argv[3] === '--relay-before-sync';
const usable = (variant === 'list' || variant === 'text') && process.argv.length <= 4 &&
  (process.argv.length <= 3 || (relayBeforeSync && variant === 'list'));
if (!usable) {
  process.stderr.write(`usage: node adapter.js list [--relay-before-sync] | text (got ${process.argv.slice(2).join(' ')})\n`);
  process.exit(2);
}
const yjsData = require('./document').documentOf(variant);

const TAG_SV = 0;
const TAG_UPDATE = 1;
const TAG_ACK = 2;
const TAG_PEER_HELLO = 3;
const TAG_PEER_SNAPSHOT = 4;
const PEER_SYNC_US = 1000000;
const PEER_SYNC_TIMER = 1;
// State vectors (TAG_SV, TAG_ACK) say which updates a replica holds, never what they hold: they are
// sent as control messages, along which the checkers' happens-before does not flow (PROTOCOL.md).
// So are snapshots between servers.
const CONTROL = { control: true };
const COMPACT_AFTER = 64;  // stored updates merged into one snapshot beyond this many

function frame(tag, bytes) {
  const out = new Uint8Array(bytes.length + 1);
  out[0] = tag;
  out.set(bytes, 1);
  return out;
}

/** What both roles share: a Y.Doc restored from the store, and its durable update log. */
class Replica {
  constructor(event, rng) {
    this.node = event.node;
    this.doc = new Y.Doc({ guid: 'syncstorm', gc: true });
    this.doc.clientID = rng.u32();  // a fresh id per incarnation, from the seed: never reused
    this.out = null;                // the Actions of the event being handled
    const store = protocol.storeOf(event);
    this.storeKeys = [...store.keys()].filter((key) => key.startsWith('u/')).sort();
    for (const key of this.storeKeys) Y.applyUpdate(this.doc, store.get(key), 'store');
    // The next log index follows the highest stored one: compaction leaves gaps below it.
    this.stored = this.storeKeys.length === 0 ? 0 : Number(this.storeKeys[this.storeKeys.length - 1].slice(2)) + 1;
    // The last state answered and the document's size, kept until the document changes: many
    // events (acknowledgements, state vectors) change nothing, and encoding the whole document for
    // its size is not cheap (it is measured only when syncstorm asks for it).
    this.shown = null;
    this.size = null;
    this.doc.on('update', () => { this.shown = null; this.size = null; });
  }

  /** Appends an update to the durable log, compacting the log into one snapshot now and then. */
  persist(update) {
    if (this.storeKeys.length >= COMPACT_AFTER) {
      for (const key of this.storeKeys) this.out.erase(key);
      this.storeKeys = [];
      update = Y.encodeStateAsUpdate(this.doc);
    }
    const key = `u/${String(this.stored++).padStart(10, '0')}`;
    this.storeKeys.push(key);
    this.out.put(key, update);
    this.out.flush();
  }

  state(event) {
    if (this.shown === null) this.shown = yjsData.canonical(this.doc);
    if (event.metadata === false) return { state: this.shown };
    if (this.size === null) this.size = Y.encodeStateAsUpdate(this.doc).length;
    return { state: this.shown, metadata_bytes: this.size };
  }
}

class Client extends Replica {
  constructor(event, rng) {
    super(event, rng);
    this.server = null;
    this.synced = false;  // whether this connection has answered the server's state vector
    this.pending = [];  // { op, clock }: applied here, not yet acknowledged by the server
    this.ownOps = new Set();
    this.seen = null;   // while a remote update is applied: the op ids it makes visible
    // What a remote update shows is read from the change events, not from two materialised states:
    // an op id only ever sits at the key or position its operation wrote, so the ids an update
    // inserts (text) or sets (list) are exactly those visible now and not before.
    if (variant === 'text') {
      this.doc.getArray('text').observe((event) => {
        if (this.seen === null) return;
        for (const delta of event.changes.delta) if (delta.insert) this.seen.push(...delta.insert);
      });
    } else {
      const items = this.doc.getMap('items');
      items.observe((event) => {
        if (this.seen === null) return;
        for (const [key, change] of event.changes.keys) {
          const id = items.get(key);
          if (change.action !== 'delete' && id !== change.oldValue) this.seen.push(id);
        }
      });
    }
    this.doc.on('update', (update, origin) => {
      this.persist(update);
      // Before the answer to the server's state vector, a local edit waits: the answer carries it.
      if (origin === 'local' && this.server !== null && (this.synced || relayBeforeSync)) this.out.send(this.server, frame(TAG_UPDATE, update));
    });
  }

  op(event, out) {
    this.out = out;
    const op = event.op;
    const result = yjsData.apply(this.doc, op, 'local');
    if (result === null) { out.report(op.id, 'rejected'); return; }
    this.ownOps.add(op.id);
    out.report(op.id, 'applied', result);
    this.pending.push({ op: op.id, clock: Y.getState(this.doc.store, this.doc.clientID) });
  }

  message(event, out) {
    this.out = out;
    const bytes = Buffer.from(event.data, 'base64');
    const body = bytes.subarray(1);
    if (bytes[0] === TAG_SV) {
      out.send(event.from, frame(TAG_UPDATE, Y.encodeStateAsUpdate(this.doc, body)));
      this.synced = event.from === this.server;
    } else if (bytes[0] === TAG_UPDATE) {
      this.seen = [];
      Y.applyUpdate(this.doc, body, 'remote');
      for (const id of this.seen) if (!this.ownOps.has(id)) out.report(id, 'seen');
      this.seen = null;
    } else if (bytes[0] === TAG_ACK) {
      const saved = Y.decodeStateVector(body).get(this.doc.clientID) || 0;
      this.pending = this.pending.filter((p) => {
        if (p.clock > saved) return true;
        out.report(p.op, 'acknowledged');
        return false;
      });
    }
  }

  connected(event, out) {
    this.out = out;
    this.server = event.peer;
    out.send(event.peer, frame(TAG_SV, Y.encodeStateVector(this.doc)), CONTROL);
  }

  disconnected(event) {
    if (this.server !== event.peer) return;
    this.server = null;
    this.synced = false;
  }
}

class Server extends Replica {
  constructor(event, rng) {
    super(event, rng);
    this.clients = new Set();
    this.otherServers = (event.servers || []).filter((node) => node !== event.node);
    this.peers = new Map();  // other server -> the snapshot it last reported (absent: none yet)
    this.integrated = null;  // while an update from a peer is applied: what it added here
    this.doc.on('update', (update) => {
      this.persist(update);
      if (this.integrated !== null) this.integrated.push(update);
    });
  }

  /** A server that has peers asks them for what it lacks as it starts, and reports itself on a timer. */
  start(event, out) {
    if (this.otherServers.length === 0) return;
    this.out = out;
    this.reportToPeers(TAG_PEER_HELLO);
  }

  timer(event, out) {
    if (event.tag !== PEER_SYNC_TIMER) return;
    this.out = out;
    this.reportToPeers(TAG_PEER_SNAPSHOT);
  }

  snapshotFrame(tag) { return frame(tag, Y.encodeSnapshot(Y.snapshot(this.doc))); }

  /** Sends this server's snapshot to every peer (TAG_PEER_HELLO also asks for theirs), and sets
   *  the next report. */
  reportToPeers(tag) {
    const snapshot = this.snapshotFrame(tag);
    for (const peer of this.otherServers) this.out.send(peer, snapshot, CONTROL);
    this.out.timer(PEER_SYNC_US, PEER_SYNC_TIMER);
  }

  /** Sends `peer` what this server holds beyond the snapshot it last reported, if anything. */
  catchUp(peer) {
    const theirs = this.peers.get(peer);
    if (theirs === undefined) return;
    const lacking = Y.encodeStateAsUpdate(this.doc, Y.encodeStateVector(theirs.sv));
    if (!Y.snapshotContainsUpdate(theirs, lacking)) this.out.send(peer, frame(TAG_UPDATE, lacking));
  }

  /** A message from another server: its snapshot (answered with what it lacks), or an update. */
  peerMessage(event, tag, body) {
    if (tag === TAG_PEER_HELLO || tag === TAG_PEER_SNAPSHOT) {
      this.peers.set(event.from, Y.decodeSnapshot(body));
      this.catchUp(event.from);
      // A peer that just started wants this server's snapshot too, to send what this one lacks.
      if (tag === TAG_PEER_HELLO) this.out.send(event.from, this.snapshotFrame(TAG_PEER_SNAPSHOT), CONTROL);
    } else if (tag === TAG_UPDATE) {
      this.integrated = [];
      Y.applyUpdate(this.doc, body, event.from);  // stored and flushed by the update handler
      const added = this.integrated;
      this.integrated = null;
      // An update that changed nothing is not answered: two servers whose views of each other's
      // snapshot differ only in encoding would otherwise send each other updates for ever.
      if (added.length === 0) return;
      this.out.send(event.from, this.snapshotFrame(TAG_PEER_SNAPSHOT), CONTROL);
      for (const update of added) this.relay(update, event.from);
    }
  }

  /** Sends an update to every caught-up client but `from`, and every peer but `from` what it lacks. */
  relay(update, from) {
    for (const client of this.clients) {
      if (client !== from) this.out.send(client, frame(TAG_UPDATE, update));
    }
    for (const peer of this.otherServers) if (peer !== from) this.catchUp(peer);
  }

  message(event, out) {
    this.out = out;
    const bytes = Buffer.from(event.data, 'base64');
    const body = bytes.subarray(1);
    if (this.otherServers.includes(event.from)) {
      this.peerMessage(event, bytes[0], body);
    } else if (bytes[0] === TAG_SV) {
      out.send(event.from, frame(TAG_UPDATE, Y.encodeStateAsUpdate(this.doc, body)));
      out.send(event.from, frame(TAG_SV, Y.encodeStateVector(this.doc)), CONTROL);
      // From now on the client holds everything this server held, so relayed updates follow it.
      this.clients.add(event.from);
    } else if (bytes[0] === TAG_UPDATE) {
      Y.applyUpdate(this.doc, body, event.from);  // stored and flushed by the update handler
      out.send(event.from, frame(TAG_ACK, Y.encodeStateVector(this.doc)), CONTROL);
      this.relay(body, event.from);
    }
  }

  // A new connection joins the relay when its state vector has been answered (see message).
  connected(event) {
    if (relayBeforeSync) this.clients.add(event.peer);
    else this.clients.delete(event.peer);
  }
  disconnected(event) { this.clients.delete(event.peer); }
}

protocol.serve(
  {
    name: `yjs-${variant}${relayBeforeSync ? '-relay-before-sync' : ''}`,
    description: `Yjs: ${variant === 'text' ? 'text as a Y.Array of elements' : 'list items in a Y.Map'}, relayed by a server` +
      (relayBeforeSync ? ' that relays updates before a client has synced' : ''),
    data_type: variant,
    topology: 'client_server',
    rule: 'add_wins',
    ...(relayBeforeSync ? { breaks: 'monotonic-reads', correct: false } : {}),
    protocol: 2,  // nothing lives outside the replicas: a reset leaves the process as new
    // Servers sync with one another (Server, above). Not when relaying before sync: that variant
    // is a single-server baseline of the monotonic-reads break.
    multi_server: !relayBeforeSync,
    // The causal order above keeps both orders across keys: Yjs integrates one user's items in the
    // order they were made, and an update reaches a replica only after every update its writer had
    // (server to server too: a peer gets all it lacks beyond its snapshot at once).
    ...(relayBeforeSync ? {} : { writes_follow_reads: 'promised', writes_in_order: 'promised' }),
  },
  (event, rng) => (event.role === 'server' ? new Server(event, rng) : new Client(event, rng)),
);
