'use strict';
// The syncstorm adapter protocol for Node.js (see ../PROTOCOL.md): a lockstep loop over stdin and
// stdout, one process hosting many replicas, and the virtual clock and seeded randomness every
// replica must use instead of the real ones.
//
// Require this file BEFORE the library under test: it replaces Date (Date.now and new Date()),
// performance.now, Math.random and crypto.getRandomValues, so code that reads them at load time
// already sees the simulator's values. process.hrtime cannot be replaced safely (Node.js itself
// uses it): an adapter must not let its library read it.

// ----------------------------------------------------------------------------------------------
// Virtual time: the local clock (microseconds) of the replica handling the current event.

let virtualUs = 0;
const RealDate = Date;
/** `new Date()` and `Date.now()` read the virtual clock; `new Date(x)` is unchanged. */
class VirtualDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(Math.floor(virtualUs / 1000));
    else super(...args);
  }
  static now() { return Math.floor(virtualUs / 1000); }
}
globalThis.Date = VirtualDate;
if (globalThis.performance) globalThis.performance.now = () => virtualUs / 1000;

// ----------------------------------------------------------------------------------------------
// Seeded randomness: each replica has its own stream, derived from the seed of its start event.

/** sfc32, seeded from a decimal u64 string: small, fast and identical on every platform. */
class Rng {
  constructor(seedText) {
    let s = BigInt.asUintN(64, BigInt(seedText));
    const lo = Number(s & 0xffffffffn) >>> 0;
    const hi = Number(s >> 32n) >>> 0;
    this.a = lo; this.b = hi; this.c = (lo ^ 0x9e3779b9) >>> 0; this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
  }
  u32() {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t >>> 0;
  }
  /** A float in [0, 1), as Math.random returns. */
  float() { return this.u32() / 4294967296; }
}

let currentRng = new Rng('1');
Math.random = () => currentRng.float();
// Libraries that ask the platform for random bytes (uuids, client ids, actor ids) get the replica's
// stream too: getRandomValues, and the two calls of Node's crypto module the uuid package uses.
const fillRandom = (array) => {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  for (let i = 0; i < bytes.length; i++) bytes[i] = currentRng.u32() & 0xff;
  return array;
};
try { require('crypto').webcrypto.getRandomValues = fillRandom; } catch (e) { /* not available */ }
try { if (globalThis.crypto) globalThis.crypto.getRandomValues = fillRandom; } catch (e) { /* read-only */ }
try {
  const nodeCrypto = require('crypto');
  nodeCrypto.randomFillSync = (array, offset, size) => {
    const start = offset || 0;
    const length = size === undefined ? array.byteLength - start : size;
    fillRandom(new Uint8Array(array.buffer, array.byteOffset + start, length));
    return array;
  };
  nodeCrypto.randomUUID = () => {
    const b = fillRandom(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;  // version 4
    b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
    const hex = Buffer.from(b).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
} catch (e) { /* not available */ }

/** The virtual clock, for adapters that must read or set it outside the loop (a library's genesis
 *  document made at time 0, say). Microseconds of the current replica's local clock. */
const clock = {
  now() { return virtualUs; },
  set(us) { virtualUs = us; },
};

/** The random stream Math.random and the crypto replacements read: the current replica's. */
const random = {
  current() { return currentRng; },
  use(rng) { currentRng = rng; },
  /** Fills a typed array from the current stream, as crypto.getRandomValues does. */
  fill: fillRandom,
};

// ----------------------------------------------------------------------------------------------
// Actions: what a replica does in answer to one event.

const DONE = JSON.stringify({ a: 'done' });

class Actions {
  constructor() { this.lines = []; }
  push(action) { this.lines.push(JSON.stringify(action)); }
  /**
   * Sends bytes (a Uint8Array or Buffer) to node `to`. `{ control: true }` declares that they carry
   * no write (a handshake, a state-vector request, presence): the checkers' happens-before does not
   * flow along them. `{ ownWritesThrough: opId }` declares that of the sender's own writes they carry
   * that op and those before it only; `{ lacksOwnWrites: [opId, ...] }` that they lack those of the
   * sender's own writes, whatever newer ones they carry (PROTOCOL.md, "Control messages and
   * happens-before").
   */
  send(to, bytes, options) {
    const action = { a: 'send', to, data: Buffer.from(bytes).toString('base64') };
    if (options && options.control) action.control = true;
    else if (options && options.ownWritesThrough) action.own_writes_through = options.ownWritesThrough;
    else if (options && options.lacksOwnWrites && options.lacksOwnWrites.length > 0) {
      action.lacks_own_writes = options.lacksOwnWrites;
    }
    this.push(action);
  }
  /** Calls the replica's timer(tag) after `delayUs` microseconds of virtual time. */
  timer(delayUs, tag) { this.push({ a: 'timer', delay: Math.max(0, Math.floor(delayUs)), tag }); }
  /** Tells the simulator what the user saw: applied, acknowledged, rejected or seen. */
  report(op, lifecycle, target) {
    const action = { a: 'report', op, lifecycle };
    if (target) action.target = target;
    this.push(action);
  }
  put(key, bytes) { this.push({ a: 'put', key, value: Buffer.from(bytes).toString('base64') }); }
  erase(key) { this.push({ a: 'erase', key }); }
  flush() { this.push({ a: 'flush' }); }
  /**
   * Only in answer to a message event: what the message carries waits here for something this
   * replica lacks (an update whose dependencies have not arrived), so its user has not seen it; the
   * checkers' happens-before does not flow along it until release(tag) with the same integer `tag`
   * (PROTOCOL.md, "Held messages").
   */
  hold(tag) { this.push({ a: 'hold', tag }); }
  /** What this replica held under `tag` is now part of its state: it orders what it does next. */
  release(tag) { this.push({ a: 'release', tag }); }
}

// ----------------------------------------------------------------------------------------------
// Replica helpers.

/** The replica's store as a Map of key -> Buffer, from a start event. */
function storeOf(event) {
  const out = new Map();
  for (const [key, value] of Object.entries(event.store || {})) out.set(key, Buffer.from(value, 'base64'));
  return out;
}

/** Reports `seen` for every op id visible now that was not visible before. */
function reportSeen(out, before, after, own) {
  for (const id of after) if (!before.has(id) && !own.has(id)) out.report(id, 'seen');
}

// ----------------------------------------------------------------------------------------------
// The event being handled, and failures raised by work a library deferred.

/** { node, replica, out } of the event being handled (its deferred work included), else null. */
let active = null;
/** The first error a library raised in deferred work during the current event. */
let deferredFailure = null;

/** The replica handling the current event and the Actions of its answer, or null between events:
 *  a library callback that runs later (a promise, a nextTick, a virtual timer) writes there. */
function current() { return active; }

/** Records an error a library raised in deferred work (where nothing can catch it): the current
 *  event is answered with an `error` action instead of its actions. */
function fail(error) { if (!deferredFailure) deferredFailure = error || new Error('unknown failure'); }

// ----------------------------------------------------------------------------------------------
// Virtual timers: a library's setTimeout and setInterval as `timer` actions of its replica.

const realSetImmediate = globalThis.setImmediate;
let timersVirtual = false;

/** What setTimeout returns once timers are virtual: the tag of a timer of one replica. */
class VirtualTimeout {
  constructor(entry, tag) { this.entry = entry; this.tag = tag; }
  ref() { return this; }
  unref() { return this; }
  hasRef() { return true; }
  refresh() { return this; }
  [Symbol.toPrimitive]() { return this.tag; }
}

function armTimer(callback, delayMs, args, repeat) {
  if (active === null || !active.entry) throw new Error('a library timer was set outside of any replica event');
  const entry = active.entry;
  const tag = entry.nextTimerTag++;
  const delayUs = Math.max(0, Math.floor(Number(delayMs) || 0)) * 1000;
  entry.timers.set(tag, { callback, args, delayUs, repeat });
  active.out.timer(delayUs, tag);
  return new VirtualTimeout(entry, tag);
}

function clearTimer(handle) {
  if (handle instanceof VirtualTimeout) handle.entry.timers.delete(handle.tag);
}

/**
 * Replaces setTimeout, setInterval and their clear functions for good: a timer becomes a `timer`
 * action of the replica whose event set it, and its callback runs (with that replica's clock and
 * random stream) when syncstorm fires its tag; serve then handles `timer` events itself. A timer
 * set between events is an error, and so is setImmediate, which the asynchronous loop keeps for
 * itself: with no library work waiting in a macrotask, one turn of the event loop finds the
 * replicas at rest. Call it before the library loads, so the library holds no real timer function.
 */
function virtualiseTimers() {
  timersVirtual = true;
  globalThis.setTimeout = (callback, delayMs, ...args) => armTimer(callback, delayMs, args, false);
  globalThis.setInterval = (callback, delayMs, ...args) => armTimer(callback, delayMs, args, true);
  globalThis.clearTimeout = clearTimer;
  globalThis.clearInterval = clearTimer;
  globalThis.setImmediate = () => {
    throw new Error('setImmediate is not virtualised: a library deferred work past the event barrier');
  };
}

/** Fires a virtual timer of `entry`; an interval keeps its tag, so the library's handle still clears it. */
function fireTimer(entry, tag, out) {
  const timer = entry.timers.get(tag);
  if (!timer) return;  // cleared since
  if (timer.repeat) out.timer(timer.delayUs, tag);
  else entry.timers.delete(tag);
  timer.callback(...timer.args);
}

// ----------------------------------------------------------------------------------------------
// The loop.

/** Events that reach a replica's own code and may leave work behind (not state, stop, ...). */
const WORKING_EVENTS = new Set(['start', 'op', 'message', 'timer', 'connected', 'disconnected']);

/** One turn of Node's event loop: every nextTick and promise job queued before it has run. */
const turn = () => new Promise((resolve) => realSetImmediate(resolve));

/** Lets deferred work run until two turns in a row add no action (Node's streams, for one, hop
 *  through several ticks). Limited, so a library that reschedules itself for ever is reported. */
async function drain(out) {
  const TURNS_MAX = 10000;
  let idle = 0;
  for (let turns = 0; idle < 2; turns++) {
    if (turns === TURNS_MAX) throw new Error(`deferred work still running after ${TURNS_MAX} turns of the event loop`);
    const before = out.lines.length;
    await turn();
    idle = out.lines.length === before ? idle + 1 : 0;
  }
}

/**
 * Runs the adapter. `describe` is the describe action's fields; `makeReplica(event, rng)` returns
 * an object with optional methods start, op, message, timer, connected, disconnected (each taking
 * the event and an Actions), stop() and state(event) returning { state, metadata_bytes }.
 *
 * Protocol version 2 (PROTOCOL.md): an adapter whose `describe` has `protocol: 2` tells syncstorm
 * that one process may serve many runs in turn. Between two runs syncstorm sends `reset`: this loop
 * then drops every replica (and its virtual timers) and puts the clock and the random stream back as
 * they were at load time, and calls `options.reset()`, where an adapter clears whatever else it keeps
 * outside its replicas (a module-level cache, a counter): after a reset the process must behave
 * exactly as a new one.
 * A `state` event of version 2 says whether it wants the metadata size (`event.metadata`); a
 * replica whose size is costly to measure may skip it when that is false. A `states` event asks
 * for the states of several replicas at once: this loop calls each one's state() in turn.
 *
 * `options.async: true` is for libraries that defer their work (promises, process.nextTick,
 * streams). After a replica's handler returns, the loop lets Node.js run until that work is done
 * (`drain`), then calls the replica's optional settle(event, out) (what the user now sees, once the
 * library is at rest), drains again and only then writes the end marker; events are handled
 * strictly one after another. Deferred code finds its replica and Actions with current(), and
 * reports an exception with fail(error). Libraries that also use timers call virtualiseTimers()
 * before they load.
 */
function serve(describe, makeReplica, options = {}) {
  const replicas = new Map();  // node id -> { replica, rng, timers, nextTimerTag }

  function dropEntry(entry) {
    entry.timers.clear();
    if (entry.replica.stop) entry.replica.stop();
  }

  function answerStates(event, out) {
    for (let i = 0; i < event.nodes.length; i++) {
      const node = event.nodes[i];
      const time = event.times[i];
      const one = { ev: 'state', node, time, metadata: event.metadata };
      virtualUs = time;
      const entry = replicas.get(node);
      if (!entry) throw new Error(`event states for replica ${node}, which was never started`);
      currentRng = entry.rng;
      const answer = entry.replica.state(one);
      if (event.metadata === false) out.push({ a: 'state', node, state: answer.state });
      else out.push({ a: 'state', node, state: answer.state, metadata_bytes: answer.metadata_bytes || 0 });
    }
  }

  /** Handles the synchronous part of an event; returns the entry whose code ran, if any. */
  function handle(event, out) {
    if (event.ev === 'describe') { out.push(Object.assign({ a: 'describe' }, describe)); return null; }
    if (event.ev === 'reset') {
      for (const entry of replicas.values()) dropEntry(entry);
      replicas.clear();
      virtualUs = 0;
      currentRng = new Rng('1');
      if (options.reset) options.reset();
      return null;
    }
    if (event.ev === 'states') { answerStates(event, out); return null; }
    virtualUs = event.time || 0;
    if (event.ev === 'start') {
      const before = replicas.get(event.node);
      if (before) dropEntry(before);
      const rng = new Rng(event.seed);
      currentRng = rng;
      const entry = { replica: null, rng, timers: new Map(), nextTimerTag: 1 };
      active = { node: event.node, replica: null, out, entry };
      entry.replica = makeReplica(event, rng);
      active.replica = entry.replica;
      replicas.set(event.node, entry);
      if (entry.replica.start) entry.replica.start(event, out);
      return entry;
    }
    const entry = replicas.get(event.node);
    if (event.ev === 'stop') {
      if (entry) dropEntry(entry);
      replicas.delete(event.node);
      return null;
    }
    if (!entry) throw new Error(`event ${event.ev} for replica ${event.node}, which was never started`);
    currentRng = entry.rng;
    if (event.ev === 'state') {
      const answer = entry.replica.state(event);
      if (event.metadata === false) out.push({ a: 'state', state: answer.state });
      else out.push({ a: 'state', state: answer.state, metadata_bytes: answer.metadata_bytes || 0 });
      return null;
    }
    active = { node: event.node, replica: entry.replica, out, entry };
    if (event.ev === 'timer' && timersVirtual) { fireTimer(entry, event.tag, out); return entry; }
    const method = entry.replica[event.ev];
    if (typeof method === 'function') method.call(entry.replica, event, out);
    return entry;
  }

  function write(out, error) {
    if (error) {
      // The library under test threw: a finding for the simulator to report, not a silent death.
      out.lines.length = 0;
      out.push({ a: 'error', message: String(error && error.stack ? error.stack : error) });
    }
    out.lines.push(DONE);
    process.stdout.write(out.lines.join('\n') + '\n');
  }

  function answer(line) {
    const out = new Actions();
    let error = null;
    try {
      handle(JSON.parse(line), out);
    } catch (thrown) {
      error = thrown;
    }
    active = null;
    write(out, error);
  }

  async function answerAfterDrain(line) {
    const out = new Actions();
    let error = null;
    deferredFailure = null;
    try {
      const event = JSON.parse(line);
      const entry = handle(event, out);
      if (entry && WORKING_EVENTS.has(event.ev)) {
        await drain(out);
        if (deferredFailure) throw deferredFailure;
        if (entry.replica.settle) {
          entry.replica.settle(event, out);
          await drain(out);
          if (deferredFailure) throw deferredFailure;
        }
      }
    } catch (thrown) {
      error = thrown;
    }
    active = null;
    write(out, error);
  }

  // Lines are split by hand rather than by readline, whose per-line machinery costs more than the
  // rest of a cheap event. Events arrive one at a time (lockstep), but a read may still hold part of
  // a line, or (after a stop, whose answer the simulator need not wait for) more than one. The
  // asynchronous loop queues them, so each event's deferred work ends before the next one starts.
  if (options.ready && !options.async) throw new Error('serve: options.ready needs options.async');
  // `ready`: what the adapter loads asynchronously (an ES module) before it can answer anything.
  let queue = options.async ? Promise.resolve(options.ready).catch((error) => {
    process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
    process.exit(3);
  }) : null;
  const take = options.async ? (line) => { queue = queue.then(() => answerAfterDrain(line)); } : answer;
  let partial = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    let start = 0;
    let newline = chunk.indexOf('\n');
    if (newline < 0) { partial += chunk; return; }
    if (partial.length > 0) {
      take(partial + chunk.slice(0, newline));
      partial = '';
      start = newline + 1;
      newline = chunk.indexOf('\n', start);
    }
    while (newline >= 0) {
      take(chunk.slice(start, newline));
      start = newline + 1;
      newline = chunk.indexOf('\n', start);
    }
    partial = chunk.slice(start);
  });
  process.stdin.on('end', () => {
    if (queue === null) process.exit(0);
    queue.then(() => process.exit(0));
  });
}

module.exports = {
  serve, Actions, Rng, storeOf, reportSeen, clock, random, current, fail, virtualiseTimers,
};
