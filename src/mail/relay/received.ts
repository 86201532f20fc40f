// The trace header the relay puts on every message it passes on (RFC 5321 section 4.4): who sent
// it to us, who we are, how it came (ESMTP, S with STARTTLS, A with SMTP AUTH: RFC 3848), our
// record id and when. It is added to the bytes on their way out only, after the rules and the
// disclaimer, so nothing the rules read or the disclaimer parses changes. Also the hop count that
// stops mail going round in a loop (RFC 5321 section 6.3). Pure.
import { isIP } from 'node:net';

export interface TraceInfo {
  /** The name the client gave in EHLO or HELO. */
  helo: string | null;
  clientIp: string;
  /** The client's name by reverse DNS, when it has one. */
  clientName: string | null;
  /** Our own host name. */
  hostname: string;
  tls: boolean;
  authenticated: boolean;
  /** Our record id of the message. */
  id: string;
  recipients: readonly string[];
  at: Date;
}

/** Postfix's hopcount_limit: more Received headers than this means mail going round in a loop. */
export const MAX_HOPS = 50;

/** Header lines are folded before this many characters where they can be (RFC 5322 2.1.1). */
const FOLD_AT = 78;

/** "[192.0.2.1]", "[IPv6:2001:db8::1]" (RFC 5321 4.1.3). */
export function addressLiteral(ip: string): string {
  return isIP(ip) === 6 ? `[IPv6:${ip}]` : `[${ip}]`;
}

/**
 * A name the client chose, made safe for a header: printable ASCII without the characters that
 * would end a comment or a word, at most 255 characters (RFC 1035's limit for a domain name).
 */
function word(value: string): string {
  return value.replace(/[^\x21-\x7e]|[()\\;]/g, '?').slice(0, 255);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** An RFC 5322 date-time in UTC: "Tue, 1 Jul 2025 09:05:00 +0000". */
export function rfc5322Date(at: Date): string {
  return `${DAYS[at.getUTCDay()]}, ${at.getUTCDate()} ${MONTHS[at.getUTCMonth()]} ${at.getUTCFullYear()} ${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())} +0000`;
}

/** The protocol of the "with" clause (RFC 3848). */
export function protocolOf(tls: boolean, authenticated: boolean): string {
  return `ESMTP${tls ? 'S' : ''}${authenticated ? 'A' : ''}`;
}

/**
 * Joins the clauses ("from ...", "by ...", "with ... id ...", "for ...; date") with spaces,
 * starting a new line (CRLF, tab) before a clause that would pass 78 characters, and inside a
 * clause only when it is too long for a line of its own.
 */
function fold(clauses: readonly (readonly string[])[]): string {
  const lines: string[] = [];
  let line = '';
  const add = (text: string) => {
    if (line === '') line = text;
    else if (line.length + 1 + text.length <= FOLD_AT) line += ` ${text}`;
    else {
      lines.push(line);
      line = `\t${text}`;
    }
  };
  for (const clause of clauses) {
    const whole = clause.join(' ');
    if (line === '' || line.length + 1 + whole.length <= FOLD_AT || 1 + whole.length > FOLD_AT) {
      for (const w of clause) add(w);
    } else {
      lines.push(line);
      line = `\t${whole}`;
    }
  }
  lines.push(line);
  return lines.join('\r\n');
}

/** The whole header field, folded, ending with CRLF. */
export function receivedHeader(t: TraceInfo): string {
  const literal = addressLiteral(t.clientIp);
  const helo = t.helo ? word(t.helo) : literal;
  // smtp-server gives "[ip]" when the reverse look-up found nothing.
  const name = t.clientName && !t.clientName.startsWith('[') ? word(t.clientName) : null;
  const from = [
    'Received:',
    'from',
    helo,
    ...(name ? [`(${name}`, `${literal})`] : [`(${literal})`]),
  ];
  const by = ['by', word(t.hostname), '(Custos)'];
  const how = ['with', protocolOf(t.tls, t.authenticated), 'id', word(t.id)];
  const date = rfc5322Date(t.at);
  // The recipient only when there is exactly one (a list would tell each recipient of the
  // others), and only in ASCII: an internationalised address needs SMTPUTF8 all the way.
  const single = t.recipients.length === 1 ? t.recipients[0]! : null;
  const clauses =
    single && /^[\x21-\x7e]+$/.test(single) && !/[<>()\\;]/.test(single)
      ? [from, by, how, ['for', `<${single}>;`, date]]
      : [from, by, [...how.slice(0, -1), `${how.at(-1)};`], [date]];
  return `${fold(clauses)}\r\n`;
}

/** The end of the first line, or -1. */
const lineEnd = (raw: Buffer) => raw.indexOf(0x0a);

/**
 * The header to put on top of the message, as bytes. A message whose first line is not a header
 * field (it has no header section at all) gets an empty line after it, so its text stays its body.
 */
export function headerFor(raw: Buffer, header: string): Buffer {
  const end = lineEnd(raw);
  const first = raw.subarray(0, end < 0 ? raw.length : end).toString('latin1');
  const startsWithHeader = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/.test(first);
  const empty = first === '' || first === '\r';
  return Buffer.from(startsWithHeader || empty ? header : `${header}\r\n`, 'latin1');
}

/** The message with the header on top, as one buffer. */
export function prependTrace(raw: Buffer, header: string): Buffer {
  return Buffer.concat([headerFor(raw, header), raw]);
}

/** The Received fields in the header section (up to `limit` + 1: enough to compare). */
export function countReceived(raw: Buffer, limit = MAX_HOPS): number {
  let count = 0;
  let start = 0;
  while (start < raw.length && count <= limit) {
    const end = raw.indexOf(0x0a, start);
    const stop = end < 0 ? raw.length : end;
    const line = raw.subarray(start, stop);
    if (line.length === 0 || (line.length === 1 && line[0] === 0x0d)) break; // end of header
    if (line.length >= 9 && line.subarray(0, 9).toString('latin1').toLowerCase() === 'received:') {
      count++;
    }
    if (end < 0) break;
    start = end + 1;
  }
  return count;
}
