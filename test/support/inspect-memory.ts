// Measures what inspectMessage adds to peak memory for one message file, in a fresh process:
//   node --expose-gc --import tsx test/support/inspect-memory.ts message.eml
// Prints one JSON line. The peak is the process's high-water resident set size, reset just before
// the call on Linux (/proc/self/clear_refs), so it sees every transient buffer of the call and
// nothing from before it. Elsewhere it falls back to getrusage's maximum, which may include
// start-up. Test and benchmark helper.
import { readFileSync, writeFileSync } from 'node:fs';
import { inspectMessage } from '../../src/mail/inspect/index.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: inspect-memory.ts <message file>');
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

// Load every module the walk uses before measuring.
await inspectMessage(Buffer.from('Content-Type: application/zip\r\n\r\nPK\u0003\u0004'));

/** Resets the kernel's high-water mark of resident memory; false where that cannot be done. */
function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function peak(): number {
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

const raw = readFileSync(file);
gc();
const reset = resetPeak();
const before = process.memoryUsage();
const peakBefore = peak();
const started = performance.now();
const inspection = await inspectMessage(raw);
const ms = performance.now() - started;
const peakAfter = peak();

console.log(
  JSON.stringify({
    rawBytes: raw.length,
    attachments: inspection.attachments.map((a) => ({ path: a.path, size: a.size })),
    problems: inspection.problems.map((p) => p.code),
    ms: Math.round(ms),
    peakReset: reset,
    rssBefore: before.rss,
    peakBefore,
    peakAfter,
    /** Peak resident memory above the resident size just before the call. */
    extraPeak: peakAfter - before.rss,
  }),
);
