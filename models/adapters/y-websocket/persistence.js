'use strict';
// Durable documents on syncstorm's store.
//
// Server: the server is deployed as its README says, with YPERSISTENCE set. Where the package
// version honours it, it builds its persistence on y-leveldb; this file stands in for y-leveldb on
// the store (every update appended under its own key, the document read back by applying them in
// order, the log merged into one update beyond PREFERRED_TRIM_SIZE entries), and re-hosts the
// package's bindState (see `rehosted`). The LevelDB read completes on a timer of zero delay, so a
// client's first sync can meet a document that is not loaded yet, as it can in production. Where the
// package version ignores YPERSISTENCE, the server has no persistence, as deployed.
//
// Client: y-indexeddb's contract (the same append-and-merge log, read when the page loads), applied
// before the provider connects.

const PREFERRED_TRIM_SIZE = 500;  // y-leveldb's and y-indexeddb's threshold for merging the log

/** An append-only update log on the replica's store: key `u/` and a zero-padded index. */
class UpdateLog {
  constructor(replica, event, Y) {
    this.replica = replica;
    this.Y = Y;
    this.updates = new Map();  // key -> bytes, mirroring what was put (the store is write-only)
    for (const [key, value] of Object.entries(event.store || {})) {
      if (key.startsWith('u/')) this.updates.set(key, new Uint8Array(Buffer.from(value, 'base64')));
    }
    const keys = [...this.updates.keys()].sort();
    this.updates = new Map(keys.map((key) => [key, this.updates.get(key)]));
    this.next = keys.length === 0 ? 0 : Number(keys[keys.length - 1].slice(2)) + 1;
  }

  append(update) {
    if (this.replica.dead) return;
    const key = `u/${String(this.next++).padStart(10, '0')}`;
    this.updates.set(key, update);
    this.replica.out.put(key, update);
    this.replica.out.flush();
  }

  /** Applies the log to `doc` in one transaction with `origin`, merging it when it is long. */
  applyTo(doc, origin) {
    doc.transact(() => {
      for (const update of this.updates.values()) this.Y.applyUpdate(doc, update);
    }, origin);
    if (this.updates.size > PREFERRED_TRIM_SIZE && !this.replica.dead) {
      for (const key of this.updates.keys()) this.replica.out.erase(key);
      this.updates.clear();
      this.append(this.Y.encodeStateAsUpdate(doc));
    }
  }
}

/** A server replica's log; `LevelStandIn` finds it by document name. */
class ServerStore extends UpdateLog {}

/** Server stores by document name: one y-leveldb instance serves every server node's document. */
const serverStores = new Map();

function storeOf(docName) {
  const store = serverStores.get(docName);
  if (!store) throw new Error(`no store for document ${docName}`);
  return store;
}

/**
 * What the server package gets when it asks for y-leveldb's LeveldbPersistence: the same calls, on
 * syncstorm's store. getYDoc answers with a thenable that calls back on a timer of zero delay (the
 * LevelDB read); storeUpdate is written and flushed at once.
 */
class LevelStandIn {
  constructor(_location) { /* the store is syncstorm's, whatever directory the deployment names */ }

  getYDoc(docName) {
    const store = storeOf(docName);
    return { then: (resolve) => {
      setTimeout(() => {
        if (store.replica.dead) return;
        const doc = new store.Y.Doc();
        store.applyTo(doc, null);
        resolve(doc);
      }, 0);
    } };
  }

  storeUpdate(docName, update) { storeOf(docName).append(update); }
}

/**
 * The persistence the server package's YPERSISTENCE branch passes to setPersistence, with its
 * `await` written as `.then`: the package's async bindState would run its second half in a
 * microtask after the event's end marker, outside syncstorm's control. The calls and their order are
 * the package's.
 */
function rehosted(ldb, Y) {
  return {
    provider: ldb,
    bindState: (docName, ydoc) => {
      ldb.getYDoc(docName).then((persistedYdoc) => {
        const newUpdates = Y.encodeStateAsUpdate(ydoc);
        ldb.storeUpdate(docName, newUpdates);
        Y.applyUpdate(ydoc, Y.encodeStateAsUpdate(persistedYdoc));
        ydoc.on('update', (update) => {
          ldb.storeUpdate(docName, update);
        });
      });
    },
    // The package calls writeState(...).then(() => doc.destroy()) when the last connection closes;
    // its y-leveldb branch writes nothing there (every update is already stored). A thenable that
    // calls back at once keeps the destroy inside the current event.
    writeState: (_docName, _ydoc) => ({ then: (resolve) => resolve() }),
  };
}

class ClientStore extends UpdateLog {
  load(doc) { this.applyTo(doc, this); }
}

module.exports = { ServerStore, ClientStore, serverStores, LevelStandIn, rehosted };
