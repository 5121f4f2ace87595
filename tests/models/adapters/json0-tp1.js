'use strict';
// ot-json0 (ShareDB's default type, the version models/adapters/sharedb pins) on one object key:
// a delete without an insert (`od` only) and, from the same version, an insert without a delete
// (`oi` only) over the key, a shape ShareDB's own transform produces (a replacement transformed
// against a concurrent delete loses its `od`). Transformed each against the other, as a client
// (its op left) and the server (the other first) do, the two sides end in different documents.
// Prints one JSON line: what each side holds, and whether they agree.
const json0 = require(require.resolve('ot-json0', { paths: [process.argv[2]] })).type;

const base = () => ({ k: 'X' });
const del = [{ p: ['k'], od: 'X' }];
const insert = [{ p: ['k'], oi: 'B' }];
const client = json0.apply(json0.apply(base(), del), json0.transform(insert, del, 'right'));
const server = json0.apply(json0.apply(base(), insert), json0.transform(del, insert, 'left'));
process.stdout.write(JSON.stringify({ client, server, agree: JSON.stringify(client) === JSON.stringify(server) }) + '\n');
