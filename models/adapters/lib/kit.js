'use strict';
// The adapter kit: wraps your own JavaScript sync code (a client module and a server module) as a
// syncstorm model, in about 30 lines. It sits on protocol.js (the wire protocol, the virtual clock
// and the seeded randomness) and gives each replica an `env`: JSON messages, a durable key-value
// store, timers on virtual time, and the four things a user can see happen to an edit.
//
// Your code keeps its own API. The wrapper you write maps syncstorm's events onto it:
//
//   const { adapter } = require('syncstorm/adapters/lib/kit');
//   adapter({
//     describe: { data_type: 'map', topology: 'client_server', rule: 'server_order', description: '...' },
//     server: (env) => { const s = new MyServer(env); return { onMessage: (from, m) => s.receive(from, m), ... }; },
//     client: (env) => { ... return { onOp, onMessage, onConnected, onDisconnected, state }; },
//   });
//
// See README.md beside this file for the whole contract and a worked example (example/).
//
// Everything a replica does must happen inside the handler syncstorm is running: the kit refuses a
// send, a timer or a report made after the handler returned (a promise or a real setTimeout left
// running), because it would belong to no moment of the simulated run and break replay by seed.

const protocol = require('./protocol');

/** Error thrown when replica code acts outside an event: names the action and the fix. */
function outsideEvent(what) {
  return new Error(`${what} called outside an event handler: the code kept running after syncstorm's ` +
    'handler returned (an unawaited promise or a real setTimeout?). Use env.setTimeout for later work.');
}

/** `tag` when it is a non-negative integer, as hold and release need; else a clear error. */
function checkedTag(what, tag) {
  if (!Number.isSafeInteger(tag) || tag < 0) throw new Error(`env.${what}(tag) needs a non-negative integer tag, got ${JSON.stringify(tag)}`);
  return tag;
}

/** A replica's view of the simulator: what the wrapped client or server code is given. */
class Env {
  constructor(event, rng) {
    /** This replica's node id (servers are 0..servers-1, clients follow). */
    this.node = event.node;
    /** 'client' or 'server'. */
    this.role = event.role;
    /** Node ids of every server and every client of the run. */
    this.servers = event.servers.slice();
    this.clients = event.clients.slice();
    this.out = null;
    this.rng = rng;
    this.timers = new Map();  // tag -> callback
    this.nextTag = 1;
    this.data = new Map();    // the durable store as this replica last wrote it: key -> JSON value
    // Methods are bound, so wrapped code may take them apart: `new Server({ send, setTimeout })`.
    for (const name of ['send', 'setTimeout', 'clearTimeout', 'now', 'random', 'applied', 'acknowledged', 'rejected', 'seen',
      'hold', 'release']) {
      this[name] = this[name].bind(this);
    }
    for (const [key, bytes] of protocol.storeOf(event)) this.data.set(key, JSON.parse(bytes.toString('utf8')));
    const env = this;
    /**
     * The replica's durable storage (IndexedDB on a client, a database on a server), JSON values.
     * It holds what survived the last crash when the replica starts. `flush()` makes every write
     * so far durable: a crash drops unflushed writes (unless the scenario sets lose_unflushed = false).
     */
    this.storage = {
      get(key) { return env.data.get(key); },
      has(key) { return env.data.has(key); },
      keys() { return [...env.data.keys()].sort(); },
      set(key, value) {
        env.actions('storage.set').put(key, Buffer.from(JSON.stringify(value), 'utf8'));
        env.data.set(key, value);
      },
      delete(key) {
        env.actions('storage.delete').erase(key);
        env.data.delete(key);
      },
      flush() { env.actions('storage.flush').flush(); },
    };
  }

  /** The actions of the event being handled; throws when there is none. */
  actions(what) {
    if (this.out === null) throw outsideEvent(what);
    return this.out;
  }

  /** Sends a JSON-serialisable message to node `to` (dropped silently if no connection is up). */
  send(to, message, options) { this.actions('send').send(to, Buffer.from(JSON.stringify(message), 'utf8'), options); }

  /**
   * Only inside onMessage: what this message carries waits in the replica for something it lacks
   * (an update whose dependencies have not arrived), so its user has not seen it. The checkers'
   * happens-before does not flow along it until release(tag) with the same integer `tag`
   * (PROTOCOL.md, "Held messages"). Hold only what your code really parks.
   */
  hold(tag) { this.actions('hold').hold(checkedTag('hold', tag)); }
  /** In any later handler: the messages held under `tag` are now part of what this replica shows. */
  release(tag) { this.actions('release').release(checkedTag('release', tag)); }

  /** Calls `callback` after `ms` milliseconds of this replica's virtual time; returns a handle. */
  setTimeout(callback, ms) {
    const tag = this.nextTag++;
    this.timers.set(tag, callback);
    this.actions('setTimeout').timer(Math.max(0, ms) * 1000, tag);
    return tag;
  }

  /** Cancels a timer set by setTimeout (the simulator's timer still fires, and is ignored). */
  clearTimeout(handle) { this.timers.delete(handle); }

  /** The replica's local clock in milliseconds (virtual, skewed as the scenario says). */
  now() { return Date.now(); }

  /** A float in [0, 1) from this replica's seeded stream (Math.random is the same stream). */
  random() { return this.rng.float(); }

  /** The user sees their edit `opId` take effect (usually at once, on the client). For a list
   *  remove or a text delete, `target` is what the user saw it take away (the item's value, the
   *  element): without it the checkers cannot tell a removed value coming back from a new one. */
  applied(opId, target) { this.actions('applied').report(opId, 'applied', target); }
  /** The user is told the server stored edit `opId`. */
  acknowledged(opId) { this.actions('acknowledged').report(opId, 'acknowledged'); }
  /** The user is told edit `opId` was refused (and it no longer shows). */
  rejected(opId) { this.actions('rejected').report(opId, 'rejected'); }
  /** Another user's edit `opId` became visible here (for latency figures; optional). */
  seen(opId) { this.actions('seen').report(opId, 'seen'); }
}

/** Canonical states, as PROTOCOL.md defines them: build one from your replica's view. */
const states = {
  /** A map from field key (number or decimal string) to the op id its value is. */
  map(fields) {
    const sorted = {};
    for (const key of Object.keys(fields).sort((a, b) => Number(a) - Number(b))) sorted[key] = fields[key];
    return { type: 'map', fields: sorted };
  },
  /** A list of [item id, op id] pairs, in list order. */
  list(items) { return { type: 'list', items: items.map(([item, op]) => [item, op]) }; },
  counter(value) { return { type: 'counter', counter: value }; },
  /** The op ids of the text's elements, in document order. */
  text(elements) { return { type: 'text', text: elements.slice() }; },
};

const HANDLERS = ['onOp', 'onMessage', 'onConnected', 'onDisconnected', 'state', 'metadataBytes'];

/**
 * Runs the adapter: `config.describe` is the model's description (PROTOCOL.md, the describe action),
 * `config.client(env)` and `config.server(env)` build one replica each and return its handlers:
 *   onOp(op)                  the user does something: op = {id, kind, key, amount, position_ppm}
 *   onMessage(from, message)  a message sent with env.send arrives (JSON, as sent)
 *   onConnected(peer, link)   a stream connection to `peer` came up (link 'stream'), or over
 *                             datagram links a client's link to its server (link 'datagram')
 *   onDisconnected(peer)      it reset; what was in flight on it is lost
 *   state()                   the replica's canonical state (see `states`), or null for a relay
 *   metadataBytes()           optional: bytes of sync metadata the replica keeps (for growth checks)
 * A server config may be left out: servers then relay nothing and show nothing.
 *
 * With `describe.protocol: 2` one process serves many runs in turn (much faster): say so only when
 * your modules keep nothing at module level, or clear it in `config.reset()`, called between runs.
 */
function adapter(config) {
  if (!config || !config.describe || typeof config.client !== 'function') {
    throw new Error('adapter(config) needs config.describe and a config.client(env) function');
  }
  const build = (role, env) => {
    const factory = role === 'server' ? config.server : config.client;
    const handlers = factory ? factory(env) : { state: () => null };
    if (!handlers || typeof handlers.state !== 'function') {
      throw new Error(`the ${role} factory must return an object with a state() function`);
    }
    for (const key of Object.keys(handlers)) {
      if (!HANDLERS.includes(key)) throw new Error(`the ${role} factory returned an unknown handler '${key}' (known: ${HANDLERS.join(', ')})`);
    }
    return handlers;
  };

  class Replica {
    constructor(event, rng) {
      this.env = new Env(event, rng);
      this.env.out = null;
      this.handlers = null;
      this.role = event.role;
    }
    /** Runs `body` with the event's actions open to the replica's env, closed again after. */
    within(out, body) {
      this.env.out = out;
      try { body(); } finally { this.env.out = null; }
    }
    start(event, out) { this.within(out, () => { this.handlers = build(this.role, this.env); }); }
    op(event, out) { this.within(out, () => this.handlers.onOp && this.handlers.onOp(event.op)); }
    message(event, out) {
      const message = JSON.parse(Buffer.from(event.data, 'base64').toString('utf8'));
      this.within(out, () => this.handlers.onMessage && this.handlers.onMessage(event.from, message));
    }
    connected(event, out) {
      const link = event.link === 'datagram' ? 'datagram' : 'stream';
      this.within(out, () => this.handlers.onConnected && this.handlers.onConnected(event.peer, link));
    }
    disconnected(event, out) { this.within(out, () => this.handlers.onDisconnected && this.handlers.onDisconnected(event.peer)); }
    timer(event, out) {
      const callback = this.env.timers.get(event.tag);
      if (!callback) return;  // cleared
      this.env.timers.delete(event.tag);
      this.within(out, callback);
    }
    state(event) {
      const wanted = !event || event.metadata !== false;
      const metadata = wanted && this.handlers.metadataBytes ? this.handlers.metadataBytes() : 0;
      return { state: this.handlers.state(), metadata_bytes: metadata };
    }
  }

  protocol.serve(config.describe, (event, rng) => new Replica(event, rng), { reset: config.reset });
}

module.exports = { adapter, states, Env };
