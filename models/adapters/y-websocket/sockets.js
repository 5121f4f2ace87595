'use strict';
// Fake WebSockets over syncstorm's stream connections.
//
// syncstorm owns the connection between a client and its server (`connected`, `disconnected`); the
// provider owns WebSocket objects, which it closes and opens again on its own (its watchdog, its
// backoff). One syncstorm connection therefore carries a sequence of WebSockets, each with a
// number. Every frame is one `send`:
//
//   [kind byte][socket number, lib0 varuint][payload]
//   kind 0 OPEN    client -> server: a new socket starts (the server runs setupWSConnection)
//   kind 1         unused
//   kind 2 DATA    either way: one WebSocket message (the payload)
//   kind 3 CLOSE   either way: the closing handshake
//   kind 4 PING    server -> client (`ws`'s conn.ping()); a browser answers with PONG by itself
//   kind 5 PONG    client -> server
//
// syncstorm's `connected` event is the WebSocket handshake (PROTOCOL.md: a stream connection is a
// WebSocket), so a socket made while the connection is up opens at once, as the provider expects
// of a handshake that already succeeded; its OPEN frame reaches the server before anything it sends.
// A client socket opened while its syncstorm connection is down fails at once (onerror, onclose),
// as a browser's does when the network is gone, and the provider backs off and tries again. Events a
// browser or `ws` delivers later (onclose after close(), a server conn's 'close') come on a timer of
// zero delay, never from inside the call that caused them.

const encoding = require('lib0/encoding');
const decoding = require('lib0/decoding');

const OPEN = 0;
const DATA = 2;
const CLOSE = 3;
const PING = 4;
const PONG = 5;

// Which sends carry writes (PROTOCOL.md, "Control messages and happens-before"): of y-protocols'
// messages only sync step 2 and update (message type 0, sub-type 1 or 2, one byte each as varuints)
// carry document updates. Sync step 1 (a state vector), awareness (presence), the query for it and
// the socket frames OPEN, CLOSE, PING and PONG carry none, and are sent as control messages.
const CONTROL = { control: true };
function dataOptions(data) {
  const bytes = new Uint8Array(data);
  return bytes.length >= 2 && bytes[0] === 0 && (bytes[1] === 1 || bytes[1] === 2) ? undefined : CONTROL;
}

const CONNECTING = 0;
const OPENED = 1;
const CLOSING = 2;
const CLOSED = 3;

function frame(kind, socketNumber, payload) {
  const encoder = encoding.createEncoder();
  encoding.writeUint8(encoder, kind);
  encoding.writeVarUint(encoder, socketNumber);
  if (payload) encoding.writeUint8Array(encoder, payload instanceof Uint8Array ? payload : new Uint8Array(payload));
  return encoding.toUint8Array(encoder);
}

function parse(bytes) {
  const decoder = decoding.createDecoder(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const kind = decoding.readUint8(decoder);
  const socketNumber = decoding.readVarUint(decoder);
  const payload = decoding.readTailAsUint8Array(decoder);
  return { kind, socketNumber, payload };
}

/** An ArrayBuffer holding exactly `bytes`, as a socket with binaryType 'arraybuffer' delivers. */
function arrayBuffer(bytes) {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

// ----------------------------------------------------------------------------------------------
// The client side: the browser's WebSocket, as y-websocket's provider uses it.

class ClientLink {
  constructor(replica) {
    this.replica = replica;
    this.server = null;    // the peer of the live syncstorm connection, or null
    this.socket = null;    // the newest socket the provider made
    this.socketsMade = 0;
  }

  /** The WebSocket class handed to the provider as its WebSocketPolyfill. */
  socketClass() {
    const link = this;
    return class SimulatedWebSocket extends ClientSocket {
      constructor(url) { super(link, url); }
    };
  }

  up(peer) { this.server = peer; }

  down(peer) {
    if (this.server !== peer) return;
    this.server = null;
    const socket = this.socket;
    if (socket && socket.server === peer && socket.readyState !== CLOSED) socket.fail(1006);
  }

  receive(from, bytes) {
    const { kind, socketNumber, payload } = parse(bytes);
    const socket = this.socket;
    if (!socket || socket.socketNumber !== socketNumber || socket.server !== from) return;  // an older socket's frame
    if (kind === DATA && socket.readyState === OPENED) {
      if (socket.onmessage) socket.onmessage({ type: 'message', data: arrayBuffer(payload) });
    } else if (kind === PING && socket.readyState === OPENED) {
      this.replica.out.send(from, frame(PONG, socketNumber), CONTROL);
    } else if (kind === CLOSE && socket.readyState !== CLOSED) {
      socket.readyState = CLOSED;
      if (socket.onclose) socket.onclose({ type: 'close', code: 1005, reason: '', wasClean: true });
    }
  }
}

class ClientSocket {
  constructor(link, url) {
    this.link = link;
    this.url = url;
    this.binaryType = 'blob';
    this.readyState = CONNECTING;
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
    this.socketNumber = ++link.socketsMade;
    this.server = link.server;
    link.socket = this;
    if (this.server === null) {
      // No network: the attempt fails, reported after the constructor returns as a browser does.
      setTimeout(() => { if (this.readyState === CONNECTING) this.fail(1006); }, 0);
    } else {
      link.replica.out.send(this.server, frame(OPEN, this.socketNumber), CONTROL);
      setTimeout(() => {
        if (this.readyState !== CONNECTING) return;
        this.readyState = OPENED;
        if (this.onopen) this.onopen({ type: 'open' });
      }, 0);
    }
  }

  get CONNECTING() { return CONNECTING; }
  get OPEN() { return OPENED; }
  get CLOSING() { return CLOSING; }
  get CLOSED() { return CLOSED; }

  send(data) {
    if (this.readyState === CONNECTING) throw new Error("Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.");
    if (this.readyState !== OPENED || this.link.replica.dead) return;  // a browser drops it silently
    const replica = this.link.replica;
    const options = dataOptions(data);
    // A frame that carries writes: the replica says which of its own it lacks.
    replica.out.send(this.server, frame(DATA, this.socketNumber, data), options || replica.sendOptions(data));
  }

  close() {
    if (this.readyState === CLOSED || this.readyState === CLOSING) return;
    const wasOpen = this.readyState === OPENED;
    this.readyState = CLOSING;
    if (this.link.server === this.server && this.server !== null && !this.link.replica.dead) {
      this.link.replica.out.send(this.server, frame(CLOSE, this.socketNumber), CONTROL);
    }
    setTimeout(() => {
      if (this.readyState === CLOSED) return;
      this.readyState = CLOSED;
      if (this.onclose) this.onclose({ type: 'close', code: wasOpen ? 1000 : 1006, reason: '', wasClean: wasOpen });
    }, 0);
  }

  /** The connection died (or never came up): error, then close, as a browser reports it. */
  fail(code) {
    this.readyState = CLOSED;
    if (this.onerror) this.onerror({ type: 'error' });
    if (this.onclose) this.onclose({ type: 'close', code, reason: '', wasClean: false });
  }
}

ClientSocket.CONNECTING = CONNECTING;
ClientSocket.OPEN = OPENED;
ClientSocket.CLOSING = CLOSING;
ClientSocket.CLOSED = CLOSED;

// ----------------------------------------------------------------------------------------------
// The server side: a `ws` WebSocket as the y-websocket server's setupWSConnection uses it.

class ServerLink {
  /** `accept(conn)` runs the server's handling of a new connection. */
  constructor(replica, accept) {
    this.replica = replica;
    this.accept = accept;
    this.conns = new Map();  // client node id -> its live ServerConn
  }

  up() { /* a socket starts with the client's OPEN frame */ }

  down(peer) {
    const conn = this.conns.get(peer);
    if (conn) conn.lost();
  }

  receive(from, bytes) {
    const { kind, socketNumber, payload } = parse(bytes);
    if (kind === OPEN) {
      const previous = this.conns.get(from);
      if (previous) previous.lost();
      const conn = new ServerConn(this, from, socketNumber);
      this.conns.set(from, conn);
      this.accept(conn);
      return;
    }
    const conn = this.conns.get(from);
    if (!conn || conn.socketNumber !== socketNumber || conn.readyState !== OPENED) return;
    if (kind === DATA) conn.emit('message', arrayBuffer(payload), true);
    else if (kind === PONG) conn.emit('pong');
    else if (kind === CLOSE) conn.lost();
  }
}

class ServerConn {
  constructor(link, client, socketNumber) {
    this.link = link;
    this.client = client;
    this.socketNumber = socketNumber;
    this.readyState = OPENED;
    this.binaryType = 'nodebuffer';
    this.listeners = new Map();  // event name -> [fn]
  }

  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, []);
    this.listeners.get(name).push(fn);
    return this;
  }

  emit(name, ...args) {
    for (const fn of this.listeners.get(name) || []) fn(...args);
  }

  send(data, options, callback) {
    const done = typeof options === 'function' ? options : callback;
    if (this.readyState !== OPENED || this.link.replica.dead) {
      if (done) done(new Error('WebSocket is not open'));
      return;
    }
    this.link.replica.out.send(this.client, frame(DATA, this.socketNumber, data), dataOptions(data));
    if (done) done(undefined);
  }

  ping() {
    if (this.readyState !== OPENED) throw new Error('WebSocket is not open');
    if (!this.link.replica.dead) this.link.replica.out.send(this.client, frame(PING, this.socketNumber), CONTROL);
  }

  close() {
    if (this.readyState !== OPENED) return;
    this.readyState = CLOSING;
    if (!this.link.replica.dead) this.link.replica.out.send(this.client, frame(CLOSE, this.socketNumber), CONTROL);
    this.forget();
    setTimeout(() => this.finish(), 0);
  }

  /** The client closed, or the connection reset: 'close' comes as its own event. */
  lost() {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSING;
    this.forget();
    setTimeout(() => this.finish(), 0);
  }

  forget() {
    if (this.link.conns.get(this.client) === this) this.link.conns.delete(this.client);
  }

  finish() {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.emit('close', 1006, Buffer.alloc(0));
  }
}

/** The document update a y-protocols message carries (sync step 2 or update), or null. */
function documentUpdate(message) {
  const decoder = decoding.createDecoder(new Uint8Array(message));
  if (decoding.readVarUint(decoder) !== 0) return null;  // not a sync message
  const kind = decoding.readVarUint(decoder);
  return kind === 1 || kind === 2 ? decoding.readVarUint8Array(decoder) : null;
}

/** The document update a frame of ours carries (a DATA frame with one), or null. */
function updateOf(frameBytes) {
  const { kind, payload } = parse(frameBytes);
  return kind === DATA ? documentUpdate(payload) : null;
}

module.exports = { ClientLink, ServerLink, documentUpdate, updateOf };
