// The DNS filter's UDP socket, read and written in batches by the native module in
// native/udp-batch.c (recvmmsg and sendmmsg; Linux). One wake-up of the event loop hands every
// datagram waiting (up to 64 a read) to JavaScript in one call, and what is sent during that call,
// or during any other callback (an upstream's answers), leaves together at its end. Where the module is not built (`npm ci` builds it; see docs/web-filter.md)
// or does not load, the filter uses node:dgram and says so in its log.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ipBytes } from './wire.ts';

interface NativeSocket {
  flush(count: number): number;
  sendTo(
    data: Uint8Array,
    length: number,
    family: number,
    port: number,
    a0: number,
    a1: number,
    a2: number,
    a3: number,
    scope: number,
  ): boolean;
  close(): void;
  port(): number;
  stats(): BatchedUdpStats;
}

interface NativeModule {
  BATCH: number;
  SLOT: number;
  META: number;
  bind(
    host: string,
    port: number,
    onBatch: (count: number) => void,
    input: Buffer,
    inputMeta: Int32Array,
    output: Buffer,
    outputMeta: Int32Array,
    receiveBuffer: number,
    sendBuffer: number,
  ): NativeSocket;
}

export interface BatchedUdpStats {
  received: number;
  sent: number;
  /** Replies the kernel would not take (a full send buffer, an unreachable client). */
  sendErrors: number;
  /** Datagrams longer than a slot (4,096 octets), dropped. */
  oversized: number;
}

/** Where the module is, built or not. */
export const NATIVE_MODULE_PATH = fileURLToPath(
  new URL('../../../native/build/Release/udp_batch.node', import.meta.url),
);

let loaded: { module: NativeModule | null; problem: string | null } | undefined;

/** The native module, or why it cannot be used here. Loaded once. */
export function batchedUdpSupport(): { available: boolean; problem: string | null } {
  const { module, problem } = load();
  return { available: module !== null, problem };
}

function load(): { module: NativeModule | null; problem: string | null } {
  if (loaded) return loaded;
  if (process.platform !== 'linux') {
    loaded = { module: null, problem: `batched UDP needs Linux (this is ${process.platform})` };
  } else if (!existsSync(NATIVE_MODULE_PATH)) {
    loaded = {
      module: null,
      problem: `the native module is not built (${NATIVE_MODULE_PATH}): run npm run build:native`,
    };
  } else {
    try {
      const module = createRequire(import.meta.url)(NATIVE_MODULE_PATH) as NativeModule;
      loaded = { module, problem: null };
    } catch (err) {
      loaded = {
        module: null,
        problem: `the native module did not load (${(err as Error).message}): run npm run build:native`,
      };
    }
  }
  return loaded;
}

/**
 * Called for each datagram of a batch. `query` is a view into the receive arena, valid only
 * during the call (copy it to keep it); `reply` may be called during the call or later.
 */
export type OnDatagram = (
  query: Buffer,
  source: string,
  reply: (answer: Buffer | null) => void,
  port: number,
) => void;

export interface BatchedUdpSocket {
  port: number;
  /**
   * Sends one datagram to an IP address (as sourceName spells it, or any form of it). It is
   * queued and leaves with the others queued before the current callback ends (sendmmsg); false
   * when the address is not an IP literal or the socket is closed. A datagram the kernel refuses
   * then is counted in stats().sendErrors.
   */
  send(data: Buffer, port: number, address: string): boolean;
  stats(): BatchedUdpStats;
  close(): void;
}

/** An IP literal as the native module takes it: its family and four 32-bit words. */
interface Words {
  family: 4 | 6;
  words: Int32Array;
}

const wordsByAddress = new Map<string, Words | null>();

/** The family and words of an IP literal (cached), or null when it is not one. */
function wordsOf(address: string): Words | null {
  let found = wordsByAddress.get(address);
  if (found !== undefined) return found;
  const bytes = ipBytes(address);
  found = null;
  if (bytes !== null) {
    const padded = Buffer.alloc(16);
    bytes.copy(padded);
    found = {
      family: bytes.length === 4 ? 4 : 6,
      words: new Int32Array(padded.buffer, padded.byteOffset, 4),
    };
  }
  if (wordsByAddress.size >= 4096) wordsByAddress.clear();
  wordsByAddress.set(address, found);
  return found;
}

/**
 * How a datagram's source address is spelt to OnDatagram, for an IP literal in any spelling:
 * to compare a source with a configured address. Null when `address` is not an IP literal.
 */
export function sourceName(address: string): string | null {
  const w = wordsOf(address);
  if (w === null) return null;
  if (w.family === 4) return v4Name(w.words[0]!);
  const meta = new Int32Array(4);
  meta.set(w.words);
  const name = v6Name(meta, 0);
  // An IPv4-mapped address arrives as its IPv4 address (the native module unmaps it).
  return name.startsWith('0:0:0:0:0:ffff:') ? v4Name(w.words[3]!) : name;
}

const v4Names = new Map<number, string>();

/** The dotted form of an IPv4 address read as a 32-bit word in network order. */
function v4Name(word: number): string {
  let name = v4Names.get(word);
  if (name === undefined) {
    name = `${word & 0xff}.${(word >>> 8) & 0xff}.${(word >>> 16) & 0xff}.${word >>> 24}`;
    if (v4Names.size >= 65_536) v4Names.clear();
    v4Names.set(word, name);
  }
  return name;
}

/** The IPv6 address's full (unabbreviated) colon form; the filter normalises it. */
function v6Name(meta: Int32Array, at: number): string {
  const groups: string[] = [];
  for (let w = 0; w < 4; w++) {
    const word = meta[at + w]!;
    // The word holds four octets in network order, read little-endian.
    const o = [word & 0xff, (word >>> 8) & 0xff, (word >>> 16) & 0xff, word >>> 24];
    groups.push(((o[0]! << 8) | o[1]!).toString(16), ((o[2]! << 8) | o[3]!).toString(16));
  }
  return groups.join(':');
}

/**
 * A bound UDP socket whose datagrams go to `onDatagram` in batches; throws (with the socket
 * error's code, EADDRINUSE say) when it cannot bind, and throws when the module is unavailable.
 */
export function bindBatchedUdp(
  host: string,
  port: number,
  onDatagram: OnDatagram,
  options: {
    buffers?: { receive: number; send: number };
    /** The socket can no longer be watched (libuv's status, negative): it reads nothing more. */
    onError?: (status: number) => void;
  } = {},
): BatchedUdpSocket {
  const buffers = options.buffers ?? { receive: 8 << 20, send: 8 << 20 };
  const { module, problem } = load();
  if (module === null) throw new Error(problem ?? 'batched UDP is unavailable');
  const { BATCH, SLOT, META } = module;
  const input = Buffer.allocUnsafeSlow(BATCH * SLOT);
  const inputMeta = new Int32Array(BATCH * META);
  const output = Buffer.allocUnsafeSlow(BATCH * SLOT);
  const outputMeta = new Int32Array(BATCH * META);
  /** Datagrams queued in `output`. */
  let queued = 0;
  /** In onBatch: what is queued leaves when the batch has been handled. */
  let inBatch = false;
  /** A microtask will send what is queued. */
  let scheduled = false;
  let closed = false;

  const settled = Promise.resolve();
  const flush = () => {
    scheduled = false;
    if (queued === 0) return;
    const count = queued;
    queued = 0;
    if (!closed) socket.flush(count);
  };

  /**
   * Queues a datagram for `port` at the address given as inMeta gives one. Outside a batch, a
   * microtask sends what is queued: every datagram made in the same callback leaves in one call.
   */
  function queue(
    data: Buffer,
    family: number,
    port: number,
    a0: number,
    a1: number,
    a2: number,
    a3: number,
    scope: number,
  ): void {
    if (data.length > SLOT) {
      socket.sendTo(data, data.length, family, port, a0, a1, a2, a3, scope);
      return;
    }
    data.copy(output, queued * SLOT);
    const m = queued * META;
    outputMeta[m] = data.length;
    outputMeta[m + 1] = family;
    outputMeta[m + 2] = port;
    outputMeta[m + 3] = a0;
    outputMeta[m + 4] = a1;
    outputMeta[m + 5] = a2;
    outputMeta[m + 6] = a3;
    outputMeta[m + 7] = scope;
    queued++;
    if (queued === BATCH) flush();
    else if (!inBatch && !scheduled) {
      scheduled = true;
      // A promise reaction, not queueMicrotask: that wraps each callback in an async resource.
      settled.then(flush);
    }
  }

  const onBatch = (count: number) => {
    if (count < 0) {
      options.onError?.(count);
      return;
    }
    inBatch = true;
    try {
      for (let slot = 0; slot < count; slot++) {
        const at = slot * META;
        const length = inputMeta[at]!;
        if (length < 0) continue; // longer than any query: dropped
        const family = inputMeta[at + 1]!;
        const source = family === 4 ? v4Name(inputMeta[at + 3]!) : v6Name(inputMeta, at + 3);
        const query = input.subarray(slot * SLOT, slot * SLOT + length);
        onDatagram(query, source, replyFor(slot), inputMeta[at + 2]!);
      }
    } finally {
      inBatch = false;
      flush();
    }
  };

  /** The reply function for the datagram in `slot` of the batch being handled. */
  function replyFor(slot: number): (answer: Buffer | null) => void {
    let sent = false;
    // Read now: the slot's address is overwritten by the next batch.
    const at = slot * META;
    const family = inputMeta[at + 1]!;
    const port = inputMeta[at + 2]!;
    const a0 = inputMeta[at + 3]!;
    const v6 = family === 6;
    const a1 = v6 ? inputMeta[at + 4]! : 0;
    const a2 = v6 ? inputMeta[at + 5]! : 0;
    const a3 = v6 ? inputMeta[at + 6]! : 0;
    const scope = v6 ? inputMeta[at + 7]! : 0;
    return (answer) => {
      if (sent || closed || answer === null) return;
      sent = true;
      queue(answer, family, port, a0, a1, a2, a3, scope);
    };
  }

  const socket = module.bind(
    host,
    port,
    onBatch,
    input,
    inputMeta,
    output,
    outputMeta,
    buffers.receive,
    buffers.send,
  );
  return {
    port: socket.port(),
    send(data, port, address) {
      const to = wordsOf(address);
      if (closed || to === null) return false;
      const w = to.words;
      queue(data, to.family, port, w[0]!, w[1]!, w[2]!, w[3]!, 0);
      return true;
    },
    stats: () => socket.stats(),
    close() {
      if (closed) return;
      flush();
      closed = true;
      socket.close();
    },
  };
}
