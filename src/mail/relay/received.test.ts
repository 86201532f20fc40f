import { describe, expect, it } from 'vitest';
import {
  addressLiteral,
  countReceived,
  MAX_HOPS,
  prependTrace,
  protocolOf,
  receivedHeader,
  rfc5322Date,
  type TraceInfo,
} from './received.ts';

const AT = new Date('2025-07-01T09:05:03Z');
const ID = '0197c4d2-3b40-7a1e-9f00-0123456789ab';

const trace = (over: Partial<TraceInfo> = {}): TraceInfo => ({
  helo: 'mail.example.org',
  clientIp: '192.0.2.25',
  clientName: 'mail.example.org',
  hostname: 'custos-mail.palfreyinfant.co.uk',
  tls: false,
  authenticated: false,
  id: ID,
  recipients: ['office@palfreyinfant.co.uk'],
  at: AT,
  ...over,
});

const lines = (header: string) => header.replace(/\r\n$/, '').split('\r\n');
const unfolded = (header: string) => header.replace(/\r\n$/, '').replace(/\r\n\t/g, ' ');

describe('the Received header (RFC 5321 section 4.4)', () => {
  it('names the client by HELO, reverse name and address, us, the protocol, our id, the one recipient and the time', () => {
    expect(unfolded(receivedHeader(trace()))).toBe(
      `Received: from mail.example.org (mail.example.org [192.0.2.25]) by custos-mail.palfreyinfant.co.uk (Custos) with ESMTP id ${ID} for <office@palfreyinfant.co.uk>; Tue, 1 Jul 2025 09:05:03 +0000`,
    );
  });

  it('folds before its clauses, under 78 characters, continuing with a tab, and ends with CRLF', () => {
    const header = receivedHeader(trace());
    expect(header).toBe(
      [
        'Received: from mail.example.org (mail.example.org [192.0.2.25])',
        '\tby custos-mail.palfreyinfant.co.uk (Custos)',
        `\twith ESMTP id ${ID}`,
        '\tfor <office@palfreyinfant.co.uk>; Tue, 1 Jul 2025 09:05:03 +0000',
        '',
      ].join('\r\n'),
    );
    expect(header.endsWith('\r\n')).toBe(true);
    expect(header).not.toMatch(/[^\r]\n/);
    const all = lines(header);
    expect(all.length).toBeGreaterThan(1);
    for (const line of all) expect(line.length).toBeLessThanOrEqual(78);
    for (const line of all.slice(1)) expect(line.startsWith('\t')).toBe(true);
  });

  it('keeps every line under 998 characters even with a very long HELO, which is cut to 255', () => {
    const header = receivedHeader(trace({ helo: 'a'.repeat(2000), clientName: 'b'.repeat(600) }));
    for (const line of lines(header)) expect(line.length).toBeLessThanOrEqual(998);
    expect(unfolded(header)).toContain(`from ${'a'.repeat(255)} (`);
  });

  it('ESMTPS over STARTTLS, ESMTPA and ESMTPSA when signed in (RFC 3848)', () => {
    expect(protocolOf(false, false)).toBe('ESMTP');
    expect(protocolOf(true, false)).toBe('ESMTPS');
    expect(protocolOf(false, true)).toBe('ESMTPA');
    expect(protocolOf(true, true)).toBe('ESMTPSA');
    expect(unfolded(receivedHeader(trace({ tls: true, authenticated: true })))).toContain(
      ' with ESMTPSA id ',
    );
  });

  it('shows the bare address literal when there is no reverse name, and IPv6 as IPv6:', () => {
    expect(unfolded(receivedHeader(trace({ clientName: '[192.0.2.25]' })))).toContain(
      'from mail.example.org ([192.0.2.25]) by',
    );
    expect(addressLiteral('2001:db8::25')).toBe('[IPv6:2001:db8::25]');
    expect(
      unfolded(receivedHeader(trace({ clientIp: '2001:db8::25', clientName: null, helo: null }))),
    ).toContain('from [IPv6:2001:db8::25] ([IPv6:2001:db8::25]) by');
  });

  it('names no recipient when there are several (each would learn of the others), or one that is not ASCII', () => {
    const two = unfolded(receivedHeader(trace({ recipients: ['a@x.org', 'b@x.org'] })));
    expect(two).not.toContain(' for ');
    expect(two).toContain(`id ${ID}; Tue, 1 Jul 2025`);
    expect(unfolded(receivedHeader(trace({ recipients: ['jöhn@x.org'] })))).not.toContain(' for ');
  });

  it('a HELO cannot close the comment or start a new field', () => {
    const header = receivedHeader(trace({ helo: 'evil) (by\r\nX-Injected: yes' }));
    expect(lines(header).some((l) => l.startsWith('X-Injected'))).toBe(false);
    expect(unfolded(header)).toContain('from evil???by??X-Injected:?yes (');
  });

  it('dates in RFC 5322 form', () => {
    expect(rfc5322Date(new Date('2026-12-31T23:59:59Z'))).toBe('Thu, 31 Dec 2026 23:59:59 +0000');
  });
});

describe('putting it on top', () => {
  const header =
    'Received: from a by b (Custos) with ESMTP id 1; Tue, 1 Jul 2025 09:05:03 +0000\r\n';

  it('goes before the first header field, every byte after it unchanged', () => {
    const raw = Buffer.from('From: a@x.org\r\nSubject: hi\r\n\r\nbody\r\n');
    const out = prependTrace(raw, header);
    expect(out.subarray(header.length).equals(raw)).toBe(true);
    expect(out.subarray(0, header.length).toString()).toBe(header);
  });

  it('a message with no header section gains an empty line, so its first line stays body', () => {
    const raw = Buffer.from('just text\r\n');
    expect(prependTrace(raw, header).toString()).toBe(`${header}\r\njust text\r\n`);
    const empty = Buffer.from('\r\nbody\r\n');
    expect(prependTrace(empty, header).toString()).toBe(`${header}\r\nbody\r\n`);
  });
});

describe('the hop count (RFC 5321 section 6.3)', () => {
  const message = (n: number, extra = '') =>
    Buffer.from(
      `${'Received: from x by y; Tue, 1 Jul 2025 09:05:03 +0000\r\n'.repeat(n)}Subject: s\r\n\r\n${extra}`,
    );

  it('counts the Received fields of the header section only', () => {
    expect(countReceived(message(3, 'Received: in the body\r\n'))).toBe(3);
    expect(countReceived(Buffer.from('received: lower case\r\n\r\n'))).toBe(1);
  });

  it('stops counting once past the limit', () => {
    expect(countReceived(message(MAX_HOPS + 40))).toBe(MAX_HOPS + 1);
  });
});
