'use strict';
// The server of "notes", a shared key-value document: an example of the sync code a team writes
// for its own app, with no knowledge of syncstorm. It orders every edit (the order it applies them
// is the truth), remembers the newest edit applied per client so that a resend is applied once,
// persists before it acknowledges, and pushes each edit to every other connected client. A client
// that connects gets the whole document and the newest of its own edits already applied.
//
// Messages (JSON): from clients {type:'edit', seq, key, value}; to clients {type:'snapshot',
// fields, applied} on connect, {type:'ack', seq, key, value} to the editor, {type:'update', key,
// value} to everyone else.

class NotesServer {
  /**
   * storage: {get, set, flush}, durable across restarts; send(clientId, message);
   * setTimeout(callback, ms); options.flushLater: acknowledge first and flush on a timer (a
   * deliberate bug, to show what a lost acknowledged write looks like).
   */
  constructor({ storage, send, setTimeout }, options = { flushLater: false }) {
    this.storage = storage;
    this.send = send;
    this.setTimeout = setTimeout;
    this.flushLater = Boolean(options.flushLater);
    this.flushPending = false;
    const saved = storage.get('notes') || { fields: {}, applied: {} };
    this.fields = saved.fields;    // key -> value
    this.applied = saved.applied;  // client id -> newest seq applied
    this.connected = new Set();
  }

  connect(clientId) {
    this.connected.add(clientId);
    this.send(clientId, { type: 'snapshot', fields: this.fields, applied: this.applied[clientId] || 0 });
  }

  disconnect(clientId) { this.connected.delete(clientId); }

  receive(clientId, message) {
    if (message.type !== 'edit') return;
    const newest = this.applied[clientId] || 0;
    if (message.seq <= newest) {
      // A resend of an edit applied before its acknowledgement was lost: acknowledge it again.
      this.send(clientId, { type: 'ack', seq: message.seq, key: message.key, value: message.value });
      return;
    }
    this.fields[message.key] = message.value;
    this.applied[clientId] = message.seq;
    this.persist();
    this.send(clientId, { type: 'ack', seq: message.seq, key: message.key, value: message.value });
    for (const other of [...this.connected].sort((a, b) => a - b)) {
      if (other !== clientId) this.send(other, { type: 'update', key: message.key, value: message.value });
    }
  }

  persist() {
    this.storage.set('notes', { fields: this.fields, applied: this.applied });
    if (!this.flushLater) {
      this.storage.flush();
      return;
    }
    if (this.flushPending) return;
    this.flushPending = true;
    this.setTimeout(() => {
      this.flushPending = false;
      this.storage.flush();
    }, 1000);
  }
}

module.exports = { NotesServer };
