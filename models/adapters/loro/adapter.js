'use strict';
// syncstorm adapter for Loro: `node adapter.js map` (loro-map), `node adapter.js list` (loro-list)
// or `node adapter.js text` (loro-text); with `--p2p`, peer to peer (loro-p2p-map, -list, -text).
//
// Clients and a relay server each hold a LoroDoc, synced the way Loro's documentation describes a
// client/server setup: peers swap version vectors and each exports what the other lacks
// (`export({mode: "update", from: vv})`). The server is a replica like the others: it imports every
// update, stores what was new to it durably, acknowledges with its version vector, and sends what was
// new to every other connected client. On (re)connect the client sends its version vector; the
// server answers with the updates the client lacks and its own version vector, and the client
// answers that with the updates the server lacks.
//
// Several servers (`multi_server`): servers sync with one another the same way. A starting server
// sends every other server its version vector (4); each answers with the updates it lacks and its
// own vector (5), and sends it what arrives later, always from the vector the peer last reported.
// Every second each reports its vector again, which repairs what a crash or a partition lost.
//
// Datagram links (WebRTC data channels; `connected` says `"link": "datagram"`): messages may be lost,
// duplicated or reordered, and nothing resends them. A client then sends its version vector to its
// server every half second of virtual time (SYNC_US), and the same exchange as on a connect
// repairs what was lost either way: the server answers with what the client lacks and its own
// vector, which acknowledges the client's changes or shows what it lacks, sent next. Over streams
// there is no such timer: the connect's exchange and the ordered stream are enough.
//
// Held messages (PROTOCOL.md, "Held messages"): an update carries its sender's version vector, and
// a replica that, having imported it, still lacks part of what the sender held answers with hold: a
// relay that overtook an earlier one, or followed one that was lost, is parked by Loro or builds on
// writes this replica never had, while its sender's past would otherwise count as this replica's.
// It releases the message once its document holds the sender's whole vector. A server sends no
// update while handling a message it holds (those would carry the held past); what it would have
// relayed goes with its next relay.
//
// Peer to peer (`--p2p`: Loro as a local-first app runs it, peers over WebRTC data channels that
// lose, duplicate and reorder): no relay, servers only signal. A user's change is sent at once to
// every other peer as an update (from the version just before it), and every half second (SYNC_US)
// a peer sends its version vector to one peer drawn from its seeded stream; that peer answers with
// what the asker lacks and, when the asker holds something it lacks, its own vector (a reply, which
// is answered with an update only, so an exchange ends). A write is never acknowledged: it is saved
// on its own device, as local-first software does, and no peer speaks for the others. Updates are
// held as above.
//
// Data types:
// - map: the fields are a root LoroMap. A LoroMap entry is last-writer-wins by Lamport timestamp,
//   ties broken by peer id; a delete is a write of "absent" under the same rule.
// - list: the workload's list is keyed (an item id names one item), so items live in a root LoroMap
//   from item id to value. A sequence (LoroList, LoroMovableList) would hold an item twice after two
//   users added it concurrently. A remove is a map delete, so a concurrent add or update may lose to
//   it: the rule is last-writer-wins, not add-wins (Yjs and Automerge keep a concurrent add).
// - text: a root LoroText (Loro's Fugue-based text). Every element is one character, the code point
//   0x10000 + op id: outside the Basic Multilingual Plane, so each is exactly two UTF-16 units and a
//   position in elements is twice that in the UTF-16 indices LoroText's JavaScript API takes.
//
// Determinism: each incarnation of a replica sets its peer id from its seed (a restart never reuses
// one). Loro draws random bytes only for a default peer id, through crypto.getRandomValues, which
// the protocol library replaces. Loro records change timestamps only after setRecordTimestamp(true);
// this adapter leaves it off, and Date.now would read the virtual clock anyway. No subscriptions are
// used, so nothing is deferred past the end marker.
//
// Message bytes: one tag byte, then a Loro encoding.
//   0 = a version vector ("this is what I have")
//   1 = an update (exported from the receiver's version vector, or a change forwarded by the server),
//       after the sender's version vector: a 4-byte length, the vector, then the update
//   2 = an acknowledgement: the server's version vector after it stored an update
//   3 = with --trim-history, a client's version vector after it imported an update
//   4 = server to server, as it starts: its version vector (send me what I lack, and yours)
//   5 = server to server: its version vector, after an import and every second
//   6 = peer to peer: a version vector in answer to one (send me what I lack; never answered in kind)
// Version vectors, "have" reports and acknowledgements say which changes a replica holds, never what
// they hold: they are sent as control messages, along which the checkers' happens-before does not
// flow (PROTOCOL.md, "Control messages and happens-before"). Only updates carry writes.

const protocol = require('../lib/protocol');  // first: it virtualises the clock and randomness

const usage = 'usage: node adapter.js map|list|text [--p2p | --trim-history] [--loro-version VERSION]';
const options = parseArguments(process.argv.slice(2));
// Another pinned release (an npm alias in package.json, such as loro-crdt-1.16.1) runs the same code:
// that is how a bug fixed in a later release is shown on the release that had it.
const Loro = requireInstalled(options.version === null ? 'loro-crdt' : `loro-crdt-${options.version}`);
const variant = options.variant;

function parseArguments(args) {
  const parsed = { variant: 'map', trim: false, p2p: false, version: null };
  const rest = [...args];
  if (rest.length > 0 && !rest[0].startsWith('--')) parsed.variant = rest.shift();
  while (rest.length > 0) {
    const flag = rest.shift();
    if (flag === '--trim-history') parsed.trim = true;
    else if (flag === '--p2p') parsed.p2p = true;
    else if (flag === '--loro-version' && rest.length > 0) parsed.version = rest.shift();
    else fail(`unknown or incomplete flag ${flag}`);
  }
  if (!['map', 'list', 'text'].includes(parsed.variant)) fail(`unknown variant ${parsed.variant}`);
  if (parsed.p2p && parsed.trim) fail('--trim-history trims what a relay server stores: not with --p2p');
  return parsed;
}

function fail(message) {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

function requireInstalled(name) {
  try {
    return require(name);
  } catch (error) {
    process.stderr.write(`${error.message}\nthe adapter's packages are not installed: run npm ci --prefix models/adapters/loro\n`);
    process.exit(3);
  }
}

const TAG_VV = 0;
const TAG_UPDATE = 1;
const TAG_ACK = 2;
const TAG_HAVE = 3;  // with --trim-history: a client's version vector after it imported an update
const TAG_PEER_VV = 4;   // server to server, as it starts: my version vector; send me what I lack, and yours
const TAG_PEER_ACK = 5;  // server to server: my version vector (after an import, and every PEER_SYNC_US)
const PEER_SYNC_US = 1000000;
const PEER_SYNC_TIMER = 1;
const SYNC_US = 500000;  // over datagram links: a client's version vector to its server, this often
const SYNC_TIMER = 2;
const TAG_VV_REPLY = 6;  // peer to peer: a version vector answering one
const CONTROL = { control: true };  // see "Message bytes" above
const COMPACT_AFTER = 64;        // stored updates merged into one snapshot beyond this many
const ELEMENT_BASE = 0x10000;    // text element i is the code point ELEMENT_BASE + i
const ELEMENT_MAX = 0x10ffff - ELEMENT_BASE;

function frame(tag, bytes) {
  const out = new Uint8Array(bytes.length + 1);
  out[0] = tag;
  out.set(bytes, 1);
  return out;
}

/** An update message: the sender's version vector (what the receiver must hold for the sender's
 *  past to be its own), then the update. */
function updateFrame(doc, from) {
  const version = doc.oplogVersion().encode();
  const update = doc.export({ mode: 'update', from });
  const out = new Uint8Array(1 + 4 + version.length + update.length);
  out[0] = TAG_UPDATE;
  new DataView(out.buffer).setUint32(1, version.length);
  out.set(version, 5);
  out.set(update, 5 + version.length);
  return out;
}

/** The sender's version vector and the update of an update message's body (after its tag). */
function parseUpdate(body) {
  if (body.length < 4) throw new Error(`an update message of ${body.length + 1} bytes: too short for its version vector`);
  const length = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
  if (4 + length > body.length) throw new Error(`an update message whose version vector (${length} bytes) overruns it`);
  return { version: Loro.VersionVector.decode(body.subarray(4, 4 + length)), update: body.subarray(4 + length) };
}

/** The update messages a replica holds (PROTOCOL.md, "Held messages"): each until its document
 *  holds the version vector its sender had. */
class Holds {
  constructor() {
    this.held = [];  // { tag, need }, in the order they were held
    this.nextTag = 1;
  }

  /** After importing an update from a sender that held `senderVersion`: releases every held message
   *  the document now covers, and holds this one unless it covers it too. Returns whether it held. */
  afterImport(doc, senderVersion, out) {
    const mine = doc.oplogVersion();
    this.held = this.held.filter((h) => {
      if (hasMore(h.need, mine)) return true;
      out.release(h.tag);
      return false;
    });
    if (!hasMore(senderVersion, mine)) return false;
    const tag = this.nextTag++;
    this.held.push({ tag, need: senderVersion });
    out.hold(tag);
    return true;
  }
}

/** A 64-bit peer id from the replica's seeded stream. */
function peerIdFrom(rng) {
  return (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
}

/** The op ids of a text's elements, in document order. */
function elementsOf(text) {
  return Array.from(text.toString(), (ch) => ch.codePointAt(0) - ELEMENT_BASE);
}

/** The canonical state of a document. */
function canonical(doc) {
  if (variant === 'text') return { type: 'text', text: elementsOf(doc.getText('text')) };
  const entries = Object.entries(doc.getMap(variant === 'map' ? 'fields' : 'items').toJSON())
    .map(([key, value]) => [Number(key), value]);
  entries.sort((x, y) => x[0] - y[0]);
  if (variant === 'map') return { type: 'map', fields: Object.fromEntries(entries) };
  return { type: 'list', items: entries };
}

/** The op ids a document shows: field or item values, or text elements. */
function shownIds(doc) {
  if (variant === 'text') return elementsOf(doc.getText('text'));
  return Object.values(doc.getMap(variant === 'map' ? 'fields' : 'items').toJSON());
}

/** Whether version vector `a` holds an operation that `b` does not. */
function hasMore(a, b) {
  const order = a.compare(b);
  return order === undefined || order > 0;
}

/** What both roles share: a LoroDoc restored from the store, and its durable update log. */
class Replica {
  constructor(event, rng) {
    this.doc = new Loro.LoroDoc();
    this.doc.setPeerId(peerIdFrom(rng));
    this.out = null;  // the Actions of the event being handled
    const store = protocol.storeOf(event);
    this.storeKeys = [...store.keys()].filter((key) => key.startsWith('u/')).sort();
    if (this.storeKeys.length > 0) this.doc.importBatch(this.storeKeys.map((key) => store.get(key)));
    // The next log index follows the highest stored one: compaction leaves gaps below it.
    this.stored = this.storeKeys.length === 0 ? 0 : Number(this.storeKeys[this.storeKeys.length - 1].slice(2)) + 1;
    this.storedBytes = this.storeKeys.reduce((sum, key) => sum + store.get(key).length, 0);
    this.shown = null;  // the last state answered, until the document changes
    this.holds = new Holds();
    this.ownOps = new Set();  // this replica's users' op ids: a user's own write is not "seen"
  }

  /** Appends the operations made since `from` to the durable log, compacting it now and then. */
  persistSince(from) {
    let bytes;
    if (this.storeKeys.length >= COMPACT_AFTER) {
      for (const key of this.storeKeys) this.out.erase(key);
      this.storeKeys = [];
      this.storedBytes = 0;
      bytes = this.doc.export({ mode: 'snapshot' });
    } else {
      bytes = this.doc.export({ mode: 'update', from });
    }
    const key = `u/${String(this.stored++).padStart(10, '0')}`;
    this.storeKeys.push(key);
    this.storedBytes += bytes.length;
    this.out.put(key, bytes);
    this.out.flush();
    this.shown = null;
  }

  /** Imports an update; returns the version vector from before it, or null when nothing was new. */
  importUpdate(bytes) {
    const before = this.doc.oplogVersion();
    this.doc.import(bytes);
    if (!hasMore(this.doc.oplogVersion(), before)) return null;
    this.persistSince(before);
    return before;
  }

  /** Applies a user's operation, reports it (applied, or rejected when impossible) and stores what
   *  it wrote. Returns the version vector from before it, or null when it wrote nothing: rejected,
   *  or a remove of an item this user does not see (then the op is in ownOps). */
  applyUserOp(op, out) {
    const before = this.doc.oplogVersion();
    const result = this.apply(op);
    if (result === null) { out.report(op.id, 'rejected'); return null; }
    this.ownOps.add(op.id);
    out.report(op.id, 'applied', result);
    if (!hasMore(this.doc.oplogVersion(), before)) return null;
    this.persistSince(before);
    return before;
  }

  /** Applies a user operation; returns the target (removes) or 0, or null when impossible. */
  apply(op) {
    if (variant === 'text') return this.applyText(op);
    const map = this.doc.getMap(variant === 'map' ? 'fields' : 'items');
    const key = String(op.key);
    const current = map.get(key);
    if (op.kind === 'map_set' || op.kind === 'list_add') {
      map.set(key, op.id);
    } else if (op.kind === 'list_update') {
      if (current === undefined) return null;  // an update of an item this user does not see
      map.set(key, op.id);
    } else if (op.kind === 'list_remove') {
      if (current === undefined) return 0;
      map.delete(key);
      this.doc.commit();
      return current;
    } else {
      return null;
    }
    this.doc.commit();
    return 0;
  }

  applyText(op) {
    const text = this.doc.getText('text');
    const length = text.length / 2;
    const position = Math.floor(op.position_ppm * length / 1000000);
    if (op.kind === 'text_insert') {
      if (op.id > ELEMENT_MAX) throw new Error(`op id ${op.id} is beyond the ${ELEMENT_MAX} text elements this adapter can name`);
      text.insert(2 * Math.min(position, length), String.fromCodePoint(ELEMENT_BASE + op.id));
      this.doc.commit();
      return 0;
    }
    if (op.kind !== 'text_delete' || length === 0) return null;
    const at = Math.min(position, length - 1);
    const target = text.toString().codePointAt(2 * at) - ELEMENT_BASE;
    text.delete(2 * at, 2);
    this.doc.commit();
    return target;
  }

  /** A user's replica receives an update message's body: imports it, holds it unless the document
   *  now has what its sender had (it sends nothing meanwhile), and reports the other users' writes
   *  it made visible. Returns whether anything was new. */
  receiveUpdate(body, out) {
    const { version, update } = parseUpdate(body);
    const before = new Set(shownIds(this.doc));
    const imported = this.importUpdate(update) !== null;
    this.holds.afterImport(this.doc, version, out);
    if (imported) for (const id of shownIds(this.doc)) if (!before.has(id) && !this.ownOps.has(id)) out.report(id, 'seen');
    return imported;
  }

  /** The metadata figure is the durable log: Loro keeps the whole history of the document. */
  state() {
    if (this.shown === null) this.shown = { state: canonical(this.doc), metadata_bytes: this.storedBytes };
    return this.shown;
  }
}

class Client extends Replica {
  constructor(event, rng) {
    super(event, rng);
    this.server = null;
    // Whether the server has answered this connection's version vector: until then a change goes
    // with the answer to it, not alone. Sent alone, it would follow offline changes the server does
    // not have yet, and Loro would park it there, unseen, while its past counted as the server's.
    this.synced = false;
    this.pending = [];  // { op, end }: applied here, stored by the server once its vector reaches end
    this.syncing = false;  // over datagram links: whether a SYNC_TIMER is set
  }

  op(event, out) {
    this.out = out;
    const op = event.op;
    const before = this.applyUserOp(op, out);
    if (before === null) {
      // Removing an item this user does not see writes nothing: there is nothing to store.
      if (this.ownOps.has(op.id)) out.report(op.id, 'acknowledged');
      return;
    }
    this.pending.push({ op: op.id, end: this.doc.oplogVersion().get(this.doc.peerIdStr) });
    if (this.server !== null && this.synced) out.send(this.server, updateFrame(this.doc, before));
  }

  message(event, out) {
    this.out = out;
    const bytes = Buffer.from(event.data, 'base64');
    const body = bytes.subarray(1);
    if (bytes[0] === TAG_UPDATE) {
      if (this.receiveUpdate(body, out) && options.trim) {
        out.send(event.from, frame(TAG_HAVE, this.doc.oplogVersion().encode()), CONTROL);
      }
    } else if (bytes[0] === TAG_VV || bytes[0] === TAG_ACK) {
      const theirs = Loro.VersionVector.decode(body);
      this.acknowledge(theirs);
      // The server's answer to a connect: send what it lacks. An acknowledgement that shows the
      // server holds something this replica lacks (it restarted from its store, or a forward was
      // lost with a connection) asks for it.
      if (bytes[0] === TAG_VV) this.synced = true;
      if (bytes[0] === TAG_VV && hasMore(this.doc.oplogVersion(), theirs)) {
        out.send(event.from, updateFrame(this.doc, theirs));
      } else if (bytes[0] === TAG_ACK && hasMore(theirs, this.doc.oplogVersion())) {
        out.send(event.from, frame(TAG_VV, this.doc.oplogVersion().encode()), CONTROL);
      }
    }
  }

  /** Acknowledges the pending operations the server's version vector includes: it stores what it
   *  imports before it answers. */
  acknowledge(serverVersion) {
    const stored = serverVersion.get(this.doc.peerIdStr) || 0;
    this.pending = this.pending.filter((p) => {
      if (p.end > stored) return true;
      this.out.report(p.op, 'acknowledged');
      return false;
    });
  }

  connected(event, out) {
    this.out = out;
    this.server = event.peer;
    this.synced = false;
    out.send(event.peer, frame(TAG_VV, this.doc.oplogVersion().encode()), CONTROL);
    if (event.link === 'datagram' && !this.syncing) {
      this.syncing = true;
      out.timer(SYNC_US, SYNC_TIMER);
    }
  }

  /** Over datagram links: the version vector again, to the server, and the next sync set. A link
   *  that is down stops the timer; the next `connected` starts it again. */
  timer(event, out) {
    if (event.tag !== SYNC_TIMER) return;
    this.syncing = false;
    if (this.server === null) return;
    out.send(this.server, frame(TAG_VV, this.doc.oplogVersion().encode()), CONTROL);
    this.syncing = true;
    out.timer(SYNC_US, SYNC_TIMER);
  }

  disconnected(event) {
    if (this.server === event.peer) {
      this.server = null;
      this.synced = false;
    }
  }
}

class Server extends Replica {
  constructor(event, rng) {
    super(event, rng);
    // Several servers (PROTOCOL.md, "Deployments"): each is a replica of the whole document, and
    // they sync with one another the way a client syncs with its server. A server sends a peer
    // what that peer lacks from the version vector the peer last reported, never from a guess:
    // the peer holds at least that much (it stores every import before it reports), so Loro never
    // has to park an update whose past it lacks. Every PEER_SYNC_US each server reports its
    // vector to every peer, which repairs what a crash or a partition between them lost.
    this.peers = new Map();  // other server -> the version vector it last reported (absent: none yet)
    this.otherServers = (event.servers || []).filter((node) => node !== event.node);
    // The clients the server relays to: those whose version vector it has answered on their current
    // connection. A relay is a delta from the server's version just before it; sent to a client that
    // has not caught up, Loro could only hold it pending, and its sender's past (which the checkers
    // count as the receiver's once it arrives) would claim writes the receiver never had.
    this.clients = new Set();
    // With --trim-history: every client's last reported version vector, and the version the stored
    // history starts at. History every client holds is history no client will ask for again.
    this.everyClient = event.clients || [];
    this.reported = new Map();
    this.trimmedAt = new Loro.VersionVector(null);
    // What this server imported while handling messages it held, and so did not relay then: its
    // version vector before the first of them (null: nothing waits). The next relay starts there.
    this.unrelayedFrom = null;
  }

  /** A server that has peers asks them for what it lacks as it starts, and reports itself on a timer. */
  start(event, out) {
    if (this.otherServers.length === 0) return;
    this.out = out;
    this.reportToPeers(TAG_PEER_VV);
  }

  timer(event, out) {
    if (event.tag !== PEER_SYNC_TIMER) return;
    this.out = out;
    this.reportToPeers(TAG_PEER_ACK);
  }

  /** Sends this server's version vector to every peer (TAG_PEER_VV also asks for theirs), and
   *  sets the next report. */
  reportToPeers(tag) {
    const version = frame(tag, this.doc.oplogVersion().encode());
    for (const peer of this.otherServers) this.out.send(peer, version, CONTROL);
    this.out.timer(PEER_SYNC_US, PEER_SYNC_TIMER);
  }

  /** Sends `peer` what this server holds beyond the vector it last reported. */
  catchUp(peer) {
    const theirs = this.peers.get(peer);
    if (theirs === undefined || !hasMore(this.doc.oplogVersion(), theirs)) return;
    this.out.send(peer, updateFrame(this.doc, theirs));
  }

  /** A message from another server: its vector (answered with what it lacks), or an update. */
  peerMessage(event, tag, body) {
    if (tag === TAG_PEER_VV || tag === TAG_PEER_ACK) {
      this.peers.set(event.from, Loro.VersionVector.decode(body));
      this.catchUp(event.from);
      // A peer that just started wants this server's vector too, to send what this one lacks.
      if (tag === TAG_PEER_VV) this.out.send(event.from, frame(TAG_PEER_ACK, this.doc.oplogVersion().encode()), CONTROL);
    } else if (tag === TAG_UPDATE) {
      const { version, update } = parseUpdate(body);
      const before = this.importUpdate(update);  // stored and flushed before it is reported
      const held = this.holds.afterImport(this.doc, version, this.out);
      this.out.send(event.from, frame(TAG_PEER_ACK, this.doc.oplogVersion().encode()), CONTROL);
      this.relayOrDefer(before, event.from, held);
    }
  }

  /** Relays what arrived since `before` (null: nothing new), unless the message that brought it is
   *  held: then it waits for the next relay, which starts from the earliest version not relayed. */
  relayOrDefer(before, from, held) {
    if (before !== null && this.unrelayedFrom === null && held) this.unrelayedFrom = before;
    if (held || (before === null && this.unrelayedFrom === null)) return;
    const start = this.unrelayedFrom !== null ? this.unrelayedFrom : before;
    this.unrelayedFrom = null;
    this.relay(start, from);
  }

  /** Sends what arrived since `before` to every caught-up client and every peer but `from`. */
  relay(before, from) {
    const news = updateFrame(this.doc, before);
    for (const client of this.clients) if (client !== from) this.out.send(client, news);
    for (const peer of this.otherServers) if (peer !== from) this.catchUp(peer);
  }

  message(event, out) {
    this.out = out;
    const bytes = Buffer.from(event.data, 'base64');
    const body = bytes.subarray(1);
    if (this.otherServers.includes(event.from)) {
      this.peerMessage(event, bytes[0], body);
    } else if (bytes[0] === TAG_VV) {
      const theirs = Loro.VersionVector.decode(body);
      if (hasMore(this.doc.oplogVersion(), theirs)) out.send(event.from, updateFrame(this.doc, theirs));
      out.send(event.from, frame(TAG_VV, this.doc.oplogVersion().encode()), CONTROL);
      this.clients.add(event.from);
      if (options.trim) this.clientHas(event.from, theirs);
    } else if (bytes[0] === TAG_HAVE) {
      if (options.trim) this.clientHas(event.from, Loro.VersionVector.decode(body));
    } else if (bytes[0] === TAG_UPDATE) {
      const { version, update } = parseUpdate(body);
      const before = this.importUpdate(update);  // stored and flushed before it is acknowledged
      const held = this.holds.afterImport(this.doc, version, out);
      out.send(event.from, frame(TAG_ACK, this.doc.oplogVersion().encode()), CONTROL);
      this.relayOrDefer(before, event.from, held);
    }
  }

  /** Records what a client holds; once every client holds more than the stored history's start,
   *  the store becomes one shallow snapshot starting at the version they all hold. */
  clientHas(client, version) {
    this.reported.set(client, version);
    if (!this.everyClient.every((c) => this.reported.has(c))) return;
    const stable = new Map();
    for (const [peer, end] of this.doc.oplogVersion().toJSON()) {
      let least = end;
      for (const c of this.everyClient) least = Math.min(least, this.reported.get(c).get(peer) || 0);
      if (least > 0) stable.set(peer, least);
    }
    const held = new Loro.VersionVector(stable);
    if (stable.size === 0 || !hasMore(held, this.trimmedAt)) return;
    this.trimmedAt = held;
    for (const key of this.storeKeys) this.out.erase(key);
    const snapshot = this.doc.export({ mode: 'shallow-snapshot', frontiers: this.doc.vvToFrontiers(held) });
    const key = `u/${String(this.stored++).padStart(10, '0')}`;
    this.storeKeys = [key];
    this.storedBytes = snapshot.length;
    this.out.put(key, snapshot);
    this.out.flush();
    this.shown = null;
  }

  connected(event) { this.clients.delete(event.peer); }  // caught up again once it sends its vector
  disconnected(event) { this.clients.delete(event.peer); }
}

/** A peer of a peer-to-peer deployment (--p2p): a replica that syncs with the other peers directly. */
class Peer extends Replica {
  constructor(event, rng) {
    super(event, rng);
    this.rng = rng;
    this.peers = (event.clients || []).filter((node) => node !== event.node);
  }

  start(event, out) {
    out.timer(SYNC_US, SYNC_TIMER);
  }

  op(event, out) {
    this.out = out;
    const before = this.applyUserOp(event.op, out);  // saved on this device
    if (before === null) return;
    const news = updateFrame(this.doc, before);
    for (const peer of this.peers) out.send(peer, news);
  }

  /** Anti-entropy: this peer's version vector to one other peer, drawn from its seeded stream. */
  timer(event, out) {
    if (event.tag !== SYNC_TIMER) return;
    out.timer(SYNC_US, SYNC_TIMER);
    if (this.peers.length === 0) return;
    const peer = this.peers[this.rng.u32() % this.peers.length];
    out.send(peer, frame(TAG_VV, this.doc.oplogVersion().encode()), CONTROL);
  }

  message(event, out) {
    this.out = out;
    const bytes = Buffer.from(event.data, 'base64');
    const body = bytes.subarray(1);
    if (bytes[0] === TAG_UPDATE) {
      this.receiveUpdate(body, out);
    } else if (bytes[0] === TAG_VV || bytes[0] === TAG_VV_REPLY) {
      const theirs = Loro.VersionVector.decode(body);
      if (hasMore(this.doc.oplogVersion(), theirs)) out.send(event.from, updateFrame(this.doc, theirs));
      if (bytes[0] === TAG_VV && hasMore(theirs, this.doc.oplogVersion())) {
        out.send(event.from, frame(TAG_VV_REPLY, this.doc.oplogVersion().encode()), CONTROL);
      }
    }
  }
}

/** A signalling server of a peer-to-peer deployment: it introduces peers, holds nothing, hears nothing. */
class SignalServer {
  state() { return { state: null }; }
}

const what = {
  map: 'a map (LoroMap)',
  list: 'list items in a LoroMap',
  text: 'text as a LoroText of elements',
};

function makeReplica(event, rng) {
  if (options.p2p) return event.role === 'server' ? new SignalServer() : new Peer(event, rng);
  return event.role === 'server' ? new Server(event, rng) : new Client(event, rng);
}

protocol.serve(
  {
    name: options.p2p ? `loro-p2p-${variant}` : `loro-${variant}`,
    description: `Loro: ${what[variant]} ${options.p2p ? 'synced peer to peer' : 'relayed by a server'}`,
    data_type: variant,
    topology: options.p2p ? 'peer_to_peer' : 'client_server',
    // A LoroMap entry (field or item, a delete included) is last-writer-wins by Lamport timestamp
    // and peer id. Text elements are only ever taken away by a delete that targeted them.
    rule: variant === 'text' ? 'add_wins' : 'last_writer_wins',
    // Every LoroDoc belongs to a replica and its peer id comes from the replica's seed; this file
    // keeps nothing at module level, so one process serves many runs.
    protocol: 2,
    // A LoroDoc keeps its whole history; with --trim-history a server trims what its clients hold.
    ...(options.trim ? {} : { metadata_growth: 'keeps_every_change' }),
    // Servers sync with one another (Server, above). Not with --trim-history: a server trims the
    // history its own clients hold, which a peer may still lack.
    multi_server: !options.trim && !options.p2p,
    // Clients sync on a timer over datagram links, and a replica holds an update until it has what
    // the sender had (above). Not with --trim-history: its trimming trusts the clients' reports.
    datagram_links: !options.trim && !options.p2p,
    // A Loro change depends on the version its document had, and a replica shows none before all it
    // depends on (Loro parks it; so do the holds above): a replica that shows a user's write shows
    // what that user had seen and written first. Not sworn to with --trim-history, whose shallow
    // snapshots drop history.
    ...(options.trim ? {} : { writes_follow_reads: 'promised', writes_in_order: 'promised' }),
  },
  makeReplica,
);
