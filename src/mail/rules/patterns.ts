// Pattern rules (MAIL-5, MAIL-8, MAIL-9): the pack's regular expressions, matched without regard
// to case over the subject and the text with every run of white space made one space, so a phrase
// broken across lines by the sender's mail program still matches ("we will\npay").
//
// A pattern is the pack author's, and JavaScript's engine backtracks, so two guards:
// - each pattern reads at most the first PATTERN_TEXT_LIMIT characters (about 2,700 words: what
//   the sender wrote comes first, quoted replies after it). With the shipped patterns the worst
//   hostile text tried (the start of a `.*` pattern repeated with no ending: "bad luck bad luck
//   ...") costs time in proportion to the square of its length: about 20 ms at this limit, 110 ms
//   at twice it, 320 ms at four times. Ordinary text of this size takes a small fraction of a
//   millisecond;
// - a pattern with a repeated group that itself holds a repetition ((\w+\s?)+, (a*)*) can take
//   exponential time on a few dozen characters, which no limit prevents. backtrackingRisk()
//   finds these; the rule leaves them out and reports them, and the pack loader should refuse them.

/** Characters of normalised subject and text each pattern reads (counted from the start). */
export const PATTERN_TEXT_LIMIT = 16_384;

/** Matches counted per pattern, at most; enough to say "many". */
export const MAX_COUNTED_MATCHES = 1_000;

/** The subject and the text as patterns read them: white space runs made one space. */
export function patternText(subject: string, text: string): string {
  return `${collapse(subject).trim()}\n${collapse(text)}`;
}

// Only runs that are not already one plain space are replaced: most of a text's white space is.
const collapse = (text: string) => text.replace(/(?: \s|[^\S ])\s*/g, ' ');

/**
 * The flags a pattern runs with. The pack loader checks patterns with 'iu'; the 'u' flag makes
 * V8 match \b without regard to case some fifty times slower, so it is used only where the
 * pattern needs it (\p{...}, \u{...}, or characters beyond the Basic Multilingual Plane).
 */
export function flagsFor(pattern: string): string {
  return /\\[pP]\{|\\u\{|[\uD800-\uDFFF]/.test(pattern) ? 'giu' : 'gi';
}

/**
 * Why a pattern risks exponential backtracking, or null. Finds a group repeated without bound
 * (*, +, {n,}) whose contents also repeat without bound, and back-references. A heuristic: it
 * does not find every slow pattern (overlapping alternatives such as (a|a)* pass), but it finds
 * the ones people write by accident.
 */
export function backtrackingRisk(source: string): string | null {
  if (/\\[1-9]|\\k</.test(source)) return 'it uses a back-reference';
  // For each open group: whether something inside it repeats without bound.
  const stack: boolean[] = [];
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') stack.push(false);
    else if (c === ')') {
      const innerRepeats = stack.pop() ?? false;
      const unbounded = unboundedQuantifierAt(source, i + 1);
      if (innerRepeats && unbounded) {
        return `a repeated group contains another repetition (near "${source.slice(0, i + 2)}")`;
      }
      if ((innerRepeats || unbounded) && stack.length > 0) stack[stack.length - 1] = true;
    } else if (unboundedQuantifierAt(source, i) && stack.length > 0) {
      stack[stack.length - 1] = true;
    }
  }
  return null;
}

function unboundedQuantifierAt(source: string, i: number): boolean {
  const c = source[i];
  if (c === '*' || c === '+') return true;
  if (c === '{') return /^\{\d*,\}/.test(source.slice(i, i + 12));
  return false;
}

/** One regular expression for several of a rule's patterns: (p1)|(p2)|..., one scan of the text. */
interface PatternGroup {
  readonly regex: RegExp;
  /** Each pattern and the number of the capture group around it. */
  readonly members: readonly { readonly source: string; readonly group: number }[];
}

/** A pattern rule's patterns, ready to run. */
export class CompiledPatterns {
  readonly groups: readonly PatternGroup[];
  /** Patterns left out, with the reason (see backtrackingRisk). */
  readonly refused: readonly { readonly pattern: string; readonly reason: string }[];

  constructor(patterns: readonly string[]) {
    const refused: { pattern: string; reason: string }[] = [];
    const byFlags = new Map<string, string[]>();
    for (const pattern of patterns) {
      const risk = backtrackingRisk(pattern);
      if (risk) refused.push({ pattern, reason: risk });
      else {
        const flags = flagsFor(pattern);
        byFlags.set(flags, [...(byFlags.get(flags) ?? []), pattern]);
      }
    }
    this.refused = refused;
    this.groups = [...byFlags].flatMap(([flags, sources]) => combine(sources, flags));
  }

  /** Matches per pattern (only those that matched), each up to MAX_COUNTED_MATCHES. */
  count(text: string): { pattern: string; matches: number }[] {
    const out: { pattern: string; matches: number }[] = [];
    for (const { regex, members } of this.groups) {
      const counts = new Array<number>(members.length).fill(0);
      regex.lastIndex = 0;
      for (let n = 0; n < MAX_COUNTED_MATCHES * members.length; n++) {
        const m = regex.exec(text);
        if (m === null) break;
        const which = members.findIndex((member) => m[member.group] !== undefined);
        if (which >= 0 && counts[which]! < MAX_COUNTED_MATCHES) counts[which]!++;
        if (m[0].length === 0) regex.lastIndex++;
      }
      regex.lastIndex = 0;
      members.forEach((member, i) => {
        if (counts[i]! > 0) out.push({ pattern: member.source, matches: counts[i]! });
      });
    }
    return out;
  }
}

/** Capture groups a pattern has of its own. */
function captureGroups(source: string, flags: string): number {
  return new RegExp(`${source}|`, flags).exec('')!.length - 1;
}

/**
 * One alternation for the patterns, or one regex each when they cannot share one (the same
 * group name in two patterns). Matches of the alternation do not overlap, so two patterns
 * matching the same words count once, for the first.
 */
function combine(sources: readonly string[], flags: string): PatternGroup[] {
  if (sources.length > 1) {
    try {
      let group = 1;
      const members = sources.map((source) => {
        const member = { source, group };
        group += 1 + captureGroups(source, flags);
        return member;
      });
      const regex = new RegExp(sources.map((s) => `(${s})`).join('|'), flags);
      return [{ regex, members }];
    } catch {
      // fall through: one regex each
    }
  }
  return sources.map((source) => ({
    regex: new RegExp(`(${source})`, flags),
    members: [{ source, group: 1 }],
  }));
}

/** The text a pattern reads: the first PATTERN_TEXT_LIMIT characters. */
export function limitForPatterns(text: string): string {
  return text.length > PATTERN_TEXT_LIMIT ? text.slice(0, PATTERN_TEXT_LIMIT) : text;
}
