'use strict';
// syncstorm adapter for ShareDB (operational transformation through a server):
//   node adapter.js map|list|text [--release=current|1.0.0-beta.29|1.0.0-beta.31]
// `map` (sharedb-map): one json0 document whose fields are the map's keys. `list` (sharedb-list): list
// items as fields of that document, from item id to op id. `text` (sharedb-text): a string field
// `text` edited with json0's string insert and delete (`si`, `sd`), the way ShareDB's text editors
// bind to it; element i is the code point TEXT_BASE + i, two UTF-16 units (every offset and length
// in an op is even, and json0 transforms keep them so). `--release` picks the ShareDB release:
// `current` is the pinned `sharedb` package, `1.0.0-beta.29` the pinned `sharedb-1.0.0-beta.29` alias
// (a release with a known reconnect bug, kept to show that the simulator finds it).
//
// The server node runs ShareDB's own Backend over its in-memory database (MemoryDB). Every committed
// op and the snapshot it produced are written to the node's durable store and flushed before the
// commit's callback runs, so before the acknowledgement and the broadcast leave the server; a server
// that restarts after a crash rebuilds the database from the store. Each client runs a ShareDB
// Connection over a socket object: its `send` becomes a syncstorm `send` while the connection is up,
// and its onopen, onclose and onmessage are driven by the `connected`, `disconnected` and `message`
// events. On the server, each connected client is a Duplex stream handed to Backend.listen.
//
// Transformation makes the server's order final: two concurrent writes to one field are ordered by
// the server, the later one wins (json0 transforms the earlier-submitted insert away), so the map's
// rule is server_order. A list also removes items, and json0 means a write to beat a concurrent
// removal whatever the server's order (a removal whose old value was replaced meanwhile becomes a
// no-op; a replacement of a value removed meanwhile becomes an insert), so the list's rule is
// add_wins. This adapter builds every op as json0 asks (`od` whenever the key exists): an insert
// without `od` over an existing key, which json0 applies all the same, breaks TP1 against a
// concurrent removal (tests/models/adapters/json0-tp1.js; models/adapters/README.md, "The adapter
// sweep"), and json0's transforms never make one from well-formed ops (json0-closure.js).
// In a text, an insert is never lost to a concurrent edit and two concurrent deletes of one element
// delete it once (json0 shrinks the later `sd` by what the earlier removed), so its rule is add_wins
// like the other texts'.
// ShareDB keeps every op in its op log, so the server's store grows with every write.
// The document is one sequence of versions: a client submits each op on the version it shows, the
// server transforms it to the head and every client applies ops in version order, and a client's
// own pending ops leave one at a time (composed while one is in flight). So a replica that shows a
// user's op also shows what that user had seen and written before it: describe promises writes
// follow reads and writes in order across keys, and the checkers hold ShareDB to both.
//
// ShareDB defers its work with process.nextTick and its streams do too. This adapter therefore runs
// lib/protocol.js's loop in its asynchronous mode: after each event it lets Node.js run until
// nothing is left to do (no new action appeared across two turns of the event loop) and only then
// writes the end marker. ShareDB keeps nothing at module level that a run could leave behind (its
// Backend, MemoryDB and Connections belong to the replicas, dropped with them), so one process
// serves many runs (protocol version 2).

const protocol = require('../lib/protocol');  // first: it virtualises the clock and randomness
const { Duplex } = require('stream');

const args = process.argv.slice(2);
const variant = args.find((arg) => !arg.startsWith('--')) || 'map';
const releaseArg = args.find((arg) => arg.startsWith('--release='));
const release = releaseArg ? releaseArg.slice('--release='.length) : 'current';
const PACKAGES = {
  'current': 'sharedb',
  '1.0.0-beta.29': 'sharedb-1.0.0-beta.29',
  '1.0.0-beta.31': 'sharedb-1.0.0-beta.31',
};
if (variant !== 'map' && variant !== 'list' && variant !== 'text') {
  process.stderr.write(`usage: node adapter.js map|list|text [--release=current|1.0.0-beta.29|1.0.0-beta.31] (got ${variant})\n`);
  process.exit(2);
}
if (!(release in PACKAGES)) {
  process.stderr.write(`--release: unknown release ${release}; known: ${Object.keys(PACKAGES).join(', ')}\n`);
  process.exit(2);
}
const ShareDB = requireInstalled(PACKAGES[release]);
const Connection = requireInstalled(`${PACKAGES[release]}/lib/client`).Connection;

function requireInstalled(name) {
  try {
    return require(name);
  } catch (error) {
    process.stderr.write(`${error.message}\nthe adapter's packages are not installed: run npm ci --prefix models/adapters/sharedb\n`);
    process.exit(3);
  }
}

// What a release is known to break: it makes that release a buggy baseline. In 1.0.0-beta.29 an op
// that was in flight when the connection reset goes back to the pending queue still carrying its
// sequence number, and an edit made before the reconnect is composed into it. If the server had
// committed the first op (its acknowledgement was lost with the connection), it takes the resent,
// composed op for a duplicate and acknowledges it: the second edit is acknowledged and never applied.
// Its author goes on seeing it until a later op on that field arrives, then sees an older value come
// back (read-your-writes); with no later op, that client never converges with the others
// (fixed by share/sharedb pull request 327; 1.0.0-beta.31 is the first release on npm with the fix).
const KNOWN_BUGS = {
  '1.0.0-beta.29': { breaks: 'read-your-writes', correct: false },
};

const COLLECTION = 'docs';
const DOC_ID = 'doc';
const SNAPSHOT_KEY = 's/doc';
const OP_KEY_PREFIX = 'o/';

/** The Actions of the event being handled: ShareDB's deferred callbacks write into it. */
function output() { return protocol.current().out; }

/** Wraps a ShareDB callback: an exception there is reported as the event's error action. */
function guarded(fn) {
  return function (...callArgs) {
    try {
      return fn.apply(this, callArgs);
    } catch (error) {
      protocol.fail(error);
      return undefined;
    }
  };
}

// Which ShareDB messages carry writes (PROTOCOL.md, "Control messages and happens-before"): an op
// (`a: 'op'` with `op`, `create` or `del`) and any message with a snapshot (`data`) or a bulk of them
// (`b`). The rest carry none and are sent as control messages: the handshake, subscribe and fetch
// requests, an acknowledgement (an `op` message naming only the receiver's own submission).
const CONTROL = { control: true };
function sendOptions(message) {
  if (!message || typeof message !== 'object') return undefined;
  if (message.a === 'op') return 'op' in message || 'create' in message || 'del' in message ? undefined : CONTROL;
  return message.data === undefined && message.b === undefined ? CONTROL : undefined;
}

function opKey(version) { return OP_KEY_PREFIX + String(version).padStart(10, '0'); }

// Text elements as code points beyond the Basic Multilingual Plane: each is one surrogate pair.
const TEXT_FIELD = 'text';
const TEXT_BASE = 0x10000;
const TEXT_MAX = 0x10ffff - TEXT_BASE;  // the largest op id a text element can carry

/** The op ids of a text's elements, in document order. */
function elementsOf(text) {
  return Array.from(text || '', (ch) => ch.codePointAt(0) - TEXT_BASE);
}

/** The document's data when the server creates it. */
function initialData() { return variant === 'text' ? { [TEXT_FIELD]: '' } : {}; }

/** The op ids a document's data shows: field or item values, or text elements. */
function shownIds(data) {
  if (variant === 'text') return elementsOf(data && data[TEXT_FIELD]);
  return Object.values(data || {});
}

/** The canonical state of a document's data (an object from key to op id, or the text field). */
function canonical(data) {
  if (variant === 'text') return { type: 'text', text: elementsOf(data && data[TEXT_FIELD]) };
  const entries = Object.keys(data || {}).map((key) => [Number(key), data[key]]);
  entries.sort((x, y) => x[0] - y[0]);
  if (variant === 'map') return { type: 'map', fields: Object.fromEntries(entries) };
  return { type: 'list', items: entries };
}

// ----------------------------------------------------------------------------------------------
// The server: ShareDB's Backend over a MemoryDB whose commits are written to the durable store.

/** Wraps MemoryDB.commit: what it committed is put and flushed before ShareDB hears of it. */
function durableMemoryDb(server) {
  const db = new ShareDB.MemoryDB();
  const commit = db.commit;
  db.commit = function (collection, id, op, snapshot, options, callback) {
    commit.call(this, collection, id, op, snapshot, options, (error, succeeded) => {
      if (!error && succeeded) server.persist(op, snapshot);
      callback(error, succeeded);
    });
  };
  return db;
}

class Server {
  constructor(event) {
    this.db = durableMemoryDb(this);
    this.storedBytes = 0;
    this.streams = new Map();  // client node id -> the Duplex stream its agent reads
    const store = protocol.storeOf(event);
    this.restore(store);
    this.backend = new ShareDB({ db: this.db });
    this.backend.on('error', guarded((error) => { throw error; }));
  }

  /** Rebuilds the in-memory database from the store: the op log, then the latest snapshot. */
  restore(store) {
    const keys = [...store.keys()].sort();
    for (const key of keys) {
      this.storedBytes += store.get(key).length;
      if (!key.startsWith(OP_KEY_PREFIX)) continue;
      this.db._writeOpSync(COLLECTION, DOC_ID, JSON.parse(store.get(key).toString('utf8')));
    }
    if (store.has(SNAPSHOT_KEY)) {
      this.db._writeSnapshotSync(COLLECTION, DOC_ID, JSON.parse(store.get(SNAPSHOT_KEY).toString('utf8')));
    }
  }

  start() {
    // The document exists from the server's first start on, so a client only has to subscribe.
    const doc = this.backend.connect().get(COLLECTION, DOC_ID);
    doc.fetch(guarded((error) => {
      if (error) throw error;
      if (doc.type) return;
      doc.create(initialData(), guarded((createError) => { if (createError) throw createError; }));
    }));
  }

  persist(op, snapshot) {
    const opBytes = Buffer.from(JSON.stringify(op));
    const snapshotBytes = Buffer.from(JSON.stringify(snapshot));
    const out = output();
    out.put(opKey(op.v), opBytes);
    out.put(SNAPSHOT_KEY, snapshotBytes);
    out.flush();
    this.storedBytes += opBytes.length;
    this.snapshotBytes = snapshotBytes.length;
  }

  connected(event) {
    const peer = event.peer;
    const stream = new Duplex({
      objectMode: true,
      read() {},
      write(chunk, encoding, callback) {
        const active = protocol.current();
        if (active) active.out.send(peer, Buffer.from(JSON.stringify(chunk)), sendOptions(chunk));
        callback();
      },
    });
    stream.on('error', () => {});  // a write after the connection reset: nothing left to tell
    this.streams.set(peer, stream);
    this.backend.listen(stream);
  }

  disconnected(event) {
    const stream = this.streams.get(event.peer);
    if (!stream) return;
    this.streams.delete(event.peer);
    stream.push(null);
    stream.destroy();
  }

  message(event) {
    const stream = this.streams.get(event.from);
    if (stream) stream.push(JSON.parse(Buffer.from(event.data, 'base64').toString('utf8')));
  }

  state() {
    const snapshot = this.db._getSnapshotSync(COLLECTION, DOC_ID, false);
    return {
      state: canonical(snapshot && snapshot.data),
      metadata_bytes: this.storedBytes + (this.snapshotBytes || 0),
    };
  }

  stop() {
    for (const stream of this.streams.values()) stream.destroy();
    this.streams.clear();
  }
}

// ----------------------------------------------------------------------------------------------
// A client: a ShareDB Connection over a socket made of syncstorm messages.

class Client {
  constructor() {
    this.server = null;
    this.socket = { readyState: 3, send: (text) => this.socketSend(text), close: () => {} };
    this.connection = new Connection(this.socket);
    this.connection.on('error', guarded((error) => { throw error; }));
    this.doc = this.connection.get(COLLECTION, DOC_ID);
    this.doc.on('error', guarded((error) => { throw error; }));
    this.doc.subscribe(guarded(() => {}));
    this.ownOps = new Set();
    this.shown = new Set();  // the op ids shown after the last event
    this.lastSubmitted = 0;      // the op id of the user's latest submitted op
    this.throughBySeq = new Map();  // an op message's seq: the last of the user's ops it carries
  }

  socketSend(text) {
    if (this.socket.readyState !== 1 || this.server === null) return;
    const message = JSON.parse(text);
    let options = sendOptions(message);
    if (options === undefined && message.a === 'op' && message.seq !== undefined && this.lastSubmitted !== 0) {
      // ShareDB sends an op (its pending ops composed) once it has no op in flight, so its first
      // send carries every op submitted so far; a resend after a reconnect keeps its seq and carries
      // the same ops, while those submitted since wait behind it (PROTOCOL.md, "Control messages
      // and happens-before"). Where composing fails, the first figure is too high: more ordering,
      // never less.
      if (!this.throughBySeq.has(message.seq)) this.throughBySeq.set(message.seq, this.lastSubmitted);
      options = { ownWritesThrough: this.throughBySeq.get(message.seq) };
    }
    output().send(this.server, Buffer.from(text), options);
  }

  connected(event) {
    this.server = event.peer;
    this.socket.readyState = 1;
    this.socket.onopen();
  }

  disconnected(event) {
    if (event.peer !== this.server) return;
    this.socket.readyState = 3;
    this.socket.onclose('disconnected');
  }

  message(event) {
    this.socket.onmessage({ data: Buffer.from(event.data, 'base64').toString('utf8') });
  }

  /** The json0 op for a user operation and the element a text delete removes (0 otherwise), or
   *  null when the operation cannot be done here. */
  opFor(op, data) {
    if (variant === 'text') return this.textOpFor(op, data);
    const key = String(op.key);
    const has = Object.prototype.hasOwnProperty.call(data, key);
    const component = { p: [key] };
    if (has) component.od = data[key];
    let target = 0;
    if (op.kind === 'list_remove') {
      if (!has) return null;
      target = data[key];  // what its user saw removed: the checkers' resurrection needs it
    } else if (op.kind === 'list_update' && !has) {
      return null;
    } else {
      component.oi = op.id;
    }
    return { json0: [component], target };
  }

  textOpFor(op, data) {
    const elements = elementsOf(data[TEXT_FIELD]);
    const position = Math.floor(op.position_ppm * elements.length / 1000000);
    if (op.kind === 'text_insert') {
      if (op.id > TEXT_MAX) throw new Error(`op id ${op.id} is beyond the ${TEXT_MAX} text elements this adapter can name`);
      const at = Math.min(position, elements.length);
      return { json0: [{ p: [TEXT_FIELD, 2 * at], si: String.fromCodePoint(TEXT_BASE + op.id) }], target: 0 };
    }
    if (op.kind !== 'text_delete' || elements.length === 0) return null;
    const at = Math.min(position, elements.length - 1);
    const target = elements[at];
    return { json0: [{ p: [TEXT_FIELD, 2 * at], sd: String.fromCodePoint(TEXT_BASE + target) }], target };
  }

  op(event, out) {
    const op = event.op;
    // A client that has never loaded the document holds nothing to edit.
    const edit = this.doc.type ? this.opFor(op, this.doc.data) : null;
    if (edit === null) { out.report(op.id, 'rejected'); return; }
    this.ownOps.add(op.id);
    this.lastSubmitted = op.id;
    this.doc.submitOp(edit.json0, guarded((error) => {
      // ShareDB rolled the op back and told the user.
      output().report(op.id, error ? 'rejected' : 'acknowledged');
    }));
    out.report(op.id, 'applied', edit.target || undefined);
  }

  /** Once ShareDB is at rest: reports `seen` for every op id now shown that was not shown before
   *  (nor written here). */
  settle(event, out) {
    const shown = new Set(shownIds(this.doc.data));
    for (const id of shown) if (!this.shown.has(id) && !this.ownOps.has(id)) out.report(id, 'seen');
    this.shown = shown;
  }

  state() {
    return { state: canonical(this.doc.data), metadata_bytes: 0 };
  }

  stop() {
    this.socket.readyState = 3;
  }
}

const DESCRIPTIONS = {
  map: 'a map as fields of a json0 document',
  list: 'list items as fields of a json0 document',
  text: 'text as a string field of a json0 document (si and sd ops)',
};

// ----------------------------------------------------------------------------------------------
// The loop: lib/protocol.js's, asynchronous, so that ShareDB's deferred work ends before each answer.

protocol.serve(
  Object.assign({
    data_type: variant,
    topology: 'client_server',
    rule: variant === 'map' ? 'server_order' : 'add_wins',
    description: `ShareDB ${release}: ${DESCRIPTIONS[variant]}`,
    protocol: 2,
    metadata_growth: 'keeps_every_change',  // its op log keeps every op, with no retention
    writes_follow_reads: 'promised',
    writes_in_order: 'promised',
  }, KNOWN_BUGS[release] || {}),
  (event) => (event.role === 'server' ? new Server(event) : new Client(event)),
  { async: true },
);
