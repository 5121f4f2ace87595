'use strict';
// What concurrency costs Loro's import, outside syncstorm: PEERS documents, OPS single-character
// edits (or map writes) at random peers, every edit's update imported by every other peer LAG edits
// later. At LAG 0 no two edits are concurrent (each peer has every earlier edit when it writes); at
// LAG 1 and more, edits made within LAG of each other are. The baseline is LAG 0 in the same
// process; each repetition prints milliseconds per import and the ratio to its own baseline.
//
//   node tests/bench/adapters/loro_concurrency.js [text|map] [PEERS] [OPS] [REPETITIONS]
//
// Needs the Loro adapter's packages: npm ci --prefix models/adapters/loro.
// The figures, and why they matter to the adapter sweep: tests/bench/README.md, "Loro: what
// concurrency costs an import".

const path = require('path');

const kind = process.argv[2] || 'text';
const peers = Number(process.argv[3] || 20);
const ops = Number(process.argv[4] || 200);
const repetitions = Number(process.argv[5] || 5);
const lags = [0, 1, 3, 10];
if (!['text', 'map'].includes(kind) || !(peers >= 2) || !(ops >= 1) || !(repetitions >= 1)) {
  process.stderr.write('usage: node loro_concurrency.js [text|map] [PEERS>=2] [OPS>=1] [REPETITIONS>=1]\n');
  process.exit(2);
}

let Loro;
try {
  Loro = require(path.join(__dirname, '../../../models/adapters/loro/node_modules/loro-crdt'));
} catch (error) {
  process.stderr.write(`${error.message}\nrun npm ci --prefix models/adapters/loro first\n`);
  process.exit(3);
}

/** A small seeded generator (the same edits in every repetition and at every lag). */
function lcg(seed) {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

/** Milliseconds per import over one run at `lag`. Each receiver reads its state after every import,
 *  as the adapter does to report what a user now sees. */
function run(lag) {
  const random = lcg(7);
  const docs = [];
  for (let i = 0; i < peers; i++) {
    const doc = new Loro.LoroDoc();
    doc.setPeerId(BigInt(i + 1));
    docs.push(doc);
  }
  let imports = 0;
  let nanoseconds = 0n;
  const deliver = ([update, writer]) => {
    for (let j = 0; j < peers; j++) {
      if (j === writer) continue;
      const started = process.hrtime.bigint();
      docs[j].import(update);
      nanoseconds += process.hrtime.bigint() - started;
      imports++;
      if (kind === 'text') docs[j].getText('text').toString();
      else docs[j].getMap('fields').toJSON();
    }
  };
  const inFlight = [];
  for (let k = 0; k < ops; k++) {
    const writer = Math.floor(random() * peers);
    const doc = docs[writer];
    const before = doc.oplogVersion();
    if (kind === 'text') {
      const text = doc.getText('text');
      text.insert(2 * Math.floor(random() * (text.length / 2)), String.fromCodePoint(0x10000 + k));
    } else {
      doc.getMap('fields').set(String(Math.floor(random() * 20)), k);
    }
    doc.commit();
    inFlight.push([doc.export({ mode: 'update', from: before }), writer]);
    while (inFlight.length > lag) deliver(inFlight.shift());
  }
  while (inFlight.length > 0) deliver(inFlight.shift());
  return Number(nanoseconds) / 1e6 / imports;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ratios = new Map(lags.map((lag) => [lag, []]));
console.log(`loro-crdt ${require(path.join(__dirname, '../../../models/adapters/loro/node_modules/loro-crdt/package.json')).version}, ${kind}, ${peers} peers, ${ops} edits, ${repetitions} repetitions`);
for (let r = 0; r < repetitions; r++) {
  const times = lags.map(run);
  const line = lags.map((lag, i) => `lag ${lag}: ${times[i].toFixed(3)} ms`).join(', ');
  console.log(`repetition ${r + 1}: ${line} per import`);
  lags.forEach((lag, i) => ratios.get(lag).push(times[i] / times[0]));
}
for (const lag of lags.slice(1)) {
  const values = ratios.get(lag);
  console.log(`lag ${lag} / lag 0: min ${Math.min(...values).toFixed(1)}, median ${median(values).toFixed(1)}, max ${Math.max(...values).toFixed(1)}`);
}
