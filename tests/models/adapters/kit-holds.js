'use strict';
// For tests/models/adapter_kit_test.cpp: the kit's env.hold and env.release. A map whose server
// parks every write it receives for 100 ms before applying it (declared with env.hold, released
// with env.release when it applies it) and then sends its fields to every client. Clients show
// the server's fields only and report nothing. With --hold-in-timer the server holds inside a
// timer, which the simulator refuses (a hold answers a message); with --bad-tag it holds under a
// tag that is not an integer, which the kit refuses.
const { adapter, states } = require('../../../models/adapters/lib/kit');

const holdInTimer = process.argv.includes('--hold-in-timer');
const badTag = process.argv.includes('--bad-tag');

adapter({
  describe: {
    data_type: 'map', topology: 'client_server', rule: 'server_order', protocol: 2,
    description: 'test: a server that parks each write 100 ms, declared with env.hold',
  },
  server(env) {
    const fields = {};
    let nextTag = 1;
    const clients = new Set();
    const broadcast = () => { for (const c of clients) env.send(c, fields); };
    return {
      onConnected: (client) => { clients.add(client); env.send(client, fields); },
      onDisconnected: (client) => clients.delete(client),
      onMessage: (from, op) => {
        const tag = badTag ? 'one' : nextTag++;
        if (!holdInTimer) env.hold(tag);
        env.setTimeout(() => {
          if (holdInTimer) env.hold(tag);
          fields[op.key] = op.id;
          env.release(tag);
          broadcast();
        }, 100);
      },
      state: () => null,
    };
  },
  client(env) {
    let server = null;
    let shown = {};
    return {
      onOp: (op) => { if (server !== null) env.send(server, { key: op.key, id: op.id }); },
      onConnected: (peer) => { server = peer; },
      onDisconnected: () => { server = null; },
      onMessage: (from, fields) => { shown = fields; },
      state: () => states.map(shown),
    };
  },
});
