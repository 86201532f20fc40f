// Word-list matching for the mail content rules (MAIL-5, MAIL-13). A listed word matches a whole
// word of the message, whatever its case or accents, and through the usual disguises: leetspeak
// (1d10t, $lag, b!tch), stretched letters (idiooot), and letters spaced or dotted apart (i d i o t,
// i.d.i.o.t, id-iot). It never matches inside a longer word, so Scunthorpe, Essex, cocktail and
// tartan pass. How each disguise is undone, and why each stops where it does:
//
// - The text becomes tokens (runs of letters, digits, and @ $ ! where they sit inside a word);
//   each character is folded to a lower-case base letter, leetspeak digits and symbols included.
// - A listed word is compared by its runs of letters. A run the word has once may be stretched to
//   three or more in the message, but not to two: two is how English spells many innocent words
//   that a stretched listed word would otherwise hit (good is not a stretched god, Twatt in Orkney
//   is not stretched). A run the word has twice may appear two or more times.
// - Tokens join into one word across separators only where a disguise needs it: single letters a
//   few separators apart on one line (i d i o t), or pieces with one or two of . - _ * ~ ' between
//   them and no space (idi.ot). A letter-spaced chain must be the listed word as a whole, so the
//   letter-spaced heading S T A R T does not contain tart.
// - The words of a multi-word entry ("stupid cow") match across any short run of white space,
//   line breaks included, or written together (stupidcow).
// - The message's 1, !, and a capital I all read as i, and a listed word's l may be written as
//   any of them ($1ag); -s, -es, -ed and -ing endings count as the word (idiots, retarded,
//   slagged).
// Matching is one pass over the text to make tokens, then a walk of a trie of the listed words from
// each token; most tokens leave the trie at their first or second letter.

const OTHER = 0; // separators that only join letter-spaced chains: , ; : / | ( ) and so on
const LETTER = 1;
const DIGIT = 2; // a letter in leetspeak where it has one (0 1 3 4 5 7), else itself
const SYMBOL = 3; // @ $: part of a word when next to one
const BANG = 4; // !: an i only between two characters of a word
const SPACE = 5;
const NEWLINE = 6;
const INNER = 7; // . - _ * ~ ' ` ^ + and dashes: may sit inside a disguised word
const IGNORE = 8; // zero-width characters, soft hyphens, combining marks: as if absent

const CLASS_SHIFT = 21;
const CODE_MASK = (1 << CLASS_SHIFT) - 1;
const pack = (cls: number, code: number): number => (cls << CLASS_SHIFT) | code;

const ASCII = new Int32Array(128);
{
  for (let c = 0; c < 128; c++) ASCII[c] = pack(c < 32 ? IGNORE : OTHER, c);
  for (let c = 97; c <= 122; c++) ASCII[c] = pack(LETTER, c);
  for (let c = 65; c <= 90; c++) ASCII[c] = pack(LETTER, c + 32);
  for (let c = 48; c <= 57; c++) ASCII[c] = pack(DIGIT, c);
  const leet: Record<string, string> = { 0: 'o', 1: 'i', 3: 'e', 4: 'a', 5: 's', 7: 't' };
  for (const [digit, letter] of Object.entries(leet)) {
    ASCII[digit.charCodeAt(0)] = pack(DIGIT, letter.charCodeAt(0));
  }
  ASCII[64] = pack(SYMBOL, 97); // @ -> a
  ASCII[36] = pack(SYMBOL, 115); // $ -> s
  ASCII[33] = pack(BANG, 105); // ! -> i
  for (const c of ' \t\v\f') ASCII[c.charCodeAt(0)] = pack(SPACE, 32);
  for (const c of '\n\r') ASCII[c.charCodeAt(0)] = pack(NEWLINE, 10);
  for (const c of ".-_*~'`^+") ASCII[c.charCodeAt(0)] = pack(INNER, c.charCodeAt(0));
}

/** Look-alike letters from other scripts that stand in for Latin ones. */
const CONFUSABLES = new Map<number, number>(
  [
    ['а', 'a'],
    ['в', 'b'],
    ['е', 'e'],
    ['і', 'i'],
    ['ӏ', 'l'],
    ['ј', 'j'],
    ['к', 'k'],
    ['м', 'm'],
    ['н', 'h'],
    ['о', 'o'],
    ['р', 'p'],
    ['с', 'c'],
    ['т', 't'],
    ['у', 'y'],
    ['х', 'x'],
    ['ѕ', 's'],
    ['ԁ', 'd'],
    ['ɡ', 'g'],
    ['α', 'a'],
    ['ε', 'e'],
    ['ι', 'i'],
    ['κ', 'k'],
    ['ν', 'v'],
    ['ο', 'o'],
    ['ρ', 'p'],
    ['τ', 't'],
    ['υ', 'u'],
    ['χ', 'x'],
  ].map(([from, to]) => [from!.codePointAt(0)!, to!.codePointAt(0)!]),
);

const INNER_PUNCTUATION = new Set([0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2019, 0xb7, 0x2022]);
const ZERO_WIDTH = new Set([0xad, 0x34f, 0x180e, 0x200b, 0x200c, 0x200d, 0x2060, 0xfeff]);

const wide = new Map<number, number>();
const WIDE_CACHE_LIMIT = 20_000;

function foldWide(cp: number): number {
  let folded = wide.get(cp);
  if (folded !== undefined) return folded;
  folded = classifyWide(cp);
  if (wide.size >= WIDE_CACHE_LIMIT) wide.clear();
  wide.set(cp, folded);
  return folded;
}

function classifyWide(cp: number): number {
  if (ZERO_WIDTH.has(cp)) return pack(IGNORE, 0);
  const ch = String.fromCodePoint(cp);
  if (/\p{M}/u.test(ch)) return pack(IGNORE, 0);
  // Full-width forms and mathematical letters decompose to plain ASCII: read them as that.
  const decomposed = ch.normalize('NFKD');
  const base = decomposed.codePointAt(0)!;
  if (base < 128 && /^.\p{M}*$/u.test(decomposed)) return ASCII[base]!;
  if (/\p{L}/u.test(ch)) {
    const lower = String.fromCodePoint(base).toLowerCase().codePointAt(0)!;
    return pack(LETTER, CONFUSABLES.get(lower) ?? lower);
  }
  if (/\p{N}/u.test(ch)) return pack(DIGIT, cp);
  if (cp === 0x85 || cp === 0x2028 || cp === 0x2029) return pack(NEWLINE, 10);
  if (/\s/u.test(ch)) return pack(SPACE, 32);
  if (INNER_PUNCTUATION.has(cp)) return pack(INNER, cp);
  return pack(OTHER, cp);
}

function fold(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c < 128) return ASCII[c]!;
  return foldWide(text.codePointAt(i)!);
}

// Token flags. The JOIN flags describe the gap before the token.
const HAS_LETTER = 1;
const SINGLE = 2;
const SHORT_GAP = 4; // 1-3 separators, no line break
const SPACED = 8; // joined to the previous token as a letter-spaced chain
const INNER_JOIN = 16; // 1-2 of . - _ * ~ ' between pieces, no space
const WS_JOIN = 32; // only white space (at most MAX_WORD_GAP), where the words of an entry may meet
const MAX_WORD_GAP = 10;
/**
 * Tokens one match may span. A letter repeated across tokens ("ii ii ii ...") joins runs without
 * moving in the trie, so without a bound each of n tokens could walk all the others.
 */
const MAX_WALK_TOKENS = 64;

/** The message text cut into folded words, made once and read by every word-list rule. */
export interface Tokens {
  readonly count: number;
  /** The folded characters of every token, one token after another. */
  readonly chars: Int32Array;
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly flags: Uint8Array;
}

function classAfter(text: string, i: number): number {
  return i < text.length ? fold(text, i) >>> CLASS_SHIFT : OTHER;
}

// Working space reused from message to message, so that cutting a message allocates (and later
// collects) no arrays the size of its text. Texts longer than SCRATCH_LIMIT get arrays of their
// own, so one huge message does not keep its memory.
const SCRATCH_LIMIT = 1 << 20;
let scratch = buffers(4096);

function buffers(size: number) {
  const room = (size >> 1) + 1; // tokens are at least one character apart
  return {
    chars: new Int32Array(size),
    start: new Int32Array(room),
    end: new Int32Array(room),
    flags: new Uint8Array(room),
  };
}

/**
 * Cuts the text into folded tokens. The arrays may be shared working space: the result is valid
 * until the next call, which is all a rule evaluation needs (it is synchronous).
 */
export function tokenise(text: string): Tokens {
  const length = text.length;
  let space = scratch;
  if (length > space.chars.length) {
    space = buffers(length);
    if (length <= SCRATCH_LIMIT) scratch = space;
  }
  // Each token's start, end and flags are written when it ends, so nothing needs clearing.
  const { chars, start, end, flags } = space;
  let count = 0;
  let used = 0;
  let inToken = false;
  let tokenFlags = 0;
  let tokenStart = 0;
  let gapLength = 0;
  let gapNewline = false;
  let gapInner = true; // every separator so far is INNER
  let gapWhite = true; // every separator so far is white space

  for (let i = 0; i < length; i++) {
    const unit = text.charCodeAt(i);
    let folded: number;
    if (unit < 128) folded = ASCII[unit]!;
    else {
      const cp = text.codePointAt(i)!;
      if (cp > 0xffff) i++;
      folded = foldWide(cp);
    }
    let cls = folded >>> CLASS_SHIFT;
    if (cls === SYMBOL) {
      const next = classAfter(text, i + 1);
      if (!(inToken || next === LETTER || next === DIGIT || next === SYMBOL)) cls = OTHER;
    } else if (cls === BANG) {
      const next = classAfter(text, i + 1);
      if (!(inToken && (next === LETTER || next === DIGIT))) cls = OTHER;
    }
    if (cls >= LETTER && cls <= BANG) {
      if (!inToken) {
        tokenFlags = 0;
        if (count > 0) {
          if (gapLength <= 3 && !gapNewline) tokenFlags |= SHORT_GAP;
          if (gapInner && gapLength <= 2) tokenFlags |= INNER_JOIN;
          if (gapWhite && gapLength <= MAX_WORD_GAP) tokenFlags |= WS_JOIN;
        }
        tokenStart = used;
        inToken = true;
      }
      if (cls === LETTER) tokenFlags |= HAS_LETTER;
      chars[used++] = folded & CODE_MASK;
      // The rest of a plain ASCII word, without the general case's tests.
      while (i + 1 < length) {
        const c = text.charCodeAt(i + 1);
        if (c >= 97 && c <= 122) chars[used++] = c;
        else if (c >= 65 && c <= 90) chars[used++] = c + 32;
        else break;
        tokenFlags |= HAS_LETTER;
        i++;
      }
    } else if (cls !== IGNORE) {
      if (inToken) {
        endToken(count++, tokenStart, used, tokenFlags, start, end, flags);
        inToken = false;
        gapLength = 0;
        gapNewline = false;
        gapInner = true;
        gapWhite = true;
      }
      gapLength++;
      if (cls === NEWLINE) gapNewline = true;
      if (cls !== INNER) gapInner = false;
      if (cls !== SPACE && cls !== NEWLINE) gapWhite = false;
    }
  }
  if (inToken) endToken(count++, tokenStart, used, tokenFlags, start, end, flags);
  return { count, chars, start, end, flags };
}

function endToken(
  t: number,
  from: number,
  to: number,
  tokenFlags: number,
  start: Int32Array,
  end: Int32Array,
  flags: Uint8Array,
) {
  let f = tokenFlags;
  if (to - from === 1) {
    f |= SINGLE;
    if (t > 0 && f & SHORT_GAP && flags[t - 1]! & SINGLE) f |= SPACED;
  }
  start[t] = from;
  end[t] = to;
  flags[t] = f;
}

interface Terminal {
  readonly entry: number;
  /** How many times each run's letter appears in the listed form. */
  readonly counts: readonly number[];
  /** Runs where a new word of a multi-word entry begins. */
  readonly boundaries: readonly number[];
  /** False for an entry without letters ("666"), which may then match digits alone. */
  readonly needsLetter: boolean;
}

/**
 * The listed words' letter runs as a trie in flat arrays: node n's child for a-z is
 * kids[n * 26 + letter] (0 for none; the root is node 0 and never a child). Other characters
 * (digits, letters of other scripts) go through a map, as they are rare in the lists.
 */
class Trie {
  kids = new Int32Array(26 * 64);
  readonly other = new Map<number, number>();
  readonly terminals: (Terminal[] | undefined)[] = [undefined];
  readonly hasKids: boolean[] = [false];
  size = 1;

  child(node: number, c: number): number {
    if (c >= 97 && c <= 122) return this.kids[node * 26 + c - 97]!;
    return this.other.get(node * 0x110000 + c) ?? 0;
  }

  add(node: number, c: number): number {
    const found = this.child(node, c);
    if (found !== 0) return found;
    const id = this.size++;
    if (id * 26 >= this.kids.length) {
      const grown = new Int32Array(this.kids.length * 2);
      grown.set(this.kids);
      this.kids = grown;
    }
    if (c >= 97 && c <= 122) this.kids[node * 26 + c - 97] = id;
    else this.other.set(node * 0x110000 + c, id);
    this.terminals.push(undefined);
    this.hasKids.push(false);
    this.hasKids[node] = true;
    return id;
  }
}

const SUFFIXES = ['', 's', 'es', 'ed', 'ing'];
const VOWELS = new Set([...'aeiouy'].map((c) => c.charCodeAt(0)));
const L = 'l'.charCodeAt(0);
const I = 'i'.charCodeAt(0);
const MAX_L_VARIANTS = 4;

/** An entry as folded words: "Stupid  Cow" -> [[s,t,u,p,i,d],[c,o,w]]. */
function foldEntry(entry: string): number[][] {
  const words: number[][] = [];
  let word: number[] = [];
  for (let i = 0; i < entry.length; ) {
    const folded = fold(entry, i);
    const cls = folded >>> CLASS_SHIFT;
    if (cls === SPACE || cls === NEWLINE) {
      if (word.length > 0) words.push(word);
      word = [];
    } else if (cls === LETTER || cls === DIGIT || cls === SYMBOL || cls === BANG) {
      word.push(folded & CODE_MASK);
    }
    i += entry.charCodeAt(i) >= 0xd800 && entry.charCodeAt(i) <= 0xdbff ? 2 : 1;
  }
  if (word.length > 0) words.push(word);
  return words;
}

/** The entry with its endings and with each l (up to four) also read as i. */
function variantsOf(words: number[][]): number[][][] {
  const last = words[words.length - 1]!;
  const finalLetter = last[last.length - 1]!;
  const endings = SUFFIXES.map((s) => [...s].map((c) => c.charCodeAt(0)));
  if (!VOWELS.has(finalLetter) && finalLetter >= 97 && finalLetter <= 122) {
    endings.push(...['ed', 'ing'].map((s) => [finalLetter, ...[...s].map((c) => c.charCodeAt(0))]));
  }
  let variants: number[][][] = endings.map((ending) => [
    ...words.slice(0, -1),
    [...last, ...ending],
  ]);
  let lCount = 0;
  for (let w = 0; w < words.length; w++) {
    for (let k = 0; k < words[w]!.length && lCount < MAX_L_VARIANTS; k++) {
      if (words[w]![k] !== L) continue;
      lCount++;
      variants = variants.flatMap((v) => {
        const swapped = v.map((piece) => [...piece]);
        swapped[w]![k] = I;
        return [v, swapped];
      });
    }
  }
  return variants;
}

function runsOf(words: number[][]): { letters: number[]; counts: number[]; boundaries: number[] } {
  const letters: number[] = [];
  const counts: number[] = [];
  const boundaries: number[] = [];
  for (let w = 0; w < words.length; w++) {
    let pending = w > 0;
    for (const c of words[w]!) {
      if (letters.length > 0 && letters[letters.length - 1] === c) {
        counts[counts.length - 1]!++;
        if (pending) boundaries.push(letters.length - 1);
      } else {
        letters.push(c);
        counts.push(1);
        if (pending) boundaries.push(letters.length - 1);
      }
      pending = false;
    }
  }
  return { letters, counts, boundaries };
}

/** How many times the text may repeat a letter the listed word has `listed` times. */
function runMatches(found: number, listed: number): boolean {
  return found === listed || (found > listed && found >= 3);
}

/** The entry of the first terminal the walked runs satisfy, or -1. */
function matchingEntry(
  terminals: readonly Terminal[],
  runCounts: Int32Array,
  hard: Int32Array,
  hardCount: number,
  hasLetter: boolean,
): number {
  next: for (const terminal of terminals) {
    if (terminal.needsLetter && !hasLetter) continue;
    for (let r = 0; r < terminal.counts.length; r++) {
      if (!runMatches(runCounts[r]!, terminal.counts[r]!)) continue next;
    }
    for (let h = 0; h < hardCount; h++) {
      if (!terminal.boundaries.includes(hard[h]!)) continue next;
    }
    return terminal.entry;
  }
  return -1;
}

/** A compiled word list: which entries occur in the text, and how often. */
export class WordList {
  readonly entries: readonly string[];
  private readonly trie = new Trie();
  private depth = 0;

  constructor(entries: readonly string[]) {
    this.entries = entries;
    entries.forEach((entry, index) => {
      const words = foldEntry(entry);
      if (words.length === 0) return;
      const needsLetter = words.some((w) => w.some((c) => c >= 97 && c <= 122));
      for (const variant of variantsOf(words)) {
        const { letters, counts, boundaries } = runsOf(variant);
        let node = 0;
        for (const c of letters) node = this.trie.add(node, c);
        const terminal = { entry: index, counts, boundaries, needsLetter };
        const list = this.trie.terminals[node];
        if (list) list.push(terminal);
        else this.trie.terminals[node] = [terminal];
        this.depth = Math.max(this.depth, letters.length);
      }
    });
  }

  /** Occurrences of each entry (by index), longest match first, never overlapping. */
  count(tokens: Tokens): Map<number, number> {
    const found = new Map<number, number>();
    const { chars, start, end, flags } = tokens;
    const { trie } = this;
    const n = tokens.count;
    const runCounts = new Int32Array(this.depth + 1);
    const hard = new Int32Array(this.depth + 1);
    for (let s = 0; s < n; ) {
      // A token inside a letter-spaced chain is not the start of a word.
      if (flags[s]! & SPACED || trie.child(0, chars[start[s]!]!) === 0) {
        s++;
        continue;
      }
      let node = 0;
      let last = -1;
      let runs = 0;
      let hardCount = 0;
      let hasLetter = false;
      let bestEnd = -1;
      let bestEntry = -1;
      const stop = Math.min(n, s + MAX_WALK_TOKENS);
      walk: for (let t = s; t < stop; t++) {
        let pendingHard = false;
        const spaced = t > s && (flags[t]! & SPACED) !== 0;
        if (t > s && !spaced && !(flags[t]! & INNER_JOIN)) {
          if (!(flags[t]! & WS_JOIN)) break;
          pendingHard = true;
        }
        const runsBefore = runs;
        for (let k = start[t]!; k < end[t]!; k++) {
          const c = chars[k]!;
          if (c === last) {
            runCounts[runs - 1]!++;
            if (pendingHard) hard[hardCount++] = runs - 1;
          } else {
            const next = trie.child(node, c);
            if (next === 0) break walk;
            node = next;
            runCounts[runs] = 1;
            if (pendingHard) hard[hardCount++] = runs;
            runs++;
            last = c;
          }
          pendingHard = false;
        }
        // A piece joined to the word must bring a letter of its own, not only stretch the last
        // one ("ii ii ii"); only a letter-spaced chain may (x x x).
        if (t > s && !spaced && runs === runsBefore) break;
        if (flags[t]! & HAS_LETTER) hasLetter = true;
        const terminals = trie.terminals[node];
        const chainContinues = t + 1 < n && flags[t + 1]! & SPACED;
        if (terminals && !chainContinues) {
          const entry = matchingEntry(terminals, runCounts, hard, hardCount, hasLetter);
          if (entry >= 0) {
            bestEnd = t;
            bestEntry = entry;
          }
        }
        if (!trie.hasKids[node]) break;
      }
      if (bestEnd >= 0) {
        found.set(bestEntry, (found.get(bestEntry) ?? 0) + 1);
        s = bestEnd + 1;
      } else s++;
    }
    return found;
  }

  /** Convenience for tests and one-off checks: entry text -> occurrences. */
  matches(text: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const [index, n] of this.count(tokenise(text))) out.set(this.entries[index]!, n);
    return out;
  }
}
