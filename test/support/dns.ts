// DNS test helpers: a local upstream stand-in (UDP and TCP, written with dns-packet) that counts
// the queries it gets, and a client that sends real packets over UDP or TCP from a chosen address.
import dgram from 'node:dgram';
import net, { type AddressInfo } from 'node:net';
import * as packet from 'dns-packet';

export interface StandIn {
  port: number;
  /** Queries received, by lower-case name and type ("example.com A"). */
  count(name: string, type?: string): number;
  /** Stop answering (queries are swallowed) or start again. */
  silence(on: boolean): void;
  stop(): Promise<void>;
}

export interface StandInRecords {
  /** name -> IPv4 address for A (TTL 300). */
  a?: Record<string, string>;
  /** name -> IPv6 address for AAAA (TTL 300). */
  aaaa?: Record<string, string>;
  /** name -> another name: answered with a CNAME (TTL 600) and that name's A or AAAA. */
  cname?: Record<string, string>;
  /** name -> MX records (TTL 300); an exchange of "." is the null MX of RFC 7505. */
  mx?: Record<string, { preference: number; exchange: string }[]>;
  /** Names answered NXDOMAIN with an SOA whose minimum is 60. */
  nxdomain?: string[];
  /** Names whose answer is larger than 512 octets (many A records): TC over UDP without EDNS. */
  big?: string[];
  /** Names the stand-in always truncates over UDP (answers in full over TCP). */
  truncate?: string[];
  /** Milliseconds to wait before answering. */
  delayMs?: number;
}

function answerFor(query: packet.DecodedPacket, records: StandInRecords, tcp: boolean): Buffer {
  const question = query.questions?.[0];
  const name = (question?.name ?? '').toLowerCase();
  const base = {
    type: 'response' as const,
    id: query.id ?? 0,
    flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE,
    questions: query.questions ?? [],
  };
  if (records.nxdomain?.includes(name)) {
    return packet.encode({
      ...base,
      flags: base.flags | 3, // NXDOMAIN
      answers: [],
      authorities: [
        {
          type: 'SOA',
          name: 'example',
          ttl: 900,
          data: {
            mname: 'ns.example',
            rname: 'hostmaster.example',
            serial: 1,
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum: 60,
          },
        },
      ],
    });
  }
  if (records.truncate?.includes(name) && !tcp) {
    return packet.encode({ ...base, flags: base.flags | packet.TRUNCATED_RESPONSE, answers: [] });
  }
  if (records.big?.includes(name) || records.truncate?.includes(name)) {
    const answers = Array.from({ length: 60 }, (_, i) => ({
      type: 'A' as const,
      name,
      ttl: 300,
      data: `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    }));
    return packet.encode({ ...base, answers });
  }
  const answers: packet.Answer[] = [];
  let owner = name;
  const alias = records.cname?.[name];
  if (alias) {
    answers.push({ type: 'CNAME', name, ttl: 600, data: alias });
    owner = alias;
  }
  const address = records.a?.[owner];
  if (address && question?.type === 'A') {
    answers.push({ type: 'A', name: owner, ttl: 300, data: address });
  }
  const v6 = records.aaaa?.[owner];
  if (v6 && question?.type === 'AAAA') {
    answers.push({ type: 'AAAA', name: owner, ttl: 300, data: v6 });
  }
  if (question?.type === 'MX') {
    for (const data of records.mx?.[owner] ?? []) {
      answers.push({ type: 'MX', name: owner, ttl: 300, data });
    }
  }
  return packet.encode({ ...base, answers });
}

export async function startStandIn(records: StandInRecords): Promise<StandIn> {
  const counts = new Map<string, number>();
  let silent = false;
  const note = (query: packet.DecodedPacket) => {
    const q = query.questions?.[0];
    const key = `${(q?.name ?? '').toLowerCase()} ${q?.type ?? ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  const later = (fn: () => void) =>
    records.delayMs ? setTimeout(fn, records.delayMs) : setImmediate(fn);
  let udp = dgram.createSocket('udp4');
  const onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    const query = packet.decode(msg);
    note(query);
    if (silent) return;
    later(() => udp.send(answerFor(query, records, false), rinfo.port, rinfo.address));
  };
  udp.on('message', onMessage);
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const msg = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + msg.length);
        const query = packet.decode(msg);
        note(query);
        if (silent) continue;
        const reply = answerFor(query, records, true);
        const frame = Buffer.alloc(2 + reply.length);
        frame.writeUInt16BE(reply.length, 0);
        reply.copy(frame, 2);
        socket.write(frame);
      }
    });
    socket.on('error', () => {});
  });
  // UDP and TCP on one port: the port UDP is given may be taken for TCP, so try a few.
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    port = udp.address().port;
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, '127.0.0.1', () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      break;
    } catch (error) {
      if (attempt >= 10) throw error;
      await new Promise<void>((r) => udp.close(() => r()));
      udp = dgram.createSocket('udp4');
      udp.on('message', onMessage);
    }
  }
  return {
    port,
    count: (name, type = 'A') => counts.get(`${name} ${type}`) ?? 0,
    silence(on) {
      silent = on;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((r) => udp.close(() => r())),
        new Promise<void>((r) => tcp.close(() => r())),
      ]);
    },
  };
}

/** A port that nothing answers on (bound, then closed). */
export async function deadPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface AskOptions {
  type?: packet.RecordType;
  /** Send an OPT record (EDNS) with this UDP size. */
  edns?: number | false;
  /** The client's source address (any 127.x.y.z works on Linux loopback). */
  from?: string;
  timeoutMs?: number;
  id?: number;
}

export function encodeQuery(name: string, options: AskOptions = {}): Buffer {
  return packet.encode({
    type: 'query',
    id: options.id ?? Math.floor(Math.random() * 65536),
    flags: packet.RECURSION_DESIRED,
    questions: [{ type: options.type ?? 'A', class: 'IN', name }],
    additionals:
      options.edns === false || options.edns === undefined
        ? []
        : [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: options.edns,
              extendedRcode: 0,
              ednsVersion: 0,
              flags: 0,
              flag_do: false,
              options: [],
            },
          ],
  });
}

/** Sends raw bytes over UDP and resolves with the raw reply, or null on timeout. */
export function sendUdp(
  port: number,
  bytes: Buffer,
  options: { from?: string; to?: string; timeoutMs?: number } = {},
): Promise<Buffer | null> {
  const to = options.to ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(to) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(null);
    }, options.timeoutMs ?? 2000);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg);
    });
    socket.on('error', reject);
    socket.bind(0, options.from ?? (net.isIPv6(to) ? '::1' : '127.0.0.1'), () =>
      socket.send(bytes, port, to),
    );
  });
}

/** Asks over UDP; rejects on timeout. */
export async function ask(
  port: number,
  name: string,
  options: AskOptions = {},
): Promise<packet.DecodedPacket & { raw: Buffer }> {
  const reply = await sendUdp(port, encodeQuery(name, options), options);
  if (!reply) throw new Error(`no answer for ${name} within the time`);
  return { ...packet.decode(reply), raw: reply };
}

/** Frames several queries in one TCP write and collects as many replies (in any order). */
export function askTcp(port: number, queries: Buffer[], timeoutMs = 3000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const replies: Buffer[] = [];
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`only ${replies.length} of ${queries.length} TCP replies`));
    }, timeoutMs);
    socket.on('connect', () => {
      socket.write(
        Buffer.concat(
          queries.map((q) => {
            const len = Buffer.alloc(2);
            len.writeUInt16BE(q.length);
            return Buffer.concat([len, q]);
          }),
        ),
      );
    });
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const length = buffered.readUInt16BE(0);
        replies.push(Buffer.from(buffered.subarray(2, 2 + length)));
        buffered = buffered.subarray(2 + length);
      }
      if (replies.length === queries.length) {
        clearTimeout(timer);
        socket.end();
        resolve(replies);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** The Extended DNS Error of a reply: INFO-CODE and EXTRA-TEXT, or null. */
export function edeOf(reply: packet.DecodedPacket): { code: number; text: string } | null {
  const opt = reply.additionals?.find((a) => a.type === 'OPT') as packet.OptAnswer | undefined;
  const option = opt?.options?.find((o) => (o as { code: number }).code === 15) as
    | { code: number; data: Buffer }
    | undefined;
  if (!option) return null;
  return { code: option.data.readUInt16BE(0), text: option.data.subarray(2).toString('utf8') };
}

export const rcodeOf = (raw: Buffer) => raw[3]! & 0x0f;

/** The TTLs of a reply's answers. */
export const ttlsOf = (reply: packet.DecodedPacket) =>
  (reply.answers ?? []).map((a) => (a as { ttl?: number }).ttl);
