// inspectMessage: what one raw RFC 5322 message contains, for the gateway's rules (SYS-4, SYS-7,
// SYS-8) and the monitoring console (MON-3). No network, no database; never throws.

import { parseAddressHeader } from 'mailparser';
import type { CompiledPolicy } from '../../policy/compiled.ts';
import type { Inspection } from '../types.ts';
import { decodeWords, type HeaderBlock, readHeaderBlock } from './headers.ts';
import {
  type InspectLimits,
  type InspectOptions,
  type InspectSettings,
  inspectOptionsFromPolicy,
  resolveOptions,
} from './options.ts';
import { Walk } from './walk.ts';

const NO_HEADERS: HeaderBlock = { fields: new Map(), bodyStart: 0, problem: null };

function addresses(values: readonly string[] | undefined): string[] {
  if (!values || values.length === 0) return [];
  try {
    // mailparser's own address parser: groups, quoted and encoded display names, comments.
    // Punycode domains stay ASCII, the form the pack's domains are compared in.
    const parsed = parseAddressHeader([...values], { flatten: true, decodePunycode: false });
    return parsed.value.map((a) => (a.address ?? '').trim()).filter((a) => a.includes('@'));
  } catch {
    return [];
  }
}

function isoDate(value: string | undefined): string | null {
  if (value === undefined) return null;
  const ms = Date.parse(value.replace(/\([^)]*\)/g, ' ').trim());
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** Marked Private or Personal (MON-3); matched as policy/decisions/monitoring.ts does. */
function isPrivate(block: HeaderBlock, subject: string, settings: InspectSettings): boolean {
  for (const header of settings.privateHeaders) {
    const values = block.fields.get(header.name.trim().toLowerCase()) ?? [];
    const wanted = header.values.map((v) => v.trim().toLowerCase());
    if (values.some((v) => wanted.includes(decodeWords(v).trim().toLowerCase()))) return true;
  }
  const lower = subject.toLowerCase();
  return settings.privateSubjectMarkers.some((m) => lower.includes(m.toLowerCase()));
}

/**
 * Walks a raw message and reports what it contains: its main headers, readable text, every
 * attachment (in nested messages and zip archives too) with its type read from its bytes and its
 * SHA-256, and the limits or damage met on the way. Resolves for any input bytes.
 */
export async function inspectMessage(
  raw: Buffer | Uint8Array,
  options: InspectOptions = {},
): Promise<Inspection> {
  let settings: InspectSettings;
  try {
    settings = resolveOptions(options);
  } catch {
    settings = resolveOptions();
  }
  const walk = new Walk(settings);
  let head = NO_HEADERS;
  try {
    const buf = Buffer.isBuffer(raw)
      ? raw
      : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    head = readHeaderBlock(buf, true);
    await walk.message(buf, head, '', 0, 0);
  } catch (err) {
    walk.problem(
      'malformed-mime',
      `the message could not be read to the end: ${err instanceof Error ? err.message : String(err)}`,
    );
  }

  let subject = '';
  try {
    subject = decodeWords(head.fields.get('subject')?.[0] ?? '').trim();
  } catch {
    subject = head.fields.get('subject')?.[0] ?? '';
  }
  const messageId = head.fields.get('message-id')?.[0]?.trim() ?? '';
  let isPrivateMessage = false;
  try {
    isPrivateMessage = isPrivate(head, subject, settings);
  } catch {
    isPrivateMessage = false;
  }
  return {
    messageId: messageId === '' ? null : messageId,
    subject,
    from: addresses(head.fields.get('from'))[0] ?? null,
    to: addresses(head.fields.get('to')),
    cc: addresses(head.fields.get('cc')),
    date: isoDate(head.fields.get('date')?.[0]),
    text: walk.text.value,
    attachments: walk.attachments,
    partCount: walk.parts,
    problems: walk.problems,
    private: isPrivateMessage,
  };
}

/** inspectMessage with the pack's attachment lists and private markers, and any limits. */
export function inspectWithPolicy(
  raw: Buffer | Uint8Array,
  policy: Pick<CompiledPolicy, 'mail' | 'monitoring'>,
  limits: Partial<InspectLimits> = {},
): Promise<Inspection> {
  let options: InspectOptions;
  try {
    options = inspectOptionsFromPolicy(policy, limits);
  } catch {
    options = limits;
  }
  return inspectMessage(raw, options);
}
