// The readable text of body parts, for the content rules: plain text as it is, HTML with its
// tags, comments, scripts and styles removed and entities decoded. One linear pass, no regular
// expression that can backtrack, and a cap on what is kept.

import { decodeBytes } from './headers.ts';

/** Keeps text up to a number of characters; what comes after the cap is dropped. */
export class TextCollector {
  #pieces: string[] = [];
  #length = 0;
  #truncated = false;

  constructor(readonly max: number) {}

  get remaining(): number {
    return Math.max(0, this.max - this.#length);
  }

  get truncated(): boolean {
    return this.#truncated;
  }

  add(text: string): void {
    const clean = text.trim();
    if (clean === '') return;
    const piece = this.#pieces.length > 0 ? `\n\n${clean}` : clean;
    if (piece.length > this.remaining) {
      this.#truncated = true;
      const cut = piece.slice(0, this.remaining);
      if (cut !== '') this.#pieces.push(cut);
      this.#length = this.max;
      return;
    }
    this.#pieces.push(piece);
    this.#length += piece.length;
  }

  get value(): string {
    return this.#pieces.join('');
  }
}

const NAMED: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  copy: '©',
  reg: '®',
  trade: '™',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  bull: '•',
  middot: '·',
  pound: '£',
  euro: '€',
  eacute: 'é',
  egrave: 'è',
  agrave: 'à',
  ccedil: 'ç',
  ouml: 'ö',
  uuml: 'ü',
  auml: 'ä',
  szlig: 'ß',
};

const ENTITY = /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z][a-zA-Z0-9]{1,31}));?/g;

function codePoint(n: number): string {
  if (n <= 0 || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return '\ufffd';
  return String.fromCodePoint(n);
}

export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY, (all, dec?: string, hex?: string, name?: string) => {
    if (dec !== undefined) return codePoint(Number(dec));
    if (hex !== undefined) return codePoint(Number.parseInt(hex, 16));
    return NAMED[name!.toLowerCase()] ?? all;
  });
}

const BLOCK_TAGS = new Set([
  'br',
  'p',
  'div',
  'li',
  'tr',
  'table',
  'ul',
  'ol',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'blockquote',
  'pre',
  'hr',
  'section',
  'article',
  'header',
  'footer',
]);
const SKIPPED_CONTENT = new Set(['script', 'style', 'head', 'title', 'noscript', 'template']);

/** Whether a character code is an ASCII letter, or (with digits) a letter or a digit. */
const isLetter = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
const isLetterOrDigit = (c: number) => isLetter(c) || (c >= 48 && c <= 57);

/** The name of the tag that starts at `lt` (`<p`, `</td`), lower case; '' when it is no tag. */
function tagName(html: string, lt: number, gt: number): string {
  let start = lt + 1;
  if (html.charCodeAt(start) === 47 /* / */) start++;
  if (!isLetter(html.charCodeAt(start))) return '';
  let end = start + 1;
  // Names are short; a longer run is cut as the pattern /^<\/?([a-zA-Z][a-zA-Z0-9]*)/ on the
  // first 40 characters would.
  const last = Math.min(gt, lt + 40);
  while (end < last && isLetterOrDigit(html.charCodeAt(end))) end++;
  return html.slice(start, end).toLowerCase();
}

/** The text of an HTML document, tags removed. */
export function htmlToText(html: string): string {
  const out: string[] = [];
  // Lower-cased only when a script or style has to be skipped to its end tag.
  let lower: string | null = null;
  let i = 0;
  const n = html.length;
  while (i < n) {
    const lt = html.indexOf('<', i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i) out.push(decodeEntities(html.slice(i, textEnd)));
    if (lt < 0) break;
    if (html.startsWith('<!--', lt)) {
      const close = html.indexOf('-->', lt + 4);
      i = close < 0 ? n : close + 3;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt < 0) break;
    const name = tagName(html, lt, gt);
    i = gt + 1;
    if (name === '') continue;
    const closing = html.charCodeAt(lt + 1) === 47;
    if (!closing && SKIPPED_CONTENT.has(name) && html.charCodeAt(gt - 1) !== 47) {
      lower ??= html.toLowerCase();
      const end = lower.indexOf(`</${name}`, i);
      if (end < 0) break;
      const endGt = html.indexOf('>', end);
      i = endGt < 0 ? n : endGt + 1;
      continue;
    }
    if (BLOCK_TAGS.has(name)) out.push('\n');
    else if (name === 'td' || name === 'th') out.push(' ');
  }
  return out
    .join('')
    .replace(/[ \t\f\v\u00a0]+/g, ' ')
    .replace(/ ?\n[ \n]*/g, '\n')
    .trim();
}

/** Decodes a text part's bytes in its declared charset. */
export function partText(bytes: Uint8Array, type: string, charset: string | null): string {
  const text = decodeBytes(bytes, charset);
  return type === 'text/html' ? htmlToText(text) : text;
}
