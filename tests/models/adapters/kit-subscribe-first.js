'use strict';
// A server-ordered map whose server pushes every write to a connection at once but sends the
// snapshot only when the client asks, half a second after (a live query opened before the initial
// load): a client back from a disconnection shows a push beside older values than its writer had
// read. It promises writes follow reads in its describe answer, so the check must catch it; with
// --no-promise it promises nothing and the check must leave it alone. A sketch, not a model: on
// partition-heal it breaks writes follow reads alone, elsewhere more.
const { adapter, states } = require('../../../models/adapters/lib/kit');

const promise = !process.argv.includes('--no-promise');
// --in-order: it also promises its users' writes are seen in order across keys, which the same late
// snapshot breaks (a pushed write shows beside fields its writer had set before the disconnection).
const inOrder = process.argv.includes('--in-order');

adapter({
  describe: {
    data_type: 'map', topology: 'client_server', rule: 'server_order', protocol: 2,
    description: 'a map whose server pushes before the client has its snapshot (test adapter)',
    ...(promise ? { writes_follow_reads: 'promised' } : {}),
    ...(inOrder ? { writes_in_order: 'promised' } : {}),
  },
  server(env) {
    const fields = {};  // key -> {value, writer}
    const connected = new Set();
    return {
      onConnected: (client) => connected.add(client),
      onDisconnected: (client) => connected.delete(client),
      onMessage: (client, m) => {
        if (m.type === 'fetch') {
          env.setTimeout(() => {
            if (connected.has(client)) env.send(client, { type: 'snapshot', fields: { ...fields } });
          }, 500);
          return;
        }
        if (!fields[m.key] || fields[m.key].value !== m.value) fields[m.key] = { value: m.value, writer: client };
        env.send(client, { type: 'ack', value: m.value });
        for (const other of [...connected].sort((a, b) => a - b)) {
          if (other !== client) env.send(other, { type: 'update', key: m.key, value: m.value, writer: client });
        }
      },
      state: () => null,
    };
  },
  client(env) {
    const server = {};   // key -> value, as the server last said
    const pending = [];  // {key, value}, oldest first: shown on top until acknowledged
    let home = null;
    const take = (key, value, writer) => {
      server[key] = value;
      if (writer !== env.node) env.seen(value);
    };
    const view = () => {
      const shown = { ...server };
      for (const p of pending) shown[p.key] = p.value;
      return shown;
    };
    return {
      onOp: (op) => {
        pending.push({ key: op.key, value: op.id });
        env.applied(op.id);
        if (home !== null) env.send(home, { type: 'edit', key: op.key, value: op.id });
      },
      onConnected: (peer) => {
        home = peer;
        env.send(peer, { type: 'fetch' });
        for (const p of pending) env.send(peer, { type: 'edit', key: p.key, value: p.value });
      },
      onDisconnected: () => { home = null; },
      onMessage: (from, m) => {
        if (m.type === 'update') take(m.key, m.value, m.writer);
        if (m.type === 'snapshot') for (const [key, f] of Object.entries(m.fields)) take(Number(key), f.value, f.writer);
        if (m.type === 'ack') {
          const at = pending.findIndex((p) => p.value === m.value);
          if (at >= 0) {
            server[pending[at].key] = m.value;
            pending.splice(at, 1);
          }
          env.acknowledged(m.value);
        }
      },
      state: () => states.map(view()),
    };
  },
});
