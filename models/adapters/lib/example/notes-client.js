'use strict';
// The client of "notes" (see notes-server.js), as a local-first web app writes it: an edit shows at
// once, waits in an outbox kept in durable storage (IndexedDB in a browser) until the server
// acknowledges it, and is sent again, oldest first, whenever the connection comes back. What the
// user sees is the server's document with the pending edits on top.

class NotesClient {
  /** storage: {get, set, flush}; send(message) to the server; onConfirmed(edit) when one is stored. */
  constructor({ storage, send, onConfirmed }) {
    this.storage = storage;
    this.send = send;
    this.onConfirmed = onConfirmed;
    const saved = storage.get('outbox') || { nextSeq: 1, pending: [] };
    this.nextSeq = saved.nextSeq;
    this.pending = saved.pending;                      // edits the server has not acknowledged, oldest first
    this.confirmed = storage.get('document') || {};    // the server's document, as last heard
    this.online = false;
  }

  set(key, value) {
    const edit = { type: 'edit', seq: this.nextSeq++, key, value };
    this.pending.push(edit);
    this.saveOutbox();
    if (this.online) this.send(edit);
    return edit;
  }

  open() {
    this.online = true;
    for (const edit of this.pending) this.send(edit);
  }

  close() { this.online = false; }

  receive(message) {
    if (message.type === 'snapshot') {
      this.confirmed = message.fields;
      this.confirm((edit) => edit.seq <= message.applied);
    } else if (message.type === 'update') {
      this.confirmed[message.key] = message.value;
    } else if (message.type === 'ack') {
      if (!this.pending.some((edit) => edit.seq === message.seq)) return;  // confirmed by a snapshot already
      this.confirmed[message.key] = message.value;
      this.confirm((edit) => edit.seq <= message.seq);
    }
    this.storage.set('document', this.confirmed);
    this.storage.flush();
  }

  /** Drops the pending edits `isStored` says the server has, and tells the app about each. */
  confirm(isStored) {
    const stored = this.pending.filter(isStored);
    if (stored.length === 0) return;
    this.pending = this.pending.filter((edit) => !isStored(edit));
    this.saveOutbox();
    for (const edit of stored) this.onConfirmed(edit);
  }

  saveOutbox() {
    this.storage.set('outbox', { nextSeq: this.nextSeq, pending: this.pending });
    this.storage.flush();
  }

  /** What the user sees: the server's document with the pending edits applied on top. */
  view() {
    const fields = Object.assign({}, this.confirmed);
    for (const edit of this.pending) fields[edit.key] = edit.value;
    return fields;
  }
}

module.exports = { NotesClient };
