// Type declarations for kit.js: wrap your own client and server code as a syncstorm model.
import { CanonicalState, Description, Operation, Rng } from './protocol';

export { CanonicalState, Description, Operation } from './protocol';

/** Any value JSON.stringify turns into JSON and JSON.parse gives back. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A replica's durable key-value storage, JSON values (IndexedDB on a client, a database on a server). */
export interface Storage {
  get(key: string): any;
  has(key: string): boolean;
  /** Every key, sorted. */
  keys(): string[];
  set(key: string, value: Json | object): void;
  delete(key: string): void;
  /** Makes every write so far durable: a crash drops later ones (unless the scenario sets `lose_unflushed = false`). */
  flush(): void;
}

/** What a replica is given: its identity, the network, storage, virtual time, and the user's view. */
export class Env {
  readonly node: number;
  readonly role: 'client' | 'server';
  readonly servers: number[];
  readonly clients: number[];
  readonly storage: Storage;
  /**
   * Sends a JSON message to node `to`; silently not sent when no connection to it is up.
   * `{ control: true }` declares that it carries no write (a handshake, presence): the checkers'
   * happens-before does not flow along it. A write sent this way would hide its loss.
   * `{ ownWritesThrough: op }` and `{ lacksOwnWrites: [op, ...] }` say which of the sender's own
   * writes it carries when not all of them (PROTOCOL.md, "Control messages and happens-before").
   */
  send(
    to: number,
    message: Json | object,
    options?: { control?: boolean; ownWritesThrough?: number; lacksOwnWrites?: number[] },
  ): void;
  /**
   * Only inside onMessage: what this message carries waits in the replica for something it lacks,
   * so happens-before does not flow along it until `release(tag)` with the same non-negative
   * integer tag, in any later handler (PROTOCOL.md, "Held messages").
   */
  hold(tag: number): void;
  release(tag: number): void;
  /** Runs `callback` after `ms` milliseconds of virtual time; returns a handle for clearTimeout. */
  setTimeout(callback: () => void, ms: number): number;
  clearTimeout(handle: number): void;
  /** The replica's local clock in milliseconds (virtual, skewed as the scenario says). */
  now(): number;
  /** A float in [0, 1) from the replica's seeded stream. */
  random(): number;
  /** `target`: for a list remove or a text delete, the op id of the value or element it took away. */
  applied(opId: number, target?: number): void;
  acknowledged(opId: number): void;
  rejected(opId: number): void;
  seen(opId: number): void;
  /** The seeded stream itself. */
  readonly rng: Rng;
}

/** The handlers a client or server factory returns; all but state are optional. */
export interface Handlers {
  onOp?(op: Operation): void;
  onMessage?(from: number, message: any): void;
  /** `link`: 'stream' (a WebSocket opened) or 'datagram' (a client's datagram link to its server came up). */
  onConnected?(peer: number, link: 'stream' | 'datagram'): void;
  onDisconnected?(peer: number): void;
  state(): CanonicalState;
  metadataBytes?(): number;
}

export interface AdapterConfig {
  describe: Description;
  client(env: Env): Handlers;
  /** Left out: servers relay nothing and show nothing. */
  server?(env: Env): Handlers;
  /** With describe.protocol 2: clears what your modules keep outside their replicas, between runs. */
  reset?(): void;
}

/** Runs the adapter on stdin and stdout until syncstorm closes stdin. */
export function adapter(config: AdapterConfig): void;

/** Canonical states built from a replica's view. */
export const states: {
  map(fields: Record<string | number, number>): CanonicalState;
  list(items: Array<[number, number]>): CanonicalState;
  counter(value: number): CanonicalState;
  text(elements: number[]): CanonicalState;
};
