'use strict';
// Whether ot-json0 (the version models/adapters/sharedb pins) keeps convergence property TP1 for
// the ops a ShareDB app builds as json0 asks, on one object's keys: `od` (with the value it removes)
// whenever the key exists, `oi` alone only where it does not. Every pair of such ops made from one
// document (1 or 2 keys, every shape: delete, replace, insert) is transformed each against the
// other on both sides, as a client and its server do; every transformed op must be well formed on
// the document it lands on (so the check carries on to the next step of a transform chain) and both
// orders must end in one document. Every composition of two such ops in a row (ShareDB composes a
// client's pending ops) must be well formed and do what the two do. Prints one JSON line of counts.
const json0 = require(require.resolve('ot-json0', { paths: [process.argv[2]] })).type;

const clone = (x) => JSON.parse(JSON.stringify(x));
const canonical = (o) => JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));
const keys = ['a', 'b'];
let fresh = 0;

function wellFormedOps(doc) {
  const ops = [];
  for (const k of keys) {
    if (Object.prototype.hasOwnProperty.call(doc, k)) {
      ops.push([{ p: [k], od: doc[k] }]);
      ops.push([{ p: [k], od: doc[k], oi: `v${++fresh}` }]);
    } else {
      ops.push([{ p: [k], oi: `v${++fresh}` }]);
    }
  }
  return ops;
}

function wellFormed(doc, op) {
  let d = clone(doc);
  for (const c of op) {
    const k = c.p[0];
    const has = Object.prototype.hasOwnProperty.call(d, k);
    if (c.od !== undefined && (!has || JSON.stringify(d[k]) !== JSON.stringify(c.od))) return false;
    if (c.od === undefined && c.oi !== undefined && has) return false;
    d = json0.apply(d, [c]);
  }
  return true;
}

const counts = { pairs: 0, diverged: 0, malformed: 0, compositions: 0, wrongCompositions: 0 };
const docs = [{}, { a: 'X' }, { b: 'Y' }, { a: 'X', b: 'Y' }];
for (const doc of docs) {
  for (const a of wellFormedOps(doc)) {
    for (const b of wellFormedOps(doc)) {
      for (const [sideA, sideB] of [['left', 'right'], ['right', 'left']]) {
        counts.pairs++;
        const aAfterB = json0.transform(a, b, sideA);
        const bAfterA = json0.transform(b, a, sideB);
        const withA = json0.apply(clone(doc), a);
        const withB = json0.apply(clone(doc), b);
        if (!wellFormed(withB, aAfterB) || !wellFormed(withA, bAfterA)) counts.malformed++;
        if (canonical(json0.apply(clone(withA), bAfterA)) !== canonical(json0.apply(clone(withB), aAfterB))) counts.diverged++;
      }
    }
    const withA = json0.apply(clone(doc), a);
    for (const b of wellFormedOps(withA)) {
      counts.compositions++;
      const both = json0.compose(a, b);
      if (!wellFormed(doc, both) || canonical(json0.apply(clone(doc), both)) !== canonical(json0.apply(clone(withA), b))) {
        counts.wrongCompositions++;
      }
    }
  }
}
process.stdout.write(JSON.stringify(counts) + '\n');
