'use strict';
// "notes" (notes-client.js, notes-server.js) as a syncstorm model: the whole wrapper.
// Run: syncstorm check server-crash -m "external:node models/adapters/lib/example/adapter.js"
// With --flush-later the server acknowledges before its write is durable (a deliberate bug).
const { adapter, states } = require('../kit');
const { NotesClient } = require('./notes-client');
const { NotesServer } = require('./notes-server');

const flushLater = process.argv.includes('--flush-later');

adapter({
  describe: {
    data_type: 'map', topology: 'client_server', rule: 'server_order',
    protocol: 2,  // the notes modules keep nothing at module level: one process may serve many runs
    description: 'notes: an outbox client and an ordering server, wrapped with the adapter kit',
    breaks: flushLater ? 'monotonic-reads' : undefined,
  },
  server(env) {
    const server = new NotesServer(env, { flushLater });
    return {
      onConnected: (client) => server.connect(client),
      onDisconnected: (client) => server.disconnect(client),
      onMessage: (client, message) => server.receive(client, message),
      state: () => null,  // the server shows users nothing of its own
    };
  },
  client(env) {
    let server = null;
    const client = new NotesClient({
      storage: env.storage,
      send: (message) => server !== null && env.send(server, message),
      onConfirmed: (edit) => env.acknowledged(edit.value),
    });
    return {
      onOp: (op) => { client.set(op.key, op.id); env.applied(op.id); },
      onConnected: (peer) => { server = peer; client.open(); },
      onDisconnected: () => { server = null; client.close(); },
      onMessage: (from, message) => client.receive(message),
      state: () => states.map(client.view()),
    };
  },
});
