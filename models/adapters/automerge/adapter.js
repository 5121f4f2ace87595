'use strict';
// syncstorm adapter for Automerge: `node adapter.js map` (automerge-map) or `node adapter.js list`
// (automerge-list: list items as a map from item id to value, so an item id is never duplicated).
//
// Clients and a relay server each hold an Automerge document. When a client connects, the two run
// Automerge's own sync protocol (generateSyncMessage / receiveSyncMessage), each side answering the
// other's sync messages until neither has anything to say: that repairs whatever either side missed
// while they were apart (offline edits, messages lost with a reset connection, a server that crashed
// and lost unflushed writes). While the connection lives, changes travel raw instead (as
// getChanges / applyChanges exchange them): a client sends each local change to the server; the
// server applies it, stores it durably, and sends every change that was new to it to every connected
// client. That message doubles as the acknowledgement: it carries the hashes of the changes the
// server has stored (and a sync session acknowledges whatever the server's heads include, in case
// an acknowledgement was lost with a connection). A raw change whose dependencies have not arrived
// yet (the sync protocol may still be delivering them on the same connection) waits in Automerge's
// queue until they do.
//
// Why raw changes are enough on a live connection: a stream connection delivers in order and loses
// nothing until it resets, and a reset starts a new sync session. The server forwards every change it
// applies to every client connected at that moment, in the order it applied them, so a client holds
// (or has queued, with its dependencies on their way) everything the server had when the session
// began (by the sync protocol) and everything it learnt since (forwarded).
//
// The fields (map) or items (list) are the keys of the document's root map itself. Under a nested
// map (`doc.fields`), two clients whose first writes were concurrent each created their own nested
// map, one of the two won, and the other's writes vanished, acknowledged ones included.
//
// Automerge writes Date.now() into every change: the protocol library replaces Date.now with the
// replica's virtual clock, which is what makes two runs of one seed byte-identical.
//
// Message bytes: one tag byte, then
//   0 = an Automerge sync message
//   1 = changes: u32 count of hashes, the hashes (32 bytes each), then the changes (u32 length, bytes).
//       From a client: its new local changes and their hashes. From the server: the changes that were
//       new to it, less those the recipient sent in the message that brought them, and the hashes of
//       all of them (stored: an acknowledgement for their authors).

const protocol = require('../lib/protocol');  // first: it virtualises the clock and randomness
const A = requireInstalled('@automerge/automerge');

function requireInstalled(name) {
  try {
    return require(name);
  } catch (error) {
    process.stderr.write(`${error.message}\nthe adapter's packages are not installed: run npm ci --prefix models/adapters/automerge\n`);
    process.exit(3);
  }
}

const variant = process.argv[2] || 'map';
if (variant !== 'map' && variant !== 'list') {
  process.stderr.write(`usage: node adapter.js map|list (got ${variant})\n`);
  process.exit(2);
}

const TAG_SYNC = 0;
const TAG_CHANGES = 1;
const COMPACT_AFTER = 64;  // stored chunks merged into one snapshot beyond this many
const HASH_BYTES = 32;
// A sync message without changes (heads, a bloom filter of what its sender has, what it needs) and an
// acknowledgement naming only the receiver's own changes carry no write: they are sent as control
// messages, along which the checkers' happens-before does not flow (PROTOCOL.md, "Control messages
// and happens-before").
const CONTROL = { control: true };

/** The hashes whose presence in a document means it holds all of `chunk`: a change's own hash, or
 *  for a whole document (what a first sync message carries) its heads; null for a chunk neither
 *  reads. */
function chunkHeads(chunk) {
  try {
    return [A.decodeChange(chunk).hash];
  } catch {
    try {
      return A.getHeads(A.load(chunk));
    } catch {
      return null;
    }
  }
}

/** Whether an Automerge sync message carries changes (writes), not only what its sender holds. */
function carriesChanges(message) {
  return A.decodeSyncMessage(message).changes.length > 0;
}

function frame(tag, bytes) {
  const out = new Uint8Array(bytes.length + 1);
  out[0] = tag;
  out.set(bytes, 1);
  return out;
}

/** A TAG_CHANGES message: `hashes` (hex strings) and `changes` (byte arrays). */
function encodeChanges(hashes, changes) {
  let size = 5 + hashes.length * HASH_BYTES;
  for (const change of changes) size += 4 + change.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = TAG_CHANGES;
  out.writeUInt32BE(hashes.length, 1);
  let at = 5;
  for (const hash of hashes) at += out.write(hash, at, HASH_BYTES, 'hex');
  for (const change of changes) {
    out.writeUInt32BE(change.length, at);
    out.set(change, at + 4);
    at += 4 + change.length;
  }
  return out;
}

/** The inverse of encodeChanges, from the bytes after the tag. */
function decodeChanges(body) {
  const count = body.readUInt32BE(0);
  const hashes = [];
  let at = 4;
  for (let i = 0; i < count; i++, at += HASH_BYTES) hashes.push(body.toString('hex', at, at + HASH_BYTES));
  const changes = [];
  while (at < body.length) {
    const length = body.readUInt32BE(at);
    changes.push(body.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return { hashes, changes };
}

function hexActor(rng) {
  let hex = '';
  for (let i = 0; i < 4; i++) hex += rng.u32().toString(16).padStart(8, '0');
  return hex;
}

/** The canonical state of a document. */
function canonical(doc) {
  const entries = Object.entries(doc).map(([key, value]) => [Number(key), value]);
  entries.sort((x, y) => x[0] - y[0]);
  if (variant === 'map') return { type: 'map', fields: Object.fromEntries(entries) };
  return { type: 'list', items: entries };
}

/** Reports `seen` for every op id `after` shows that `before` did not (and this user did not write).
 *  An op id only ever sits under the key its operation wrote, so comparing key by key is a set
 *  difference of the shown ids, without materialising either state. */
function reportSeen(out, before, after, own) {
  if (after === before) return;
  for (const key of Object.keys(after)) {
    const id = after[key];
    if (before[key] !== id && !own.has(id)) out.report(id, 'seen');
  }
}

/** What both roles share: a document restored from the store, its durable log, and its peers. */
class Replica {
  constructor(event, rng) {
    this.doc = A.init({ actor: hexActor(rng) });  // a fresh actor per incarnation, from the seed
    this.out = null;
    this.held = [];     // { tag, waiting: hashes of the message's changes not yet in the document, or
                        //   null: until nothing is queued }
    this.nextTag = 1;
    this.peers = new Map();  // connected node id -> sync state
    const store = protocol.storeOf(event);
    this.storeKeys = [...store.keys()].filter((key) => key.startsWith('c/')).sort();
    for (const key of this.storeKeys) this.doc = A.loadIncremental(this.doc, store.get(key));
    this.stored = this.storeKeys.length === 0 ? 0 : Number(this.storeKeys[this.storeKeys.length - 1].slice(2)) + 1;
    // The metadata figure is the size of the durable log: counted as it is written, because saving
    // the whole document on every state request cost more than the rest of the adapter together.
    this.storedBytes = this.storeKeys.reduce((sum, key) => sum + store.get(key).length, 0);
    A.saveIncremental(this.doc);  // what was loaded is already stored
    this.shown = null;            // the last state answered, and the document it was computed from
    this.shownDoc = null;
  }

  /** Appends the changes since the last save to the durable log, compacting it now and then. */
  persist() {
    let chunk = A.saveIncremental(this.doc);
    if (chunk.length === 0) return;
    if (this.storeKeys.length >= COMPACT_AFTER) {
      for (const key of this.storeKeys) this.out.erase(key);
      this.storeKeys = [];
      this.storedBytes = 0;
      chunk = A.save(this.doc);
    }
    this.storedBytes += chunk.length;
    const key = `c/${String(this.stored++).padStart(10, '0')}`;
    this.storeKeys.push(key);
    this.out.put(key, chunk);
    this.out.flush();
  }

  /** Sends `peer` the sync protocol's next message, if it has one. */
  syncWith(peer) {
    const syncState = this.peers.get(peer);
    if (!syncState) return;
    const [next, message] = A.generateSyncMessage(this.doc, syncState);
    this.peers.set(peer, next);
    if (message) this.out.send(peer, frame(TAG_SYNC, message), carriesChanges(message) ? undefined : CONTROL);
  }

  /** Applies a sync message from `from`. */
  receiveSync(from, message) {
    const [doc, syncState] = A.receiveSyncMessage(this.doc, this.peers.get(from) || A.initSyncState(), message);
    this.doc = doc;
    if (this.peers.has(from)) this.peers.set(from, syncState);
  }

  disconnected(event) { this.peers.delete(event.peer); }

  /**
   * After a message: Automerge queues a change whose dependencies have not arrived (its user does
   * not see it), and the relay forwards changes before a peer has synced, so that happens. Such a
   * message is held (PROTOCOL.md, "Held messages") until its changes are in the document: the hash
   * of each raw change (`raw`, byte arrays) or of each change chunk of a sync message (`sync`; a
   * whole document chunk counts by its heads). Held messages whose changes are in are released
   * first. Nothing is decoded while nothing is queued.
   */
  holdQueued(raw, sync = null) {
    const missing = A.getMissingDeps(this.doc, []);
    const queued = missing.length > 0;
    if (this.held.length > 0) {
      this.held = this.held.filter((h) => {
        const waits = h.waiting === null ? queued : h.waiting.some((hash) => !A.hasHeads(this.doc, [hash]));
        if (waits) return true;
        this.out.release(h.tag);
        return false;
      });
    }
    if (!queued) return;
    const chunks = raw === null ? A.decodeSyncMessage(sync).changes : raw;
    if (chunks.length === 0) return;
    const heads = chunks.map(chunkHeads);
    // A chunk read neither way waits, as its message does, until nothing is queued at all.
    const waiting = heads.includes(null) ? null : heads.flat().filter((hash) => !A.hasHeads(this.doc, [hash]));
    if (waiting !== null && waiting.length === 0) return;
    const tag = this.nextTag++;
    this.held.push({ tag, waiting });
    this.out.hold(tag);
  }

  state() {
    if (this.shownDoc !== this.doc) {
      this.shown = canonical(this.doc);
      this.shownDoc = this.doc;
    }
    return { state: this.shown, metadata_bytes: this.storedBytes };
  }
}

class Client extends Replica {
  constructor(event, rng) {
    super(event, rng);
    this.pending = new Map();  // change hash -> op id: applied here, not yet acknowledged
    this.ownOps = new Set();
  }

  /** A new connection starts a sync session; the server answers it. */
  connected(event, out) {
    this.out = out;
    this.peers.set(event.peer, A.initSyncState());
    this.syncWith(event.peer);
  }

  op(event, out) {
    this.out = out;
    const op = event.op;
    const key = String(op.key);
    if (op.kind === 'list_update' && !(key in this.doc)) { out.report(op.id, 'rejected'); return; }
    const before = A.getHeads(this.doc).join();
    // A remove reports the value its user saw removed (the checkers' resurrection needs it).
    const removed = op.kind === 'list_remove' ? this.doc[key] : undefined;
    this.doc = A.change(this.doc, (d) => {
      if (op.kind === 'list_remove') delete d[key];
      else d[key] = op.id;
    });
    this.ownOps.add(op.id);
    out.report(op.id, 'applied', removed);
    if (A.getHeads(this.doc).join() === before) {
      // Removing an item this replica does not hold changes nothing: there is nothing to save.
      out.report(op.id, 'acknowledged');
      return;
    }
    // A local change depends on every head before it, so it is now the one head.
    const hash = A.getHeads(this.doc)[0];
    this.pending.set(hash, op.id);
    this.persist();
    // Offline, the next connection's sync session carries it.
    for (const peer of this.peers.keys()) out.send(peer, encodeChanges([hash], [A.getLastLocalChange(this.doc)]));
  }

  message(event, out) {
    this.out = out;
    const bytes = Buffer.from(event.data, 'base64');
    const body = bytes.subarray(1);
    const before = this.doc;
    if (bytes[0] === TAG_SYNC) {
      this.receiveSync(event.from, body);
      this.holdQueued(null, body);
      if (this.pending.size > 0) this.acknowledgeHeld(A.decodeSyncMessage(body).heads);
      this.syncWith(event.from);
    } else if (bytes[0] === TAG_CHANGES) {
      const { hashes, changes } = decodeChanges(body);
      for (const hash of hashes) this.acknowledge(hash);
      if (changes.length > 0) [this.doc] = A.applyChanges(this.doc, changes);
      this.holdQueued(changes);
    }
    if (this.doc !== before) {
      reportSeen(out, before, this.doc, this.ownOps);
      this.persist();
    }
  }

  acknowledge(hash) {
    const op = this.pending.get(hash);
    if (op !== undefined) { this.out.report(op, 'acknowledged'); this.pending.delete(hash); }
  }

  /** Acknowledges the pending changes the server's heads include: the server stores what it
   *  receives before it answers, so what its sync message says it has is stored. This catches an
   *  acknowledgement lost with a reset connection or a server crash. */
  acknowledgeHeld(serverHeads) {
    if (!A.hasHeads(this.doc, serverHeads)) return;  // they are checked when this replica has them
    const missing = new Set(A.getChangesMetaSince(this.doc, serverHeads).map((meta) => meta.hash));
    for (const hash of [...this.pending.keys()]) if (!missing.has(hash)) this.acknowledge(hash);
  }
}

class Server extends Replica {
  /** The client starts the sync session; the server only answers. */
  connected(event, out) {
    this.out = out;
    this.peers.set(event.peer, A.initSyncState());
  }

  message(event, out) {
    this.out = out;
    const bytes = Buffer.from(event.data, 'base64');
    const body = bytes.subarray(1);
    const heads = A.getHeads(this.doc);
    let sent = [];  // the hashes of the changes the sender sent raw: it needs only their hashes back
    if (bytes[0] === TAG_SYNC) {
      this.receiveSync(event.from, body);
      this.holdQueued(null, body);
    } else if (bytes[0] === TAG_CHANGES) {
      const { hashes, changes } = decodeChanges(body);
      sent = hashes;
      [this.doc] = A.applyChanges(this.doc, changes);
      this.holdQueued(changes);
    } else {
      return;
    }
    if (A.getHeads(this.doc).join() !== heads.join()) this.forward(event.from, heads, sent);
    if (bytes[0] === TAG_SYNC) this.syncWith(event.from);
  }

  /** Stores the changes made since `heads`, then sends them to every connected client. */
  forward(from, heads, sent) {
    this.persist();  // stored and flushed before it is acknowledged
    const changes = A.getChangesSince(this.doc, heads);
    const hashes = A.getChangesMetaSince(this.doc, heads).map((meta) => meta.hash);
    let forSender = changes;
    if (sent.length > 0) {
      const theirs = new Set(sent);
      forSender = changes.filter((change, i) => !theirs.has(hashes[i]));
    }
    const message = encodeChanges(hashes, changes);
    for (const peer of this.peers.keys()) {
      // To the sender, changes it did not send: when there are none, the hashes only acknowledge its
      // own writes, a control message.
      if (peer === from) this.out.send(peer, forSender === changes ? message : encodeChanges(hashes, forSender), forSender.length === 0 ? CONTROL : undefined);
      else this.out.send(peer, message);
    }
  }
}

protocol.serve(
  {
    name: `automerge-${variant}`,
    description: `Automerge: ${variant === 'map' ? 'a map' : 'list items in a map'} synced through a relay server`,
    data_type: variant,
    topology: 'client_server',
    rule: variant === 'map' ? 'last_writer_wins' : 'add_wins',
    protocol: 2,  // nothing lives outside the replicas: a reset leaves the process as new
    metadata_growth: 'keeps_every_change',  // a document keeps its whole change history
    // The pinned Automerge can leave a replica apart for good after a remove (repros/README.md).
    ...(variant === 'list' ? { breaks: 'convergence', correct: false } : {}),
    // A change depends on every head its replica had, and Automerge applies none before all it depends
    // on: a replica that shows a user's write shows what that user had seen and written first.
    ...(variant === 'map' ? { writes_follow_reads: 'promised', writes_in_order: 'promised' } : {}),
  },
  (event, rng) => (event.role === 'server' ? new Server(event, rng) : new Client(event, rng)),
);
