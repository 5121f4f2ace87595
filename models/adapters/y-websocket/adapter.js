'use strict';
// syncstorm adapter for Yjs as teams deploy it: `node adapter.js list` (yjs-ws-list) or
// `node adapter.js text` (yjs-ws-text).
//
// Nothing of the sync protocol is ours. Clients run y-websocket's WebsocketProvider (sync step 1
// and 2, updates and awareness through y-protocols; its reconnect backoff, its resync on every
// reconnect, its watchdog that drops a silent connection). Servers run the y-websocket server's
// document handling (`setupWSConnection` and `WSSharedDoc` from @y/websocket-server/utils): one
// shared document per server, its update broadcast, its awareness relay, its ping/pong liveness
// check, and its persistence hooks (`bindState`/`writeState`), which unload the document when its
// last connection closes and load it again from storage on the next one.
//
// What this file adds is only what a process of its own would get from the platform:
// - timers: setTimeout/setInterval become syncstorm `timer` actions (timers.js);
// - WebSockets: fake sockets whose frames travel as syncstorm `send` actions (sockets.js);
// - storage: y-leveldb's read/append/compact contract on syncstorm's store for the server, and
//   y-indexeddb's on the client (persistence.js); those two packages need LevelDB and IndexedDB.
//
// A user's edits and what they see are mapped as in the yjs adapter: list items in a Y.Map from item
// id to op id, text as a Y.Array of op ids. The rules declared are what Yjs does, not more: a Y.Array
// delete removes only the elements its author saw (add-wins), but a Y.Map key holds one winner among
// concurrent sets, and a concurrent delete of that winner empties the key even when it never saw the
// losing set, so the list declares last-writer-wins. The library gives its user no acknowledgement
// (the provider's `synced` flag only says the first sync step 2 arrived), so operations are
// reported `applied` and never `acknowledged`.

// The server package reads its settings from the environment when it loads. The deployment is the
// one its README describes, with YPERSISTENCE naming a LevelDB directory; everything else (an HTTP
// CALLBACK_URL, GC off) is cleared so a stray setting of the machine cannot change the run.
for (const name of ['CALLBACK_URL', 'CALLBACK_OBJECTS', 'GC']) delete process.env[name];
process.env.YPERSISTENCE = 'ydb';

// stdout carries the protocol: the packages' console output goes to stderr ("Persisting documents").
console.log = console.info = console.debug = console.error;

const path = require('path');
const Module = require('module');
const protocol = require('../lib/protocol');  // first: it virtualises the clock and randomness
const timers = require('./timers');          // second: library timers become syncstorm timers
const sockets = require('./sockets');
const persistence = require('./persistence');

const packages = Module.createRequire(path.join(__dirname, 'package.json'));
// y-leveldb, wherever the server package asks for it, is the stand-in on syncstorm's store.
const load = Module._load;
Module._load = function loadWithStore(request, ...rest) {
  if (request === 'y-leveldb') return { LeveldbPersistence: persistence.LevelStandIn };
  return load.call(this, request, ...rest);
};
const Y = requireInstalled('yjs');
const { WebsocketProvider } = requireInstalled('y-websocket');
const server = requireInstalled('@y/websocket-server/utils');
// Whether this version of the server package honours YPERSISTENCE: its own code decides.
const packaged = server.getPersistence();
const serverPersistence = packaged === null ? null : persistence.rehosted(packaged.provider, Y);
server.setPersistence(serverPersistence);

function requireInstalled(name) {
  try {
    return packages(name);
  } catch (error) {
    process.stderr.write(`${error.message}\nthe adapter's packages are not installed: run npm ci --prefix models/adapters/y-websocket\n`);
    process.exit(3);
  }
}

const variant = process.argv[2] || 'list';
if (variant !== 'list' && variant !== 'text') {
  process.stderr.write(`usage: node adapter.js list|text (got ${variant})\n`);
  process.exit(2);
}
// The data on a Y.Doc is the one the relay-based Yjs adapter keeps.
const yjsData = require('../yjs/document').documentOf(variant);
const ROOM = 'syncstorm';
// Every client's provider listens to process 'exit'; sixty clients are not a leak.
process.setMaxListeners(0);

/**
 * What a message leaves waiting in a Y.Doc. Yjs parks an update whose items follow ones the document
 * lacks (`store.pendingStructs`) and a delete of items it does not know yet (`store.pendingDs`);
 * y-websocket relays updates before a peer has synced, so both happen. Such a message is held
 * (PROTOCOL.md, "Held messages"): its sender's past is not this replica's until the document holds
 * everything the message's update carries, each of its structs and each item it deletes, which is
 * when Yjs has integrated it (whichever message brought the missing pieces).
 */
class Holds {
  constructor() {
    this.held = [];  // { tag, needs: [[client, clock]]: the document's state must reach each }
    this.nextTag = 1;
  }

  /** What is pending in `doc` now (null: no document yet). */
  static pending(doc) {
    if (!doc) return { waits: new Set(), structs: 0, ds: 0 };
    const structs = doc.store.pendingStructs;
    const waits = new Set(structs ? structs.missing.keys() : []);
    if (doc.store.pendingDs) waits.add('ds');
    return { waits, structs: structs ? structs.update.length : 0, ds: doc.store.pendingDs ? doc.store.pendingDs.length : 0 };
  }

  /** After the message `frame`: holds it when it left something new pending, and releases what is in. */
  afterMessage(before, doc, out, frame) {
    this.releaseDone(doc, out);
    const now = Holds.pending(doc);
    const parked = [...now.waits].some((w) => !before.waits.has(w)) || now.structs > before.structs || now.ds > before.ds;
    if (!parked) return;
    // A frame without an update (a connection opening, which loads the document from storage)
    // brings no writes of its sender: what storage left pending came with earlier messages.
    const update = sockets.updateOf(frame);
    if (update === null) return;
    const needs = [];
    const { structs, ds } = Y.decodeUpdate(update);
    for (const st of structs) if (!(st instanceof Y.Skip)) needs.push([st.id.client, st.id.clock + st.length]);
    for (const [client, items] of ds.clients) for (const item of items) needs.push([client, item.clock + item.len]);
    const tag = this.nextTag++;
    this.held.push({ tag, needs });
    out.hold(tag);
  }

  /** Releases every held message whose update `doc` now holds whole (all of them: no document). */
  releaseDone(doc, out) {
    this.held = this.held.filter((h) => {
      if (doc && h.needs.some(([client, clock]) => Y.getState(doc.store, client) < clock)) return true;
      out.release(h.tag);
      return false;
    });
  }
}

/**
 * Which of a client's own writes a frame it sends lacks (PROTOCOL.md, "Control messages and
 * happens-before"). A Yjs delete needs nothing before it, so a reconnecting client's delete goes out
 * (a y-protocols update) ahead of the offline inserts its sync step 2 sends later; counted whole,
 * its past would order the server's next writes after inserts it never had.
 *
 * Each write is remembered by what its transaction made: its own structs (a clock range of the
 * document's client id at that moment) and the items it deleted. A write no frame has carried yet
 * is unsent; a frame that carries a document update carries a write when the update holds any of
 * its structs (even a garbage-collected one) or any of its deleted items. The frame lacks the
 * unsent writes it does not carry. A write sent once counts as carried from then on, even when the
 * frame was lost with its connection; so does every write of an earlier incarnation, which this
 * replica no longer knows: what cannot be told apart is counted as carried, which can only make the
 * checkers stricter.
 */
class OwnWrites {
  constructor() {
    this.parts = new Map();    // unsent op id -> { client, first, end, deleted: [[client, clock, len]] }
    this.unsent = new Set();   // op ids no frame has carried yet, in issue order
    this.capturing = null;     // the op whose transaction is running
  }

  /** Called from the document's afterTransaction while `capturing` runs. */
  record(transaction) {
    if (this.capturing === null) return;
    const client = transaction.doc.clientID;
    const first = transaction.beforeState.get(client) || 0;
    const end = transaction.afterState.get(client) || 0;
    const deleted = [];
    for (const [owner, items] of transaction.deleteSet.clients) {
      for (const item of items) deleted.push([owner, item.clock, item.len]);
    }
    if (first === end && deleted.length === 0) return;  // it changed nothing: nothing to send
    this.parts.set(this.capturing, { client, first, end, deleted });
    this.unsent.add(this.capturing);
  }

  /** The options of a data frame's send: the unsent writes it lacks, if any. */
  options(bytes) {
    if (this.unsent.size === 0) return undefined;
    const update = sockets.documentUpdate(bytes);
    if (update === null) return undefined;
    let structs = null;
    let deletes = null;
    const lacking = [];
    for (const op of this.unsent) {
      // The common case needs no decoding: an op's own update, sent while it runs, carries it.
      if (op === this.capturing && this.unsent.size === 1) { this.carried(op); return undefined; }
      if (structs === null) ({ structs, ds: deletes } = Y.decodeUpdate(update));
      const part = this.parts.get(op);
      const inserted = part.first < part.end && structs.some((st) => !(st instanceof Y.Skip) &&
        st.id.client === part.client && st.id.clock < part.end && part.first < st.id.clock + st.length);
      const removed = part.deleted.some(([owner, clock, len]) => (deletes.clients.get(owner) || []).some(
        (item) => item.clock < clock + len && clock < item.clock + item.len));
      if (inserted || removed) this.carried(op);
      else lacking.push(op);
    }
    return lacking.length > 0 ? { lacksOwnWrites: lacking } : undefined;
  }

  /** A frame carries `op`: it is sent from now on, and what it made is needed no more. */
  carried(op) {
    this.unsent.delete(op);
    this.parts.delete(op);
  }
}

/** The replicas of the current and earlier incarnations, to silence one that was restarted. */
const incarnations = new Map();

/** What both roles share: a node id, a clock for the library's timers, the current event's actions. */
class Replica {
  constructor(event) {
    this.node = event.node;
    this.out = null;
    this.dead = false;
    this.timers = new timers.Timers(this);
    const before = incarnations.get(event.node);
    if (before) before.retire();
    incarnations.set(event.node, this);
  }

  /** Runs `work` as this replica: its timers, its sends and its clock. */
  within(out, work) {
    this.out = out;
    return timers.within(this, () => work());
  }

  timer(event, out) { this.within(out, () => this.timers.fire(event.tag)); }

  /** A crashed incarnation's objects may still be reachable from the packages' module state. */
  retire() { this.dead = true; }
}

class Client extends Replica {
  constructor(event, rng) {
    super(event);
    this.rng = rng;
    this.link = new sockets.ClientLink(this);
    this.holds = new Holds();
    this.ownWrites = new OwnWrites();
  }

  /** The options of a data frame's send (sockets.js): which of this client's writes it lacks. */
  sendOptions(bytes) { return this.ownWrites.options(bytes); }

  start(event, out) {
    this.within(out, () => {
      this.doc = new Y.Doc({ gc: true });
      this.doc.clientID = this.rng.u32();  // before the provider: its Awareness copies the id
      this.local = new persistence.ClientStore(this, event, Y);
      this.local.load(this.doc);
      this.shown = null;
      this.ownOps = new Set();
      this.observe();
      this.doc.on('afterTransaction', (transaction) => this.ownWrites.record(transaction));
      this.doc.on('update', (update, origin) => {
        this.shown = null;
        if (origin !== this.local) this.local.append(update);
      });
      this.provider = new WebsocketProvider(`ws://server`, ROOM, this.doc, {
        WebSocketPolyfill: this.link.socketClass(),
        disableBc: true,
      });
    });
  }

  /** Reports `seen` for the op ids a remote update (origin: the provider) makes visible. */
  observe() {
    const remote = (event) => event.transaction.origin === this.provider;
    const seen = (id) => { if (!this.ownOps.has(id)) this.out.report(id, 'seen'); };
    if (variant === 'text') {
      this.doc.getArray('text').observe((event) => {
        if (!remote(event)) return;
        for (const delta of event.changes.delta) if (delta.insert) delta.insert.forEach(seen);
      });
      return;
    }
    const items = this.doc.getMap('items');
    items.observe((event) => {
      if (!remote(event)) return;
      for (const [key, change] of event.changes.keys) {
        const id = items.get(key);
        if (change.action !== 'delete' && id !== change.oldValue) seen(id);
      }
    });
  }

  op(event, out) {
    this.within(out, () => {
      const op = event.op;
      this.ownWrites.capturing = op.id;
      let result;
      try {
        result = yjsData.apply(this.doc, op);
      } finally {
        this.ownWrites.capturing = null;
      }
      if (result === null) { out.report(op.id, 'rejected'); return; }
      this.ownOps.add(op.id);
      out.report(op.id, 'applied', result);
    });
  }

  message(event, out) {
    this.within(out, () => {
      const before = Holds.pending(this.doc);
      const frame = Buffer.from(event.data, 'base64');
      this.link.receive(event.from, frame);
      this.holds.afterMessage(before, this.doc, out, frame);
    });
  }

  connected(event, out) { this.within(out, () => this.link.up(event.peer)); }
  disconnected(event, out) { this.within(out, () => this.link.down(event.peer)); }

  state() {
    if (this.shown === null) {
      this.shown = { state: yjsData.canonical(this.doc), metadata_bytes: Y.encodeStateAsUpdate(this.doc).length };
    }
    return this.shown;
  }

  retire() {
    super.retire();
    if (this.provider) process.off('exit', this.provider._exitHandler);
  }
}

class Server extends Replica {
  constructor(event) {
    super(event);
    // The server package keeps its documents in one module-wide map by name; each server node
    // names its document apart, so several servers in one process never share one.
    this.docName = `${event.node}/${ROOM}`;
    server.docs.delete(this.docName);  // a crashed incarnation's document is gone with it
    persistence.serverStores.set(this.docName, new persistence.ServerStore(this, event, Y));
    this.holds = new Holds();
    this.link = new sockets.ServerLink(this, (conn) => {
      server.setupWSConnection(conn, { url: `/${ROOM}` }, { docName: this.docName });
    });
  }

  message(event, out) {
    this.within(out, () => {
      // The document goes when its last connection closes, with whatever it held (a new one starts
      // from storage, where y-websocket keeps only what it integrated): what was held is released.
      const doc = server.docs.get(this.docName);
      if (doc !== this.doc) {
        this.holds.releaseDone(null, out);
        this.doc = doc;
      }
      const before = Holds.pending(doc);
      const frame = Buffer.from(event.data, 'base64');
      this.link.receive(event.from, frame);
      this.doc = server.docs.get(this.docName);
      this.holds.afterMessage(this.doc === doc ? before : Holds.pending(null), this.doc, out, frame);
    });
  }

  connected(event, out) { this.within(out, () => this.link.up(event.peer)); }
  disconnected(event, out) { this.within(out, () => this.link.down(event.peer)); }

  /** The server shows no user anything: the document may not even be loaded. */
  state() { return { state: null, metadata_bytes: 0 }; }
}

protocol.serve(
  {
    name: `yjs-ws-${variant}`,
    description: `Yjs through y-websocket's provider and server: ${variant === 'text' ? 'text as a Y.Array of elements' : 'list items in a Y.Map'}`,
    data_type: variant,
    topology: 'client_server',
    rule: variant === 'text' ? 'add_wins' : 'last_writer_wins',
    protocol: 2,
    // An overwritten key shows as absent while Yjs waits for the item it follows (README.md).
    ...(variant === 'list' ? { breaks: 'monotonic-reads', correct: false } : {}),
  },
  (event, rng) => (event.role === 'server' ? new Server(event, rng) : new Client(event, rng)),
  { reset },
);

/**
 * Between two runs (protocol version 2): what the packages and this file keep at module level goes
 * with the run. The server package's documents by name (each with its awareness and connections),
 * the store stand-ins by document name, and every incarnation (a retired client also takes its
 * provider's process 'exit' listener away). Their timers were the replicas' and are gone with them.
 */
function reset() {
  for (const replica of incarnations.values()) replica.retire();
  incarnations.clear();
  server.docs.clear();
  persistence.serverStores.clear();
}
