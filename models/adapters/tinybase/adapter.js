'use strict';
// syncstorm adapter for TinyBase, the way a local-first app deploys it: `node adapter.js map`
// (tinybase-map) or `node adapter.js list` (tinybase-list).
//
// Every client is a browser tab: a MergeableStore, saved to the tab's localStorage by TinyBase's
// own `createLocalPersister` (loaded at start, then auto-saved), and synced by TinyBase's own
// `createWsSynchronizer` over a WebSocket to the server. The server is TinyBase's own
// `createWsServer`, given a persister for each path, so that it keeps the document itself (its
// "server client" MergeableStore) and not only relays. The library's sync protocol (content hashes,
// then table, row and cell diffs, with request timeouts) runs unmodified; only the sockets, the
// storage and the clock are syncstorm's:
// - A WebSocket is a syncstorm stream connection. A client opens one (a new WsSynchronizer, then
//   startSync) at every `connected` event, as an app that reconnects does, and closes it at
//   `disconnected`. On the server, `connected` is the WebSocketServer's `connection` event, with a
//   `sec-websocket-key` (the client id createWsServer uses) drawn from the server's seeded stream.
// - localStorage and the server's storage file are the replica's syncstorm store: one key, the
//   persisted content, put and flushed at every save (what TinyBase's persisters write).
// - Date.now (the hybrid logical clocks), crypto.getRandomValues (store ids, request ids) and
//   timers (request timeouts, the server's buffer expiry) are virtual (../lib/protocol.js's
//   asynchronous loop: every event's promises settle before its answer).
//
// Data types. A MergeableStore merges every cell and value last-writer-wins by its hybrid logical
// clock; a deletion is a write of "absent" under the same rule.
// - map: each field is a keyed value (`setValue`).
// - list: each item is a row of table `items` whose cell `op` holds the item's op id; a remove
//   deletes the row, so a concurrent add or update may lose to it (last-writer-wins, not add-wins).
//
// Acknowledgements: TinyBase's synchronizers tell an app nothing when a change reaches the server
// (no acknowledgement, no "saved" state), so writes are reported `applied` and never `acknowledged`.
//
// Message bytes: TinyBase's own WebSocket payloads, `toOrFromClientId\n[requestId, message, body]`.
// Hash requests and answers, and the requests for diffs (which carry hashes), say what a replica
// holds, never what it holds: they are sent as control messages, along which the checkers'
// happens-before does not flow (../PROTOCOL.md, "Control messages and happens-before"). Content
// diffs, and the answers to diff requests, carry writes.

const { EventEmitter } = require('events');
const path = require('path');
// First: it virtualises the clock and randomness, before the library loads.
const protocol = require('../lib/protocol');

// Library timers become protocol timer actions of the replica that is running.
protocol.virtualiseTimers();

// stdout is the protocol's.
for (const name of ['log', 'info', 'warn', 'debug']) {
  console[name] = (...args) => process.stderr.write(args.map(String).join(' ') + '\n');
}

const variant = process.argv[2] || 'map';
if (process.argv.length > 3 || (variant !== 'map' && variant !== 'list')) {
  process.stderr.write(`usage: node adapter.js map|list (got ${process.argv.slice(2).join(' ')})\n`);
  process.exit(2);
}

// ----------------------------------------------------------------------------------------------
// The library: ES modules only, loaded (once) before the first event.

let createMergeableStore = null;
let createCustomPersister = null;
let createLocalPersister = null;
let createWsSynchronizer = null;
let createWsServer = null;

function missingPackages(error) {
  process.stderr.write(`${error.message}\nthe adapter's packages are not installed: run npm ci --prefix ${path.relative(process.cwd(), __dirname) || '.'}\n`);
  process.exit(3);
}

const loaded = Promise.all([
  import('tinybase/mergeable-store'),
  import('tinybase/persisters'),
  import('tinybase/persisters/persister-browser'),
  import('tinybase/synchronizers/synchronizer-ws-client'),
  import('tinybase/synchronizers/synchronizer-ws-server'),
]).then(([mergeable, persisters, browser, wsClient, wsServer]) => {
  ({ createMergeableStore } = mergeable);
  ({ createCustomPersister } = persisters);
  ({ createLocalPersister } = browser);
  ({ createWsSynchronizer } = wsClient);
  ({ createWsServer } = wsServer);
}, missingPackages);

/** The one document every replica syncs: the WebSocket path, and the name it is saved under. */
const DOCUMENT = 'syncstorm';
const TABLE = 'items';
const CELL = 'op';

// ----------------------------------------------------------------------------------------------
// Storage. A browser's localStorage is the tab's own: here, the store of the replica whose event is
// running. Persisted content holds `undefined` (a deleted cell's stamp), which JSON has no word for;
// TinyBase's persisters write it as U+FFFC, and the server's file below does the same.

const UNDEFINED = '\uFFFC';

/** A replica's durable key-value storage: its syncstorm store, put and flushed at every write. */
class Disk {
  constructor(replica, store) {
    this.replica = replica;
    this.items = new Map();
    for (const [key, bytes] of store) this.items.set(key, Buffer.from(bytes).toString('utf8'));
  }

  getItem(key) { return this.items.has(key) ? this.items.get(key) : null; }

  setItem(key, text) {
    this.items.set(key, String(text));
    const out = this.replica.output();
    out.put(key, Buffer.from(String(text), 'utf8'));
    out.flush();
  }

  removeItem(key) {
    if (!this.items.delete(key)) return;
    this.replica.output().erase(key);
  }

  bytes() {
    let total = 0;
    for (const text of this.items.values()) total += Buffer.byteLength(text, 'utf8');
    return total;
  }
}

globalThis.localStorage = {
  getItem: (key) => activeReplica().disk.getItem(key),
  setItem: (key, text) => activeReplica().disk.setItem(key, text),
  removeItem: (key) => activeReplica().disk.removeItem(key),
};

function activeReplica() {
  const active = protocol.current();
  if (active === null || active.replica === null) throw new Error('localStorage used outside of any replica event');
  return active.replica;
}

function encodeContent(content) {
  return JSON.stringify(content, (_key, value) => (value === undefined ? UNDEFINED : value));
}

function decodeContent(text) {
  const revive = (value) => {
    if (value === UNDEFINED) return undefined;
    if (Array.isArray(value)) return value.map(revive);
    if (value !== null && typeof value === 'object') {
      for (const key of Object.keys(value)) value[key] = revive(value[key]);
    }
    return value;
  };
  return revive(JSON.parse(text));
}

// ----------------------------------------------------------------------------------------------
// Sockets: a syncstorm stream connection, seen from each end as the WebSocket object TinyBase takes.

const OPEN = 1;
const CLOSED = 3;

/** Whether a TinyBase payload carries no write (see "Message bytes" above). */
function isControl(payload) {
  const split = payload.indexOf('\n');
  let message;
  try {
    message = JSON.parse(payload.slice(split + 1));
  } catch (error) {
    return false;  // not one whole message (a fragment): say it may carry writes
  }
  if (!Array.isArray(message)) return false;
  const [, kind, body] = message;
  if (kind === 0) return Array.isArray(body) && body.length === 2 && typeof body[0] === 'number' && typeof body[1] === 'number';
  return kind !== 3;
}

/** The browser's WebSocket, as a client's WsSynchronizer uses it. */
class ClientSocket {
  constructor(replica, server) {
    this.replica = replica;
    this.server = server;
    this.readyState = OPEN;
    this.bufferedAmount = 0;
    this.listeners = new Map();  // event type -> listeners, in the order they were added
  }

  get CONNECTING() { return 0; }
  get OPEN() { return OPEN; }
  get CLOSING() { return 2; }
  get CLOSED() { return CLOSED; }

  addEventListener(type, listener) {
    if (!this.listeners.has(type)) this.listeners.set(type, []);
    this.listeners.get(type).push(listener);
  }

  removeEventListener(type, listener) {
    const list = this.listeners.get(type) || [];
    const at = list.indexOf(listener);
    if (at >= 0) list.splice(at, 1);
  }

  dispatch(type, event) {
    for (const listener of [...(this.listeners.get(type) || [])]) listener(event);
  }

  send(payload) {
    if (this.readyState !== OPEN) return;
    this.replica.output().send(this.server, Buffer.from(payload, 'utf8'), isControl(payload) ? { control: true } : undefined);
  }

  /** The library closes its socket when it is destroyed, or on a payload it cannot take. A closed
   *  socket sends nothing more; syncstorm's connection itself stays until the network resets it. */
  close() {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.dispatch('close', { code: 1000 });
  }
}

/** The `ws` package's WebSocket on the server, as createWsServer uses it. */
class ServerSocket extends EventEmitter {
  constructor(replica, client) {
    super();
    this.replica = replica;
    this.client = client;
    this.readyState = OPEN;
    this.bufferedAmount = 0;
    this.protocol = '';  // the WsSynchronizer's default (one path per socket)
  }

  get OPEN() { return OPEN; }
  get CLOSED() { return CLOSED; }

  send(payload) {
    if (this.readyState !== OPEN) return;
    this.replica.output().send(this.client, Buffer.from(payload, 'utf8'), isControl(payload) ? { control: true } : undefined);
  }

  close() {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.emit('close', 1000, Buffer.alloc(0));
  }
}

// ----------------------------------------------------------------------------------------------
// Replicas.

/** The canonical state of a MergeableStore. */
function canonical(store) {
  if (variant === 'map') {
    const entries = Object.entries(store.getValues()).map(([key, value]) => [Number(key), value]);
    entries.sort((x, y) => x[0] - y[0]);
    return { type: 'map', fields: Object.fromEntries(entries) };
  }
  const items = Object.entries(store.getTable(TABLE))
    .filter(([, row]) => row[CELL] !== undefined)
    .map(([key, row]) => [Number(key), row[CELL]]);
  items.sort((x, y) => x[0] - y[0]);
  return { type: 'list', items };
}

/** The op ids a store shows. */
function shownIds(store) {
  if (variant === 'map') return Object.values(store.getValues());
  return Object.values(store.getTable(TABLE)).map((row) => row[CELL]).filter((id) => id !== undefined);
}

/** TinyBase's onIgnoredError: what the library reports and then carries on from. */
function ignored() {}

class Replica {
  constructor(event) {
    this.node = event.node;
    this.alive = true;
    this.disk = new Disk(this, protocol.storeOf(event));
    this.failure = null;  // an error the library raised in deferred work, reported on the next answer
  }

  /** The actions of the event being handled; a replica that is not running must not act. */
  output() {
    const active = protocol.current();
    if (active === null || active.replica !== this || !this.alive) throw new Error(`replica ${this.node} acted outside its own event`);
    return active.out;
  }

  /** Records a failure of deferred library work: the run ends with it, as a finding. */
  failed(error) { if (this.failure === null) this.failure = error || new Error('unknown failure'); }

  settle() { if (this.failure) throw this.failure; }

  /** The replica crashed or the run ended: its library objects must not act again. */
  stop() { this.alive = false; }
}

class Client extends Replica {
  constructor(event) {
    super(event);
    this.store = createMergeableStore();
    // Errors TinyBase reports and then ignores (an empty localStorage, a request that timed out
    // while the connection was down) are its design, not failures: an app's handler logs them.
    this.persister = createLocalPersister(this.store, DOCUMENT, ignored);
    this.socket = null;
    this.synchronizer = null;
    this.shown = new Set();
    this.ownOps = new Set();
  }

  /** The tab opens: what localStorage kept, then every change saved there. */
  start() {
    this.persister.load()
      .then(() => this.persister.startAutoSave())
      .then(() => { this.shown = new Set(shownIds(this.store)); }, (error) => this.failed(error));
  }

  connected(event) {
    if (this.socket !== null) this.disconnected({ peer: this.socket.server });  // a new connection replaces it
    const socket = new ClientSocket(this, event.peer);
    this.socket = socket;
    createWsSynchronizer(this.store, socket)
      .then((synchronizer) => {
        if (this.socket !== socket) return synchronizer.destroy();  // reset before it started
        this.synchronizer = synchronizer;
        return synchronizer.startSync();
      })
      .catch((error) => this.failed(error));
  }

  disconnected(event) {
    if (this.socket === null || this.socket.server !== event.peer) return;
    const synchronizer = this.synchronizer;
    this.socket.close();
    this.socket = null;
    this.synchronizer = null;
    if (synchronizer !== null) synchronizer.destroy().catch((error) => this.failed(error));
  }

  message(event) {
    if (this.socket === null || this.socket.server !== event.from || this.socket.readyState !== OPEN) return;
    this.socket.dispatch('message', { data: Buffer.from(event.data, 'base64').toString('utf8') });
  }

  op(event, out) {
    const op = event.op;
    const key = String(op.key);
    if (variant === 'map') {
      if (op.kind !== 'map_set') { out.report(op.id, 'rejected'); return; }
      this.store.setValue(key, op.id);
      this.ownOps.add(op.id);
      out.report(op.id, 'applied');
      return;
    }
    const current = this.store.getCell(TABLE, key, CELL);
    if (op.kind === 'list_add' || (op.kind === 'list_update' && current !== undefined)) {
      this.store.setCell(TABLE, key, CELL, op.id);
      this.ownOps.add(op.id);
      out.report(op.id, 'applied');
    } else if (op.kind === 'list_remove') {
      if (current !== undefined) this.store.delRow(TABLE, key);
      this.ownOps.add(op.id);
      out.report(op.id, 'applied', current === undefined ? 0 : current);
    } else {
      out.report(op.id, 'rejected');  // an update of an item this user does not see
    }
  }

  /** After the event's work has settled: what the user now sees. */
  settle(event, out) {
    super.settle();
    const now = shownIds(this.store);
    for (const id of now) if (!this.shown.has(id) && !this.ownOps.has(id)) out.report(id, 'seen');
    this.shown = new Set(now);
  }

  state() {
    return { state: canonical(this.store), metadata_bytes: this.disk.bytes() };
  }
}

class Server extends Replica {
  constructor(event, rng) {
    super(event);
    this.rng = rng;
    this.webSocketServer = new EventEmitter();
    this.sockets = new Map();  // client node -> its ServerSocket
    this.wsServer = null;
  }

  /** createWsServer, with a persister per path: the server keeps every document in its storage. */
  start() {
    this.wsServer = createWsServer(this.webSocketServer, (pathId) => this.persisterFor(pathId), ignored);
  }

  persisterFor(pathId) {
    const key = `path/${pathId}`;
    return createCustomPersister(
      createMergeableStore(),
      async () => { const text = this.disk.getItem(key); return text === null ? undefined : decodeContent(text); },
      async (getContent) => this.disk.setItem(key, encodeContent(getContent())),
      () => 0,  // nothing else writes the server's storage
      () => 0,
      ignored,
      2,  // MergeableStoreOnly: a synchronizer needs a MergeableStore
    );
  }

  /** A WebSocket handshake's key: 16 random bytes, base64, as browsers send it. */
  websocketKey() {
    const bytes = Buffer.alloc(16);
    for (let i = 0; i < 16; i += 4) bytes.writeUInt32LE(this.rng.u32(), i);
    return bytes.toString('base64');
  }

  connected(event) {
    const socket = new ServerSocket(this, event.peer);
    const before = this.sockets.get(event.peer);
    if (before) before.close();
    this.sockets.set(event.peer, socket);
    this.webSocketServer.emit('connection', socket,
      { url: `/${DOCUMENT}`, headers: { 'sec-websocket-key': this.websocketKey() } });
  }

  disconnected(event) {
    const socket = this.sockets.get(event.peer);
    if (!socket) return;
    this.sockets.delete(event.peer);
    socket.close();
  }

  message(event) {
    const socket = this.sockets.get(event.from);
    if (socket && socket.readyState === OPEN) socket.emit('message', Buffer.from(event.data, 'base64'), false);
  }

  /** What the server keeps: its stored document (the path's store while clients are connected is
   *  saved there at every change). */
  state() {
    const store = createMergeableStore('state');  // a fixed id: a state query draws no randomness
    const text = this.disk.getItem(`path/${DOCUMENT}`);
    if (text !== null) store.setMergeableContent(decodeContent(text));
    return { state: canonical(store), metadata_bytes: this.disk.bytes() };
  }
}

// ----------------------------------------------------------------------------------------------
// The loop: lib/protocol.js's, asynchronous, so that each event's work settles first.

protocol.serve(
  {
    name: `tinybase-${variant}`,
    description: variant === 'map'
      ? 'TinyBase: a MergeableStore\'s values, each tab saved to localStorage, synced through createWsServer'
      : 'TinyBase: list items as rows of a MergeableStore table, synced through createWsServer',
    data_type: variant,
    topology: 'client_server',
    // Every cell and value, a deletion included, is last-writer-wins by hybrid logical clock.
    rule: 'last_writer_wins',
    // Every store, persister, socket and synchronizer belongs to a replica; the library's
    // module-level state is keyed by them. One process serves many runs.
    protocol: 2,
    // 10.0.1 never sends a change made while its synchronizer is loading (README.md).
    breaks: 'convergence',
    correct: false,
  },
  (event, rng) => (event.role === 'server' ? new Server(event, rng) : new Client(event)),
  { async: true, ready: loaded },
);
