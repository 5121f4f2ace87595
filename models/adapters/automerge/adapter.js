'use strict';
// syncstorm adapter for Automerge: `node adapter.js map` (automerge-map) or `node adapter.js list`
// (automerge-list: list items as a map from item id to value, so an item id is never duplicated).
//
// Clients and a relay server each hold an Automerge document and run Automerge's own sync protocol
// (generateSyncMessage / receiveSyncMessage) with every peer they are connected to. The server stores
// what it receives durably, then acknowledges the changes that were new to it by hash.
//
// Automerge writes Date.now() into every change: the protocol library replaces Date.now with the
// replica's virtual clock, which is what makes two runs of one seed byte-identical.
//
// Message bytes: one tag byte, then
//   0 = an Automerge sync message
//   1 = an acknowledgement: UTF-8 JSON array of change hashes the server stored

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
const TAG_ACK = 1;
const COMPACT_AFTER = 64;  // stored chunks merged into one snapshot beyond this many
const FIELD = variant === 'map' ? 'fields' : 'items';

function frame(tag, bytes) {
  const out = new Uint8Array(bytes.length + 1);
  out[0] = tag;
  out.set(bytes, 1);
  return out;
}

function hexActor(rng) {
  let hex = '';
  for (let i = 0; i < 4; i++) hex += rng.u32().toString(16).padStart(8, '0');
  return hex;
}

/** The canonical state and the set of op ids it shows. */
function canonical(doc) {
  const entries = Object.entries(doc[FIELD] || {}).map(([key, value]) => [Number(key), value]);
  entries.sort((x, y) => x[0] - y[0]);
  const ids = new Set(entries.map((entry) => entry[1]));
  if (variant === 'map') return { state: { type: 'map', fields: Object.fromEntries(entries) }, ids };
  return { state: { type: 'list', items: entries }, ids };
}

/** What both roles share: a document restored from the store, its durable log, and sync with peers. */
class Replica {
  constructor(event, rng) {
    this.doc = A.init({ actor: hexActor(rng) });  // a fresh actor per incarnation, from the seed
    this.out = null;
    this.peers = new Map();  // connected node id -> sync state
    const store = protocol.storeOf(event);
    this.storeKeys = [...store.keys()].filter((key) => key.startsWith('c/')).sort();
    for (const key of this.storeKeys) this.doc = A.loadIncremental(this.doc, store.get(key));
    this.stored = this.storeKeys.length === 0 ? 0 : Number(this.storeKeys[this.storeKeys.length - 1].slice(2)) + 1;
    // The metadata figure is the size of the durable log: counted as it is written, because saving
    // the whole document on every state request cost more than the rest of the adapter together.
    this.storedBytes = this.storeKeys.reduce((sum, key) => sum + store.get(key).length, 0);
    A.saveIncremental(this.doc);  // what was loaded is already stored
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

  /** Sends every connected peer what Automerge's sync protocol says it needs now. */
  syncAll() {
    for (const peer of this.peers.keys()) this.syncWith(peer);
  }

  syncWith(peer) {
    const syncState = this.peers.get(peer);
    if (!syncState) return;
    const [next, message] = A.generateSyncMessage(this.doc, syncState);
    this.peers.set(peer, next);
    if (message) this.out.send(peer, frame(TAG_SYNC, message));
  }

  /** Applies a sync message from `from`; with `wantHashes`, returns the hashes of the changes that
   *  were new here (the server acknowledges them; clients do not need them). */
  receive(from, message, wantHashes = false) {
    const before = A.getHeads(this.doc);
    const [doc, syncState] = A.receiveSyncMessage(this.doc, this.peers.get(from) || A.initSyncState(), message);
    this.doc = doc;
    if (this.peers.has(from)) this.peers.set(from, syncState);
    if (!wantHashes) return [];
    return A.getChanges(A.view(this.doc, before), this.doc).map((change) => A.decodeChange(change).hash);
  }

  connected(event, out) {
    this.out = out;
    this.peers.set(event.peer, A.initSyncState());
    this.syncAll();
  }

  disconnected(event) { this.peers.delete(event.peer); }

  state() {
    return { state: canonical(this.doc).state, metadata_bytes: this.storedBytes };
  }
}

class Client extends Replica {
  constructor(event, rng) {
    super(event, rng);
    this.pending = new Map();  // change hash -> op id: applied here, not yet acknowledged
    this.ownOps = new Set();
  }

  op(event, out) {
    this.out = out;
    const op = event.op;
    const key = String(op.key);
    const current = this.doc[FIELD] || {};
    if (op.kind === 'list_update' && !(key in current)) { out.report(op.id, 'rejected'); return; }
    const before = A.getHeads(this.doc).join();
    this.doc = A.change(this.doc, (d) => {
      if (!d[FIELD]) d[FIELD] = {};
      if (op.kind === 'list_remove') delete d[FIELD][key];
      else d[FIELD][key] = op.id;
    });
    this.ownOps.add(op.id);
    out.report(op.id, 'applied');
    if (A.getHeads(this.doc).join() === before) {
      // Removing an item this replica does not hold changes nothing: there is nothing to save.
      out.report(op.id, 'acknowledged');
      return;
    }
    this.pending.set(A.decodeChange(A.getLastLocalChange(this.doc)).hash, op.id);
    this.persist();
    this.syncAll();
  }

  message(event, out) {
    this.out = out;
    const bytes = Buffer.from(event.data, 'base64');
    const body = bytes.subarray(1);
    if (bytes[0] === TAG_SYNC) {
      const before = canonical(this.doc).ids;
      this.receive(event.from, body);
      protocol.reportSeen(out, before, canonical(this.doc).ids, this.ownOps);
      this.persist();
      this.syncWith(event.from);
    } else if (bytes[0] === TAG_ACK) {
      for (const hash of JSON.parse(Buffer.from(body).toString('utf8'))) {
        const op = this.pending.get(hash);
        if (op !== undefined) { out.report(op, 'acknowledged'); this.pending.delete(hash); }
      }
    }
  }
}

class Server extends Replica {
  message(event, out) {
    this.out = out;
    const bytes = Buffer.from(event.data, 'base64');
    if (bytes[0] !== TAG_SYNC) return;
    const fresh = this.receive(event.from, bytes.subarray(1), true);
    this.persist();  // stored and flushed before it is acknowledged
    if (fresh.length > 0) out.send(event.from, frame(TAG_ACK, Buffer.from(JSON.stringify(fresh), 'utf8')));
    // Only new changes concern the other clients; the sender always gets the protocol's reply.
    if (fresh.length > 0) this.syncAll();
    else this.syncWith(event.from);
  }
}

protocol.serve(
  {
    name: `automerge-${variant}`,
    description: `Automerge: ${variant === 'map' ? 'a map' : 'list items in a map'} synced through a relay server`,
    data_type: variant,
    topology: 'client_server',
    rule: variant === 'map' ? 'last_writer_wins' : 'add_wins',
  },
  (event, rng) => (event.role === 'server' ? new Server(event, rng) : new Client(event, rng)),
);
