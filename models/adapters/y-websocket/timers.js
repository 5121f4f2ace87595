'use strict';
// The packages' timers as syncstorm timers. y-websocket's provider arms a reconnect backoff and a
// watchdog, y-protocols' Awareness renews and expires states every few seconds, and the server
// pings every connection: each is a `timer` action of the replica that armed it, fired by a
// `timer` event, so virtual time alone decides when they run.
//
// The globals are replaced only while a replica handles an event (`within`); outside one (Node.js's
// own stream machinery) the real functions answer. A timer's handle names its replica, so clearing
// it from another replica's event (a restarted server destroying the crashed one's document) works.

const real = {
  setTimeout: globalThis.setTimeout,
  setInterval: globalThis.setInterval,
  clearTimeout: globalThis.clearTimeout,
  clearInterval: globalThis.clearInterval,
};

let active = null;  // the replica handling the current event

/** A timer handle, as setTimeout returns one. */
class Handle {
  constructor(owner, tag) { this.owner = owner; this.tag = tag; }
  ref() { return this; }
  unref() { return this; }
  hasRef() { return true; }
  [Symbol.toPrimitive]() { return this.tag; }
}

/** One replica's armed timers, by tag; tags are never reused, so a stale firing finds nothing. */
class Timers {
  constructor(replica) {
    this.replica = replica;
    this.armed = new Map();  // tag -> { fn, args, period_ms (null for a one-shot) }
    this.nextTag = 1;
  }

  arm(fn, ms, args, repeat) {
    const tag = this.nextTag++;
    const delay_ms = Math.max(0, Number(ms) || 0);
    this.armed.set(tag, { fn, args, period_ms: repeat ? Math.max(1, delay_ms) : null });
    this.replica.out.timer(delay_ms * 1000, tag);
    return new Handle(this.replica, tag);
  }

  clear(tag) { this.armed.delete(tag); }

  fire(tag) {
    const timer = this.armed.get(tag);
    if (!timer || this.replica.dead) return;
    if (timer.period_ms === null) this.armed.delete(tag);
    else this.replica.out.timer(timer.period_ms * 1000, tag);
    timer.fn(...timer.args);
  }
}

function clear(handle) {
  if (handle instanceof Handle) handle.owner.timers.clear(handle.tag);
  else if (handle !== undefined && handle !== null) real.clearTimeout(handle);
}

globalThis.setTimeout = (fn, ms, ...args) => (active ? active.timers.arm(fn, ms, args, false) : real.setTimeout(fn, ms, ...args));
globalThis.setInterval = (fn, ms, ...args) => (active ? active.timers.arm(fn, ms, args, true) : real.setInterval(fn, ms, ...args));
globalThis.clearTimeout = clear;
globalThis.clearInterval = clear;

/** Runs `work` with `replica`'s timers in place of the real ones. */
function within(replica, work) {
  const before = active;
  active = replica;
  try {
    return work();
  } finally {
    active = before;
  }
}

module.exports = { Timers, within };
