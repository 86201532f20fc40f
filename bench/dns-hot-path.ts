// Benchmark: the DNS filter's per-query work alone, without sockets. The real filter is started
// (bench/dns-setup.ts: the 18 UT1 categories, the pack, a staff device at 127.0.0.1) and its UDP
// listener's message handler is called directly with prebuilt queries, replies counted instead of
// sent; allowed names are forwarded once to a stand-in in this process, then answered from the
// cache. Printed: CPU time per query (user and system, the minimum and median of the batches) and
// the heap. It leaves out what the kernel and Node's dgram cost per packet (about 6 to 7 µs on the
// machine of BASELINES.md, the same for a bare echo server): bench/dns.ts measures the whole.
//
//   node --expose-gc --import tsx bench/dns-hot-path.ts [--batches 6] [--rounds 4] [--activity]
//
// Queries as in bench/dns.ts's steady state: 100,000 (A, no EDNS), half listed names (with www.
// or another subdomain), half 5,000 allowed names.
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ALLOWED_ADDRESS, listedNames, queryFile, startBenchFilter } from './dns-setup.ts';

const { values: args } = parseArgs({
  options: {
    batches: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '4' },
    activity: { type: 'boolean', default: false },
  },
});

function encode(name: string, id: number): Buffer {
  const labels = name.split('.').map((l) => Buffer.from([l.length, ...Buffer.from(l, 'latin1')]));
  const header = Buffer.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

/** The upstream stand-in: every A query answered with ALLOWED_ADDRESS, TTL 300. */
async function standIn(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  const address = Buffer.from(ALLOWED_ADDRESS.split('.').map(Number));
  socket.on('message', (query, rinfo) => {
    let p = 12;
    while (query[p]! !== 0) p += query[p]! + 1;
    const question = query.subarray(12, p + 5);
    const reply = Buffer.concat([
      Buffer.from([query[0]!, query[1]!, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]),
      question,
      Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4]),
      address,
    ]);
    socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  socket.setRecvBufferSize(4 << 20);
  return socket;
}

// The filter's sockets, to find its UDP listener among them.
const sockets: dgram.Socket[] = [];
const createSocket = dgram.createSocket;
(dgram as { createSocket: typeof dgram.createSocket }).createSocket = ((
  ...a: Parameters<typeof dgram.createSocket>
) => {
  const socket = createSocket(...a);
  sockets.push(socket);
  return socket;
}) as typeof dgram.createSocket;

const dir = mkdtempSync(join(tmpdir(), 'custos-bench-dns-hot-'));
const upstream = await standIn();
const bench = await startBenchFilter({
  dir,
  port: 0,
  upstream: `127.0.0.1:${upstream.address().port}`,
  recorded: args.activity,
});
const listener = sockets.find((s) => {
  try {
    return s.address().port === bench.filter.address.udp.port;
  } catch {
    return false;
  }
})!;
const onMessage = listener.listeners('message')[0] as (
  msg: Buffer,
  rinfo: dgram.RemoteInfo,
) => void;
let sent = 0;
(listener as { send: unknown }).send = () => {
  sent++;
};
const rinfo: dgram.RemoteInfo = { address: '127.0.0.1', family: 'IPv4', port: 40000, size: 0 };

const lines = queryFile(listedNames(), 100_000, 5000, 'warm').trim().split('\n');
const queries = lines.map((line, i) => encode(line.split(' ')[0]!, i & 0xffff));
// Each datagram arrives in a Buffer of its own: a copy per query, as dgram gives.
const pass = () => {
  for (const q of queries) onMessage(Buffer.from(q), rinfo);
};

// Warm-up: the allowed names forwarded in small steps (the stand-in shares this thread), until
// every one is cached; then two passes for the code to be compiled.
for (let tries = 0; tries < 20 && bench.filter.stats().cacheEntries < 5000; tries++) {
  for (let i = 0; i < queries.length; i += 200) {
    for (const q of queries.slice(i, i + 200)) onMessage(Buffer.from(q), rinfo);
    await new Promise((r) => setTimeout(r, 1));
  }
  await new Promise((r) => setTimeout(r, 100));
}
pass();
pass();
const rounds = Number(args.rounds);
const perQuery: number[] = [];
for (let b = 0; b < Number(args.batches); b++) {
  const before = process.cpuUsage();
  for (let i = 0; i < rounds; i++) {
    pass();
    if (args.activity) await new Promise((r) => setImmediate(r));
  }
  const used = process.cpuUsage(before);
  perQuery.push(((used.user + used.system) * 1000) / (rounds * queries.length));
}
perQuery.sort((a, b) => a - b);
(globalThis as { gc?: () => void }).gc?.();
const stats = bench.filter.stats();
console.log(
  `CPU per query: min ${perQuery[0]!.toFixed(0)} ns, median ${perQuery[perQuery.length >> 1]!.toFixed(0)} ns (${perQuery.length} batches of ${rounds * queries.length}); ` +
    `heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB; ` +
    `${sent} replies; ${stats.blocked} blocked, ${stats.cacheHits} from the cache, ${stats.forwarded} forwarded${args.activity ? `, ${stats.activityMerged} lookups merged into activity records` : ''}`,
);
await bench.stop();
upstream.close();
rmSync(dir, { recursive: true, force: true });
