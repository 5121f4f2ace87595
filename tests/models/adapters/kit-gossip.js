'use strict';
// For tests/models/adapter_kit_test.cpp: an adapter that declares both deployments beyond one server
// over streams (`datagram_links`, `multi_server`). A state-based last-writer-wins map: every field
// carries a Lamport stamp [time, node]; a merge keeps the higher stamp per field, so a state may
// arrive lost, twice or late and nothing breaks. A client sends its whole map to its server every
// 300 ms and when its link comes up; the server merges, makes it durable and answers with its own
// map, which acknowledges every write whose stamp it holds or beats. Servers send their maps to
// one another every 300 ms. Everything is flushed before anyone hears of it.
//
// With --no-gossip the servers never talk to one another: still declared correct and multi-server,
// so a two-server scenario must find its clients apart.
const { adapter, states } = require('../../../models/adapters/lib/kit');

const gossip = !process.argv.includes('--no-gossip');
const PERIOD_MS = 300;

/** Whether stamp `a` ([time, node]) is newer than `b`. */
function newer(a, b) { return a[0] !== b[0] ? a[0] > b[0] : a[1] > b[1]; }

/** A replica's map and Lamport clock, kept in durable storage under 'map'. */
class StampedMap {
  constructor(env) {
    this.env = env;
    const saved = env.storage.get('map') || { fields: {}, clock: 0 };
    this.fields = saved.fields;  // key -> { value, stamp }
    this.clock = saved.clock;
  }
  set(key, value) {
    this.clock += 1;
    this.fields[key] = { value, stamp: [this.clock, this.env.node] };
    this.save();
    return this.fields[key].stamp;
  }
  merge(fields) {
    for (const [key, field] of Object.entries(fields)) {
      this.clock = Math.max(this.clock, field.stamp[0]);
      const mine = this.fields[key];
      if (mine === undefined || newer(field.stamp, mine.stamp)) this.fields[key] = field;
    }
    this.save();
  }
  save() {
    this.env.storage.set('map', { fields: this.fields, clock: this.clock });
    this.env.storage.flush();
  }
  view() {
    const out = {};
    for (const [key, field] of Object.entries(this.fields)) out[key] = field.value;
    return out;
  }
}

adapter({
  describe: {
    data_type: 'map', topology: 'client_server', rule: 'last_writer_wins', protocol: 2,
    datagram_links: true, multi_server: true,
    description: 'test: a state-based LWW map pushed whole, for datagram links and several servers',
  },
  server(env) {
    const map = new StampedMap(env);
    const tick = () => {
      if (gossip) for (const peer of env.servers) if (peer !== env.node) env.send(peer, { fields: map.fields });
      env.setTimeout(tick, PERIOD_MS);
    };
    env.setTimeout(tick, PERIOD_MS);
    return {
      onMessage: (from, message) => {
        map.merge(message.fields);
        if (!env.servers.includes(from)) env.send(from, { fields: map.fields });
      },
      state: () => null,
    };
  },
  client(env) {
    const map = new StampedMap(env);
    const pending = env.storage.get('pending') || [];  // [op id, key, stamp] not yet acknowledged
    let server = null;
    const push = () => { if (server !== null) env.send(server, { fields: map.fields }); };
    const tick = () => { push(); env.setTimeout(tick, PERIOD_MS); };
    env.setTimeout(tick, PERIOD_MS);
    const savePending = () => { env.storage.set('pending', pending); env.storage.flush(); };
    return {
      onOp: (op) => {
        const stamp = map.set(op.key, op.id);
        pending.push([op.id, op.key, stamp]);
        savePending();
        env.applied(op.id);
        push();
      },
      onConnected: (peer, link) => {
        // The kit says which link came up ('datagram' on datagram-relay); anything else is its bug.
        if (link !== 'stream' && link !== 'datagram') throw new Error(`onConnected: link ${link}`);
        server = peer;
        push();
      },
      onDisconnected: () => { server = null; },
      onMessage: (from, message) => {
        map.merge(message.fields);
        const stored = pending.filter(([, key, stamp]) => {
          const held = message.fields[key];
          return held !== undefined && !newer(stamp, held.stamp);
        });
        if (stored.length === 0) return;
        for (const entry of stored) pending.splice(pending.indexOf(entry), 1);
        savePending();
        for (const [id] of stored) env.acknowledged(id);
      },
      state: () => states.map(map.view()),
    };
  },
});
