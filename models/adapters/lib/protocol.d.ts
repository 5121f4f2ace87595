// Type declarations for protocol.js: the syncstorm adapter protocol for Node.js (../PROTOCOL.md).

/** A replica's seeded random stream (sfc32); Math.random reads the current replica's. */
export class Rng {
  constructor(seedText: string);
  /** A uniform 32-bit unsigned integer. */
  u32(): number;
  /** A float in [0, 1), as Math.random returns. */
  float(): number;
}

/** An operation of the simulated user (PROTOCOL.md, "Operations"). Its value is its id. */
export interface Operation {
  id: number;
  kind: 'map_set' | 'list_add' | 'list_update' | 'list_remove' | 'counter_add' | 'text_insert' | 'text_delete';
  key: number;
  amount: number;
  position_ppm: number;
}

/** One event from syncstorm (PROTOCOL.md, "Events"). */
export interface Event {
  ev: 'describe' | 'start' | 'op' | 'message' | 'timer' | 'connected' | 'disconnected' | 'state' | 'states' | 'stop' | 'reset';
  node: number;
  time: number;
  role?: 'client' | 'server';
  seed?: string;
  servers?: number[];
  clients?: number[];
  store?: Record<string, string>;
  op?: Operation;
  from?: number;
  data?: string;
  tag?: number;
  peer?: number;
  /** `connected` over datagram links only: `'datagram'` (messages may be lost, duplicated or reordered). */
  link?: 'datagram';
  /** Version 2, `state` and `states`: false when syncstorm does not need the metadata size. */
  metadata?: boolean;
  /** Version 2, `states`: the replicas whose states are asked for, and each one's local clock. */
  nodes?: number[];
  times?: number[];
}

export type Lifecycle = 'applied' | 'acknowledged' | 'rejected' | 'seen';

/** What a replica does in answer to one event. */
export class Actions {
  lines: string[];
  push(action: object): void;
  /**
   * `control: true`: the bytes carry no write, so happens-before does not flow along them.
   * `ownWritesThrough`: of the sender's own writes they carry that op and those before it only.
   * `lacksOwnWrites`: they lack those of the sender's own writes, whatever newer ones they carry.
   */
  send(
    to: number,
    bytes: Uint8Array,
    options?: { control?: boolean; ownWritesThrough?: number; lacksOwnWrites?: number[] },
  ): void;
  timer(delayUs: number, tag: number): void;
  report(op: number, lifecycle: Lifecycle, target?: number): void;
  put(key: string, bytes: Uint8Array): void;
  erase(key: string): void;
  flush(): void;
  /** Only in answer to a message event: what it carries waits here, unseen, until release(tag). */
  hold(tag: number): void;
  /** What this replica held under `tag` is now part of its state. */
  release(tag: number): void;
}

/** A canonical state (PROTOCOL.md, "Canonical state"), or null for a replica that shows nothing. */
export type CanonicalState =
  | { type: 'map'; fields: Record<string, number> }
  | { type: 'list'; items: Array<[number, number]> }
  | { type: 'counter'; counter: number }
  | { type: 'text'; text: number[] }
  | null;

export type DataType = 'map' | 'list' | 'counter' | 'text';
export type Topology = 'client_server' | 'peer_to_peer';
export type Rule = 'last_writer_wins' | 'add_wins' | 'remove_wins' | 'server_order';

/** The describe action's fields: what the model is and the rule the checkers hold it to. */
export interface Description {
  data_type: DataType;
  topology: Topology;
  rule: Rule;
  description: string;
  /** The invariant a deliberately buggy adapter is known to break (makes it a buggy baseline). */
  breaks?: string;
  correct?: boolean;
  name?: string;
  /** 2: one process may serve many runs, told apart by `reset` events (PROTOCOL.md, "Versions"). */
  protocol?: number;
  /** The servers replicate to one another: runs where a scenario has several (PROTOCOL.md, "Deployments"). */
  multi_server?: boolean;
  /** The client-server messages survive loss, duplication and reordering: runs over datagram links. */
  datagram_links?: boolean;
  /** A promise the checkers hold it to: a replica showing a user's write also shows what that user had read first (PROTOCOL.md, "Deployments"). */
  writes_follow_reads?: 'promised' | 'over_streams' | 'not_promised';
  /** A promise the checkers hold it to: a replica showing a user's write also shows that user's earlier writes of other keys (PROTOCOL.md, "Deployments"). */
  writes_in_order?: 'promised' | 'over_streams' | 'not_promised';
  /** How its sync metadata may grow, for the bounded-metadata check (PROTOCOL.md, "Deployments"); absent: with_state. */
  metadata_growth?: 'with_state' | 'server_keeps_writes' | 'keeps_history' | 'keeps_every_change';
}

/** A replica as protocol.serve drives it: each method handles the event of its name. */
export interface ProtocolReplica {
  start?(event: Event, out: Actions): void;
  op?(event: Event, out: Actions): void;
  message?(event: Event, out: Actions): void;
  timer?(event: Event, out: Actions): void;
  connected?(event: Event, out: Actions): void;
  disconnected?(event: Event, out: Actions): void;
  /** `event.metadata === false`: the size is not needed and may be left out. */
  state(event: Event): { state: CanonicalState; metadata_bytes?: number };
  /** The replica is gone (it crashed, the run ended, or a reset came): it must not act again. */
  stop?(): void;
  /** `async` only: called once the library's deferred work for the event is done, before the end
   *  marker (what the user now sees, what the server now holds). */
  settle?(event: Event, out: Actions): void;
}

/** Options of serve. */
export interface ServeOptions {
  /** Clears what the adapter keeps outside its replicas, between two runs (protocol version 2). */
  reset?(): void;
  /** For libraries that defer work (promises, process.nextTick, streams): after each event the
   *  loop lets Node.js run until that work is done, then calls settle, then answers. */
  async?: boolean;
  /** `async` only: what must be loaded (an ES module import) before the first event is handled. */
  ready?: Promise<unknown>;
}

/** The replica handling the current event, its Actions and its node id; null between events.
 *  Deferred library code (a promise, a nextTick, a virtual timer) writes its actions there. */
export function current(): { node: number; replica: ProtocolReplica | null; out: Actions } | null;

/** Records an error a library raised in deferred work: the current event answers `error`. */
export function fail(error: unknown): void;

/** The virtual clock (microseconds of the current replica's local clock). */
export const clock: {
  now(): number;
  /** Sets it, for work done at a fixed time (a genesis document at 0); put it back afterwards. */
  set(us: number): void;
};

/** The seeded stream that Math.random and the crypto replacements read (the current replica's). */
export const random: {
  current(): Rng;
  use(rng: Rng): void;
  /** Fills a typed array from the current stream, as crypto.getRandomValues does. */
  fill<T extends ArrayBufferView>(array: T): T;
};

/** Makes setTimeout, setInterval and their clear functions `timer` actions of the replica whose
 *  event set them (serve then handles `timer` events itself) and takes setImmediate away from the
 *  library. Call it before the library loads. */
export function virtualiseTimers(): void;

/** Runs the protocol loop on stdin and stdout. */
export function serve(describe: Description, makeReplica: (event: Event, rng: Rng) => ProtocolReplica, options?: ServeOptions): void;

/** The replica's store from a start event: key to bytes. */
export function storeOf(event: Event): Map<string, Buffer>;

/** Reports `seen` for every id in `after` that is neither in `before` nor in `own`. */
export function reportSeen(out: Actions, before: Set<number>, after: Iterable<number>, own: Set<number>): void;
