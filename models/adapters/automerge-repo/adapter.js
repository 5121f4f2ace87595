'use strict';
// syncstorm adapter for automerge-repo, the way teams deploy Automerge: `node adapter.js map`
// (automerge-repo-map) or `node adapter.js list` (automerge-repo-list: list items as a map from item
// id to op id). Every replica is a `Repo` with a storage adapter backed by syncstorm's store and a
// network adapter whose messages travel as syncstorm `send` actions. The server is a Repo acting as
// a sync server, configured as automerge-repo-sync-server configures it (storage, a fixed-style peer
// id, and `sharePolicy: async () => false`: it announces nothing and answers whoever asks). The
// library's own sync state machine, throttled saves, timeouts and retries all run unmodified.
//
// Determinism. automerge-repo is asynchronous (promises, xstate timers, throttled saves), while the
// protocol answers one event at a time. ../lib/protocol.js's loop, in its asynchronous mode, makes a
// run replay exactly:
// - Clock and randomness. Date, performance.now, Math.random, crypto.getRandomValues (Automerge's
//   actor ids), crypto.randomUUID and crypto.randomFillSync (the uuid package: storage ids) read the
//   virtual clock and the seeded stream of the replica handling the current event.
// - Timers. setTimeout, setInterval and their clear functions are virtual (virtualiseTimers): a
//   library timer becomes a protocol `timer` action of the replica that set it, keyed by a tag, and
//   its callback runs when syncstorm fires that tag. A cleared timer's event is ignored when it comes.
// - Microtasks. After an event is dispatched, the loop lets real turns of the event loop pass
//   (setImmediate) before it answers. Node.js drains the whole nextTick and promise queues
//   (including the jobs those jobs enqueue) before it runs any macrotask, and with every library
//   timer virtual no other macrotask can carry library work, so then the replica is quiescent. The
//   library itself is kept off setImmediate (the global throws), so the barrier cannot be
//   overtaken. Events are queued and handled strictly one after another.
// - Between runs (protocol version 2) the loop drops every replica with its timers; the Repos and
//   their synchronizers belong to the replicas, and the library keeps no module-level state that
//   outlives them, so one process serves many runs.
//
// Automerge keeps the whole history of a document: the metadata figure is the size of what the
// replica holds in durable storage (snapshots, incremental chunks, sync states), which grows with
// every write even when the visible state does not.
//
// Every replica shares one document, as an app shares one automerge URL: its id is a constant, and
// every client starts from the same empty genesis change (made once, by a fixed actor at time 0), as
// if the app shipped the document's first version. The server starts with nothing and learns the
// document from the first client that syncs it.

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');
const { pathToFileURL } = require('url');
// First: it virtualises the clock and randomness, before the library loads.
const protocol = require('../lib/protocol');
const { storeOf } = protocol;

// Library timers become protocol timer actions of the replica that is running (see above).
protocol.virtualiseTimers();

// The 2.6 releases call Promise.withResolvers, which Node.js has from version 22 on; the same
// three lines on Node.js 20.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((yes, no) => { resolve = yes; reject = no; });
    return { promise, resolve, reject };
  };
}

// The library logs with console.log in places (errors it catches); stdout is the protocol's.
for (const name of ['log', 'info', 'warn', 'debug']) {
  console[name] = (...args) => process.stderr.write(args.map(String).join(' ') + '\n');
}

// ----------------------------------------------------------------------------------------------
// The library (loaded after the replacements above).

// The packages resolve from the folder of the script node runs: this one, or a folder that pins
// another release of the library and runs this file (see README.md).
const packageDir = path.dirname(require.main.filename);
const requireLibrary = createRequire(require.main.filename);

function requireInstalled(name) {
  try {
    return requireLibrary(name);
  } catch (error) {
    process.stderr.write(`${error.message}\nthe adapter's packages are not installed: run npm ci --prefix ${path.relative(process.cwd(), packageDir) || '.'}\n`);
    process.exit(3);
  }
}

/** The ES module build of Automerge's slim entry point, the one automerge-repo itself imports. */
function automergeModuleUrl() {
  let dir = path.dirname(requireLibrary.resolve('@automerge/automerge'));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  return pathToFileURL(path.join(dir, manifest.exports['./slim'].node.import)).href;
}

/** The version of the package `name` installed beside the script node runs. */
function installedVersion(name) {
  let dir = path.dirname(requireLibrary.resolve(name));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
}

const repoPackage = requireInstalled('@automerge/automerge-repo');
const { Repo, NetworkAdapter, StorageAdapter, cbor } = repoPackage;
// automerge-repo imports Automerge as an ES module; `require` would load the CommonJS build, a
// second instance whose documents the first cannot read. Loaded (once) before the first event.
let A = null;
const loaded = import(automergeModuleUrl()).then((module) => {
  A = module.next;
  GENESIS = genesis();
});

const variant = process.argv[2] || 'map';
if (variant !== 'map' && variant !== 'list') {
  process.stderr.write(`usage: node adapter.js map|list (got ${variant})\n`);
  process.exit(2);
}

/** The one document every replica syncs, as an app's shared automerge URL names it. */
const DOCUMENT_ID = '23hPPCK6FC3XAAemvjXgKs1Ap7Hp';

/** The document's first version, byte-identical everywhere: a fixed actor, time 0, no content. */
function genesis() {
  const saved = protocol.clock.now();
  protocol.clock.set(0);
  const doc = A.emptyChange(A.init({ actor: '00000000000000000000000000000000' }), { time: 0 });
  protocol.clock.set(saved);
  return A.save(doc);
}
let GENESIS = null;  // set once Automerge has loaded

// ----------------------------------------------------------------------------------------------
// Network: one syncstorm stream connection per peer. When a connection comes up both ends send a
// hello (their peer id and metadata, as automerge-repo's WebSocket adapters send join and peer),
// and a hello makes the sender a peer candidate. Every frame is CBOR, as over a WebSocket.

// Only Automerge sync messages (automerge-repo's `sync` and `request`) that carry changes carry
// writes. A hello, a sync message of heads, a bloom filter and needs, and the repo's other messages
// (doc-unavailable, remote heads, ephemeral) are sent as control messages, along which the
// checkers' happens-before does not flow (PROTOCOL.md, "Control messages and happens-before").
const CONTROL = { control: true };

function carriesChanges(message) {
  if ((message.type !== 'sync' && message.type !== 'request') || !message.data) return false;
  return A.decodeSyncMessage(message.data).changes.length > 0;
}

class SimNetworkAdapter extends NetworkAdapter {
  constructor(replica) {
    super();
    this.replica = replica;
    this.nodeByPeer = new Map();   // peer id -> node id, for peers that said hello
    this.peerByNode = new Map();   // node id -> peer id
    this.connected = new Set();    // node ids with a live connection
  }

  isReady() { return true; }
  whenReady() { return Promise.resolve(); }
  connect(peerId, peerMetadata) { this.peerId = peerId; this.peerMetadata = peerMetadata; }
  disconnect() {}

  send(message) {
    const node = this.nodeByPeer.get(message.targetId);
    if (node === undefined || !this.connected.has(node)) return;
    this.replica.output().send(node, cbor.encode(message), carriesChanges(message) ? undefined : CONTROL);
  }

  onConnected(node) {
    this.connected.add(node);
    this.replica.output().send(node, cbor.encode({ type: 'hello', peerId: this.peerId, peerMetadata: this.peerMetadata }), CONTROL);
  }

  onDisconnected(node) {
    this.connected.delete(node);
    this.forget(node);
  }

  forget(node) {
    const peerId = this.peerByNode.get(node);
    if (peerId === undefined) return;
    this.peerByNode.delete(node);
    this.nodeByPeer.delete(peerId);
    this.emit('peer-disconnected', { peerId });
  }

  onMessage(node, bytes) {
    const message = cbor.decode(bytes);
    if (message.type === 'hello') {
      this.forget(node);
      this.peerByNode.set(node, message.peerId);
      this.nodeByPeer.set(message.peerId, node);
      this.emit('peer-candidate', { peerId: message.peerId, peerMetadata: message.peerMetadata || {} });
      return;
    }
    if (this.peerByNode.get(node) !== message.senderId) return;  // from before a reset
    this.emit('message', message);
  }
}

// ----------------------------------------------------------------------------------------------
// Storage: the replica's syncstorm store. A key is automerge-repo's key array joined with '/'
// (document ids are base58, hashes hex, storage ids uuids: none holds a '/'). A save is a put and a
// flush, as a file system adapter's write resolves once the file is written.

class SimStorageAdapter extends StorageAdapter {
  constructor(replica, store) {
    super();
    this.replica = replica;
    this.data = new Map();  // joined key -> bytes
    for (const [key, value] of store) this.data.set(key, new Uint8Array(value));
  }

  bytes() {
    let total = 0;
    for (const value of this.data.values()) total += value.length;
    return total;
  }

  async load(keyParts) { return this.data.get(keyParts.join('/')); }

  async save(keyParts, value) {
    const key = keyParts.join('/');
    this.data.set(key, new Uint8Array(value));
    const out = this.replica.output();
    out.put(key, value);
    out.flush();
  }

  async remove(keyParts) {
    const key = keyParts.join('/');
    if (!this.data.delete(key)) return;
    this.replica.output().erase(key);
  }

  #matching(prefix) {
    const keys = [...this.data.keys()].filter((key) => {
      const parts = key.split('/');
      return prefix.every((part, i) => parts[i] === part);
    });
    return keys.sort();
  }

  async loadRange(prefix) {
    return this.#matching(prefix).map((key) => ({ key: key.split('/'), data: this.data.get(key) }));
  }

  async removeRange(prefix) {
    for (const key of this.#matching(prefix)) await this.remove(key.split('/'));
  }
}

// ----------------------------------------------------------------------------------------------
// Replicas.

function hexOf(rng, words) {
  let hex = '';
  for (let i = 0; i < words; i++) hex += rng.u32().toString(16).padStart(8, '0');
  return hex;
}

/** The canonical state of a document's root map. */
function canonical(doc) {
  const entries = doc ? Object.entries(doc).map(([key, value]) => [Number(key), value]) : [];
  entries.sort((x, y) => x[0] - y[0]);
  if (variant === 'map') return { type: 'map', fields: Object.fromEntries(entries) };
  return { type: 'list', items: entries };
}

class Replica {
  constructor(event, rng) {
    this.node = event.node;
    this.role = event.role;
    this.rng = rng;
    this.alive = true;
    this.network = new SimNetworkAdapter(this);
    this.storage = new SimStorageAdapter(this, storeOf(event));
    this.repo = null;
    this.handle = null;
    this.shownDoc = null;  // the document the last seen-report compared against
    this.ownOps = new Set();
    this.pending = new Map();  // change hash -> op id: applied here, not yet known to the server
    this.failure = null;       // an error the library raised in deferred work, reported on the next answer
  }

  /** The actions of the event being handled; a replica that is not running must not act. */
  output() {
    const active = protocol.current();
    if (active === null || active.replica !== this || !this.alive) throw new Error(`replica ${this.node} acted outside its own event`);
    return active.out;
  }

  doc() { return this.handle && this.handle.isReady() ? this.handle.doc() : null; }

  /** Builds the Repo; its constructor already starts timers and storage reads, so it runs inside
   *  the start event. */
  start() {
    const peerId = `${this.role}-${this.node}-${hexOf(this.rng, 2)}`;
    this.repo = new Repo(this.role === 'server'
      ? { network: [this.network], storage: this.storage, peerId, sharePolicy: async () => false }
      : { network: [this.network], storage: this.storage, peerId });
    if (this.role === 'server') return;  // the sync server learns the document when asked for it
    const stored = [...this.storage.data.keys()].some((key) => key.startsWith(`${DOCUMENT_ID}/`));
    if (stored) {
      this.repo.find(DOCUMENT_ID).then((handle) => { this.handle = handle; this.shownDoc = handle.doc(); },
        (error) => { this.failure = error; });
    } else {
      this.handle = this.repo.import(GENESIS, { docId: DOCUMENT_ID });
    }
  }

  connected(event) { this.network.onConnected(event.peer); }
  disconnected(event) { this.network.onDisconnected(event.peer); }
  message(event) { this.network.onMessage(event.from, Buffer.from(event.data, 'base64')); }

  op(event, out) {
    const op = event.op;
    const doc = this.doc();
    if (this.role !== 'client' || !doc) { out.report(op.id, 'rejected'); return; }
    const key = String(op.key);
    if (op.kind === 'list_update' && !(key in doc)) { out.report(op.id, 'rejected'); return; }
    const before = A.getHeads(doc).join();
    // A remove reports the value its user saw removed (the checkers' resurrection needs it).
    const removed = op.kind === 'list_remove' ? doc[key] : undefined;
    this.handle.change((d) => {
      if (op.kind === 'list_remove') delete d[key];
      else d[key] = op.id;
    });
    this.ownOps.add(op.id);
    out.report(op.id, 'applied', removed);
    const heads = A.getHeads(this.handle.doc());
    if (heads.join() === before) out.report(op.id, 'acknowledged');  // a no-op: nothing to sync
    else this.pending.set(heads[0], op.id);
  }

  /** After the event's work has settled: what the user now sees, and what the server now holds. */
  settle(event, out) {
    if (this.failure) throw this.failure;
    if (this.handle === null && this.role === 'server') this.handle = this.repo.handles[DOCUMENT_ID] || null;
    const doc = this.doc();
    if (!doc || this.role !== 'client') return;
    if (doc !== this.shownDoc) {
      const before = this.shownDoc || {};
      for (const key of Object.keys(doc)) {
        const id = doc[key];
        if (before[key] !== id && !this.ownOps.has(id)) out.report(id, 'seen');
      }
      this.shownDoc = doc;
    }
    if (this.pending.size > 0) this.acknowledgeHeld(doc);
  }

  /** Acknowledges the pending changes the server's heads include, as automerge-repo tracks them
   *  for every peer with a storage id (`DocHandle.getSyncInfo`): what a "saved to the server"
   *  indicator shows. */
  acknowledgeHeld(doc) {
    for (const peerId of this.repo.peers) {
      const storageId = this.repo.getStorageIdOfPeer(peerId);
      const info = storageId && this.handle.getSyncInfo(storageId);
      if (!info) continue;
      const serverHeads = repoPackage.decodeHeads(info.lastHeads);
      if (!A.hasHeads(doc, serverHeads)) continue;
      const missing = new Set(A.getChangesMetaSince(doc, serverHeads).map((meta) => meta.hash));
      for (const [hash, op] of [...this.pending]) {
        if (!missing.has(hash)) { this.output().report(op, 'acknowledged'); this.pending.delete(hash); }
      }
    }
  }

  state() {
    return { state: canonical(this.doc()), metadata_bytes: this.storage.bytes() };
  }

  /** The replica crashed or the run ended: its Repo must not act again (its timers are gone). */
  stop() { this.alive = false; }
}

// ----------------------------------------------------------------------------------------------
// The loop: lib/protocol.js's, asynchronous, so that each event's work settles first.

protocol.serve(
  {
    name: `automerge-repo-${variant}`,
    description: `automerge-repo: ${variant === 'map' ? 'a map' : 'list items in a map'} in one document, each replica a Repo, synced through a sync-server Repo`,
    data_type: variant,
    topology: 'client_server',
    rule: variant === 'map' ? 'last_writer_wins' : 'add_wins',
    protocol: 2,
    metadata_growth: 'keeps_every_change',  // an Automerge document keeps its whole change history
    // 2.5.6 stalls after a reconnect (README.md): a buggy baseline on that release, as its entry in
    // syncstorm's model table says.
    ...(installedVersion('@automerge/automerge-repo') === '2.5.6' ? { breaks: 'convergence', correct: false } : {}),
  },
  (event, rng) => new Replica(event, rng),
  { async: true, ready: loaded },
);
