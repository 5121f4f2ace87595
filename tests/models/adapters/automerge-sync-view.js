'use strict';
// Automerge (the version models/adapters/automerge pins, 3.5.0; 3.0.0 alike, 2.2.9 not) on the bytes
// one client of the shipped automerge-list received in a shrunk syncstorm failure
// (models/adapters/automerge/repros/sync-after-changes-shows-stale-value.repro.toml): four changes
// applied with applyChanges, then, after a reconnect, the server's first sync message, which
// carries the two changes the client lacked (another client's concurrent write of key 5, and a
// third client's remove of key 5). The document then shows key 5 = 4, while its own save, loaded
// again, holds 5 = 5, as every other replica does, and so does the document's own state read
// whole (toJS). The fault is in the patches: receiveSyncMessage reports only a conflict on key 5,
// no put of its new value, so the JavaScript document keeps the old one. Prints one JSON line:
// what the document shows, what its reloaded save holds, whether they agree, what toJS reads, and
// the patches of the sync message. Run: node THIS_FILE ADAPTER_DIR
const A = require(require.resolve('@automerge/automerge', { paths: [process.argv[2]] }));

const bytes = (base64) => new Uint8Array(Buffer.from(base64, 'base64'));
const changes = [
  "hW9Kg3eThXMBLwAQQbqGpMiiSSO03oS68QyBLQEBHAAABhUDNAFCAlYCVwFwAn8BNwF/AX8UAX8A",
  "hW9KgyUoXaYBTwF3k4Vzw27Hj57UqwRraSQr3km6ZoDXpyoivXRMAI5klRA7Y0tK+Lr6AYFEDwd5l2nUAQIhAAAGFQM0AUICVgJXAXACfwE1AX8BfxQCfwA=",
  "hW9Kg5z5tyUBbwIlKF2mrruCWeH1SELb6Zewhh7rPfeqfDDJgZ446Rn/e3eThXPDbsePntSrBGtpJCveSbpmgNenKiK9dEwAjmSVEEG6hqTIokkjtN6EuvEMgS0CAygAAAYVAzQBQgJWAlcBcAJ/ATgBfwF/FAN/AA==",
  "hW9Kg0PWzmgBaAGc+bclq52mfBUV+10NGC649/hjJHAo18sjJNON0wsHORBBuoakyKJJI7TehLrxDIEtAwQpAAEQO2NLSvi6+gGBRA8HeZdp1AgVAzQBQgJWAlcBcAJxAnMCfwE1AX8BfxQEfwF/AX8C"
].map(bytes);
const syncMessage = bytes("QwKtK9kYo0b9jGTP0ukJhaOeWP2xFyj5WF42lKij88V7muRMhzFHzFvdneEXPOnR90vOOX/BuQqe3nK6os3dqruPAAEBQ9bOaGjw479Xh3K0L+O/e6qXXXVuMwqz5LdmwgQMvJ8GAgoHAafaAYIChW9Kg60r2RgBhQECJShdpq67glnh9UhC2+mXsIYe6z33qnwwyYGeOOkZ/3tD1s5oaPDjv1eHcrQv4797qpdddW4zCrPkt2bCBAy8nxA7Y0tK+Lr6AYFEDwd5l2nUAgUrAAEQQbqGpMiiSSO03oS68QyBLQcVAzQBQgJWAnACcQJzAn8BNQF/A38AfwF/AX8EhW9Kg+RMhzEBaAElKF2mrruCWeH1SELb6Zewhh7rPfeqfDDJgZ446Rn/exCrZz/2P24SBlrYdrz6hA5IAQMqAAEQO2NLSvi6+gGBRA8HeZdp1AgVAzQBQgJWAlcBcAJxAnMCfwE1AX8BfxQFfwF/AX8CAgKE");

let doc = A.init();
[doc] = A.applyChanges(doc, changes);
let patches = null;
[doc] = A.receiveSyncMessage(doc, A.initSyncState(), syncMessage, { patchCallback: (p) => { patches = p; } });
const shown = { ...doc };
const reloaded = { ...A.load(A.save(doc)) };
const agree = JSON.stringify(shown) === JSON.stringify(reloaded);
process.stdout.write(JSON.stringify({ shown, reloaded, agree, toJS: A.toJS(doc), patches }) + '\n');
