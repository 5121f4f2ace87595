'use strict';
// Durable documents on syncstorm's store.
//
// Server: the persistence the y-websocket server package builds on y-leveldb (its YPERSISTENCE
// setting), with y-leveldb's contract held on the store: every update appended under its own key,
// the document read back by applying them in order, and the log merged into one update once it
// holds more than PREFERRED_TRIM_SIZE entries. bindState is the package's own code with its `await`
// written as `.then` on a thenable that calls back at once: a real promise would run the rest after
// the event's end marker, outside syncstorm's control. The LevelDB read it waits for completes on a
// timer of zero delay, so a client's first sync can meet a document that is not loaded yet, as it
// can in production.
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

class ServerStore extends UpdateLog {
  constructor(replica, event, Y) {
    super(replica, event, Y);
    const Yjs = Y;
    const log = this;
    // What the server package's YPERSISTENCE branch passes to setPersistence, with `ldb` the log.
    this.persistence = {
      provider: log,
      bindState: (docName, ydoc) => {
        ydoc.owner = replica;
        log.getYDoc(docName).then((persistedYdoc) => {
          const newUpdates = Yjs.encodeStateAsUpdate(ydoc);
          log.storeUpdate(docName, newUpdates);
          Yjs.applyUpdate(ydoc, Yjs.encodeStateAsUpdate(persistedYdoc));
          ydoc.on('update', (update) => {
            log.storeUpdate(docName, update);
          });
        });
      },
      // The package calls writeState(...).then(() => doc.destroy()) when the last connection
      // closes. A thenable that calls back at once keeps that inside the current event; the
      // y-leveldb branch's writeState does nothing either (every update is already stored).
      writeState: (_docName, _ydoc) => ({ then: (resolve) => resolve() }),
    };
  }

  hooks() { return this.persistence; }

  /** y-leveldb's getYDoc: the stored log as a fresh document, read after a LevelDB round trip. */
  getYDoc(_docName) {
    return { then: (resolve) => {
      setTimeout(() => {
        if (this.replica.dead) return;
        const doc = new this.Y.Doc();
        this.applyTo(doc, null);
        resolve(doc);
      }, 0);
    } };
  }

  storeUpdate(_docName, update) { this.append(update); }
}

class ClientStore extends UpdateLog {
  load(doc) { this.applyTo(doc, this); }
}

module.exports = { ServerStore, ClientStore };
