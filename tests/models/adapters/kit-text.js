'use strict';
// For tests/models/adapter_kit_test.cpp: env.applied(op, target) through the kit. A text kept on
// each client alone (nothing is sent; the server holds nothing): an insert puts its element at the
// user's position, a delete removes the element there and names it as the delete's target. With
// --no-target the deletes name nothing, and the checkers must see the deleted inserts as rolled
// back, since no delete says it took them.
const { adapter, states } = require('../../../models/adapters/lib/kit');

const noTarget = process.argv.includes('--no-target');

adapter({
  describe: {
    data_type: 'text', topology: 'client_server', rule: 'add_wins', protocol: 2,
    description: 'test: a text on each client alone; deletes report the element they removed',
  },
  server() {
    return { onMessage: () => {}, state: () => null };
  },
  client(env) {
    const text = [];
    return {
      onOp: (op) => {
        const position = Math.floor(op.position_ppm * text.length / 1000000);
        if (op.kind === 'text_insert') {
          text.splice(Math.min(position, text.length), 0, op.id);
          env.applied(op.id);
        } else if (text.length === 0) {
          env.rejected(op.id);
        } else {
          const [removed] = text.splice(Math.min(position, text.length - 1), 1);
          if (noTarget) env.applied(op.id);
          else env.applied(op.id, removed);
        }
      },
      onMessage: () => {},
      state: () => states.text(text),
    };
  },
});
