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
// Libraries that ask the platform for random bytes (uuids, client ids) get the replica's stream too.
const fillRandom = (array) => {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  for (let i = 0; i < bytes.length; i++) bytes[i] = currentRng.u32() & 0xff;
  return array;
};
try { require('crypto').webcrypto.getRandomValues = fillRandom; } catch (e) { /* not available */ }
try { if (globalThis.crypto) globalThis.crypto.getRandomValues = fillRandom; } catch (e) { /* read-only */ }

// ----------------------------------------------------------------------------------------------
// Actions: what a replica does in answer to one event.

const DONE = JSON.stringify({ a: 'done' });

class Actions {
  constructor() { this.lines = []; }
  push(action) { this.lines.push(JSON.stringify(action)); }
  /** Sends bytes (a Uint8Array or Buffer) to node `to`. */
  send(to, bytes) { this.push({ a: 'send', to, data: Buffer.from(bytes).toString('base64') }); }
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
// The loop.

/**
 * Runs the adapter. `describe` is the describe action's fields; `makeReplica(event)` returns an
 * object with optional methods start, op, message, timer, connected, disconnected (each taking
 * the event and an Actions) and state(event) returning { state, metadata_bytes }.
 *
 * Protocol version 2 (PROTOCOL.md): an adapter whose `describe` has `protocol: 2` tells syncstorm
 * that one process may serve many runs in turn. Between two runs syncstorm sends `reset`: this loop
 * then drops every replica and puts the clock and the random stream back as they were at load time,
 * and calls `options.reset()`, where an adapter clears whatever else it keeps outside its replicas
 * (a module-level cache, a counter): after a reset the process must behave exactly as a new one.
 * A `state` event of version 2 says whether it wants the metadata size (`event.metadata`); a
 * replica whose size is costly to measure may skip it when that is false. A `states` event asks
 * for the states of several replicas at once: this loop calls each one's state() in turn.
 */
function serve(describe, makeReplica, options = {}) {
  const replicas = new Map();  // node id -> { replica, rng }

  function handle(event, out) {
    if (event.ev === 'describe') { out.push(Object.assign({ a: 'describe' }, describe)); return; }
    if (event.ev === 'reset') {
      replicas.clear();
      virtualUs = 0;
      currentRng = new Rng('1');
      if (options.reset) options.reset();
      return;
    }
    if (event.ev === 'states') {
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
      return;
    }
    virtualUs = event.time || 0;
    if (event.ev === 'start') {
      const rng = new Rng(event.seed);
      currentRng = rng;
      const replica = makeReplica(event, rng);
      replicas.set(event.node, { replica, rng });
      if (replica.start) replica.start(event, out);
      return;
    }
    const entry = replicas.get(event.node);
    if (event.ev === 'stop') { replicas.delete(event.node); return; }
    if (!entry) throw new Error(`event ${event.ev} for replica ${event.node}, which was never started`);
    currentRng = entry.rng;
    if (event.ev === 'state') {
      const answer = entry.replica.state(event);
      if (event.metadata === false) out.push({ a: 'state', state: answer.state });
      else out.push({ a: 'state', state: answer.state, metadata_bytes: answer.metadata_bytes || 0 });
      return;
    }
    const method = entry.replica[event.ev];
    if (typeof method === 'function') method.call(entry.replica, event, out);
  }

  function answer(line) {
    const out = new Actions();
    try {
      handle(JSON.parse(line), out);
    } catch (error) {
      // The library under test threw: a finding for the simulator to report, not a silent death.
      out.lines.length = 0;
      out.push({ a: 'error', message: String(error && error.stack ? error.stack : error) });
    }
    out.lines.push(DONE);
    process.stdout.write(out.lines.join('\n') + '\n');
  }

  // Lines are split by hand rather than by readline, whose per-line machinery costs more than the
  // rest of a cheap event. Events arrive one at a time (lockstep), but a read may still hold part of
  // a line, or (after a stop, whose answer the simulator need not wait for) more than one.
  let partial = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    let start = 0;
    let newline = chunk.indexOf('\n');
    if (newline < 0) { partial += chunk; return; }
    if (partial.length > 0) {
      answer(partial + chunk.slice(0, newline));
      partial = '';
      start = newline + 1;
      newline = chunk.indexOf('\n', start);
    }
    while (newline >= 0) {
      answer(chunk.slice(start, newline));
      start = newline + 1;
      newline = chunk.indexOf('\n', start);
    }
    partial = chunk.slice(start);
  });
  process.stdin.on('end', () => process.exit(0));
}

module.exports = { serve, Actions, Rng, storeOf, reportSeen };
