'use strict';
// For tests/bench/external_bench.cpp: every replica keeps one timer pending; each firing sets the
// next one. The cheapest possible adapter, so the benchmark measures the protocol round trip.
const protocol = require('../../../models/adapters/lib/protocol');

class Hold {
  constructor(rng) { this.rng = rng; }
  start(event, out) { out.timer(this.delay(), 0); }
  timer(event, out) { out.timer(this.delay(), 0); }
  delay() { return 1 + (this.rng.u32() % 200000); }
  state() { return { state: null }; }
}

protocol.serve(
  { description: 'benchmark: timers only', data_type: 'map', topology: 'client_server', rule: 'last_writer_wins' },
  (event, rng) => new Hold(rng),
);
