// ot-json0 (ShareDB's default type, the version models/adapters/sharedb pins) on one object key:
// a delete (`od` only) and, from the same version, an insert over the key without `od` although the
// key exists. json0 applies such an insert (it overwrites; apply checks nothing), so an app that
// sets a key with `oi` alone runs, but transformed each against the other, as a client (its op left)
// and the server (the other first) do, the two sides end in different documents. Ops built as json0
// asks never take this shape, transformed or composed (json0-closure.js checks every such pair).
// Prints one JSON line: what each side holds, and whether they agree.
const json0 = require(require.resolve('ot-json0', { paths: [process.argv[2]] })).type;

const base = () => ({ k: 'X' });
const del = [{ p: ['k'], od: 'X' }];
const insert = [{ p: ['k'], oi: 'B' }];
const client = json0.apply(json0.apply(base(), del), json0.transform(insert, del, 'right'));
const server = json0.apply(json0.apply(base(), insert), json0.transform(del, insert, 'left'));
process.stdout.write(JSON.stringify({ client, server, agree: JSON.stringify(client) === JSON.stringify(server) }) + '\n');
