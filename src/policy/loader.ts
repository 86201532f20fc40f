// Reads a policy pack, validates it and compiles it. Nothing here throws for a bad pack: every
// problem (unreadable file, YAML syntax, schema, cross-references) comes back as a PackError
// naming the file, line, column and key, and all of them are reported at once.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type Pair,
  parseDocument,
} from 'yaml';
import type { z } from 'zod';
import { compilePolicy } from './compile.ts';
import type { CompiledPolicy } from './compiled.ts';
import { CLAUSE_REF, PolicyPackSchema } from './schema.ts';

export interface PackError {
  file: string;
  line: number;
  column: number;
  key: string;
  message: string;
}

export type LoadResult = { ok: true; policy: CompiledPolicy } | { ok: false; errors: PackError[] };

export type CheckResult =
  | { ok: true; pack: import('./schema.ts').PolicyPack }
  | { ok: false; errors: PackError[] };

export const PACK_FILE = 'policy.yaml';
/** A pack is a page or two of YAML; anything this large is a mistake (or an attack). */
export const MAX_PACK_BYTES = 1024 * 1024;

export const formatPackError = (e: PackError): string =>
  `${e.file}:${e.line}:${e.column} ${e.key}: ${e.message}`;

type PathSeg = string | number;

export function formatPath(segments: readonly PathSeg[]): string {
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out || '(document)';
}

const fileError = (file: string, message: string, line = 1, column = 1): PackError => ({
  file,
  line,
  column,
  key: '(file)',
  message,
});

/** Loads policy.yaml from a pack folder. */
export async function loadPolicyPack(dir: string): Promise<LoadResult> {
  const read = await readPackFile(dir);
  if (!read.ok) return read;
  const checked = checkPackText(read.text, read.file);
  if (!checked.ok) return checked;
  return { ok: true, policy: compilePolicy(checked.pack) };
}

/** Validates and compiles pack text that did not come from a folder (an upload, a test). */
export function loadPolicyPackFromText(text: string, fileName = PACK_FILE): LoadResult {
  const checked = checkPackText(text, fileName);
  if (!checked.ok) return checked;
  return { ok: true, policy: compilePolicy(checked.pack) };
}

/** Validates pack bytes: UTF-8, size, then as loadPolicyPackFromText. */
export function loadPolicyPackFromBytes(bytes: Uint8Array, fileName = PACK_FILE): LoadResult {
  const decoded = decodePackBytes(bytes, fileName);
  if (!decoded.ok) return decoded;
  return loadPolicyPackFromText(decoded.text, fileName);
}

type ReadResult = { ok: true; text: string; file: string } | { ok: false; errors: PackError[] };

async function readPackFile(dir: string): Promise<ReadResult> {
  const file = path.join(dir, PACK_FILE);
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) {
      return {
        ok: false,
        errors: [fileError(dir, 'is not a folder; give the folder that holds policy.yaml')],
      };
    }
  } catch {
    return {
      ok: false,
      errors: [
        fileError(dir, 'this folder does not exist; give the folder that holds policy.yaml'),
      ],
    };
  }
  let bytes: Buffer;
  try {
    const info = await stat(file);
    if (!info.isFile()) return { ok: false, errors: [fileError(file, 'is not a file')] };
    if (info.size > MAX_PACK_BYTES) return { ok: false, errors: [tooLarge(file, info.size)] };
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      ok: false,
      errors: [
        fileError(
          file,
          code === 'ENOENT'
            ? `there is no ${PACK_FILE} in ${dir}; a pack is a folder with a ${PACK_FILE} (copy policy-packs/palfrey-infant to start)`
            : `cannot be read (${code ?? String(error)})`,
        ),
      ],
    };
  }
  const decoded = decodePackBytes(bytes, file);
  if (!decoded.ok) return decoded;
  return { ok: true, text: decoded.text, file };
}

const tooLarge = (file: string, size: number) =>
  fileError(
    file,
    `is ${size} bytes; a policy pack may be at most ${MAX_PACK_BYTES} bytes. Check that this is the right file.`,
  );

function decodePackBytes(
  bytes: Uint8Array,
  file: string,
): { ok: true; text: string } | { ok: false; errors: PackError[] } {
  if (bytes.length > MAX_PACK_BYTES) return { ok: false, errors: [tooLarge(file, bytes.length)] };
  const bad = firstInvalidUtf8(bytes);
  if (bad !== -1) {
    const before = Buffer.from(bytes.subarray(0, bad)).toString('utf8');
    const lines = before.split('\n');
    return {
      ok: false,
      errors: [
        fileError(
          file,
          `is not UTF-8 text (byte 0x${bytes[bad]!.toString(16).padStart(2, '0')} at offset ${bad}); save it as UTF-8`,
          lines.length,
          lines.at(-1)!.length + 1,
        ),
      ],
    };
  }
  let text = Buffer.from(bytes).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { ok: true, text };
}

/** Offset of the first byte that breaks UTF-8 (overlongs and surrogates included), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i += 1;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min, cp] = [1, 0x80, b & 0x1f];
    else if (b >= 0xe0 && b <= 0xef) [need, min, cp] = [2, 0x800, b & 0x0f];
    else if (b >= 0xf0 && b <= 0xf4) [need, min, cp] = [3, 0x10000, b & 0x07];
    else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** Parses and validates pack text; the validated pack on success, every error otherwise. */
export function checkPackText(text: string, file = PACK_FILE): CheckResult {
  if (Buffer.byteLength(text, 'utf8') > MAX_PACK_BYTES) {
    return { ok: false, errors: [tooLarge(file, Buffer.byteLength(text, 'utf8'))] };
  }
  if (text.trim() === '') {
    return {
      ok: false,
      errors: [
        fileError(
          file,
          'the file is empty; a pack starts with "format: 1" and "name:", see docs/policy-pack.md',
        ),
      ],
    };
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const pos = lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));
    return { line: Math.max(1, pos.line), column: Math.max(1, pos.col) };
  };

  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((error) => {
        const offset = error.pos[0];
        const key = error.code === 'DUPLICATE_KEY' ? keyAtOffset(doc.contents, offset) : undefined;
        return {
          file,
          ...at(offset),
          key: key ? formatPath(key) : '(yaml)',
          message:
            error.code === 'DUPLICATE_KEY'
              ? 'this key appears twice in the same mapping; keep one'
              : `YAML syntax: ${firstLine(error.message)}`,
        };
      }),
    };
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return {
      ok: false,
      errors: [
        fileError(file, `cannot be read as YAML: ${firstLine(String((error as Error).message))}`),
      ],
    };
  }

  const locate = (segments: readonly PathSeg[], preferKey: boolean) => {
    const found = nodeAtPath(doc.contents, segments);
    const node = preferKey ? (found.keyNode ?? found.node) : (found.node ?? found.keyNode);
    return node?.range ? at(node.range[0]) : { line: 1, column: 1 };
  };

  const errors: PackError[] = [];
  const parsed = PolicyPackSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      errors.push(...issueToErrors(issue, data, file, locate));
  }
  for (const ref of crossReferenceProblems(data)) {
    errors.push({
      file,
      ...locate(ref.path, ref.atKey === true),
      key: formatPath(ref.path),
      message: ref.message,
    });
  }
  if (errors.length > 0 || !parsed.success) {
    errors.sort((a, b) => a.line - b.line || a.column - b.column);
    return { ok: false, errors: dedupe(errors) };
  }
  return { ok: true, pack: parsed.data };
}

function dedupe(errors: PackError[]): PackError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = formatPackError(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const firstLine = (message: string) => message.split('\n')[0]!.trim();

type Locate = (
  segments: readonly PathSeg[],
  preferKey: boolean,
) => { line: number; column: number };

function issueToErrors(
  issue: z.core.$ZodIssue,
  data: unknown,
  file: string,
  locate: Locate,
): PackError[] {
  const segments = issue.path.filter(
    (s): s is string | number => typeof s === 'string' || typeof s === 'number',
  );
  switch (issue.code) {
    case 'unrecognized_keys': {
      const where = segments.length ? formatPath(segments) : 'the top level';
      const known = knownKeysAt(PolicyPackSchema, segments);
      return issue.keys.map((key) => {
        const suggestion = closest(key, known);
        return {
          file,
          ...locate([...segments, key], true),
          key: formatPath([...segments, key]),
          message: `unknown key '${key}' in ${where}${suggestion ? `; did you mean '${suggestion}'?` : known.length ? `; expected one of ${known.join(', ')}` : ''}`,
        };
      });
    }
    case 'invalid_type': {
      const value = valueAt(data, segments);
      if (value === undefined) {
        const parent = segments.slice(0, -1);
        const name = segments.at(-1);
        return [
          {
            file,
            ...locate(parent, true),
            key: formatPath(segments),
            message:
              segments.length === 0
                ? 'the file holds no mapping; a pack starts with "format: 1" and "name:"'
                : `missing key '${String(name)}' in ${parent.length ? formatPath(parent) : 'the top level'} (${describeExpected(issue.expected)} required)`,
          },
        ];
      }
      return [
        {
          file,
          ...locate(segments, false),
          key: formatPath(segments),
          message: `expected ${describeExpected(issue.expected)}, found ${describeValue(value)}`,
        },
      ];
    }
    case 'invalid_key': {
      const inner = issue.issues[0]?.message ?? 'this key is not allowed here';
      return [{ file, ...locate(segments, true), key: formatPath(segments), message: inner }];
    }
    case 'invalid_union': {
      const message =
        'note' in issue && issue.note === 'No matching discriminator'
          ? `${valueAt(data, segments) === undefined ? 'missing' : 'unknown'} ${String(segments.at(-1))}; use one of ${((issue as { options?: unknown[] }).options ?? []).map(String).join(', ')}`
          : issue.message;
      return [{ file, ...locate(segments, false), key: formatPath(segments), message }];
    }
    case 'invalid_value':
      return [
        {
          file,
          ...locate(segments, false),
          key: formatPath(segments),
          message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}; found ${describeValue(valueAt(data, segments))}`,
        },
      ];
    default:
      return [
        { file, ...locate(segments, false), key: formatPath(segments), message: issue.message },
      ];
  }
}

function describeExpected(expected: string): string {
  switch (expected) {
    case 'object':
      return 'a mapping (key: value lines)';
    case 'array':
      return 'a list (- item lines)';
    case 'string':
      return 'text';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
    default:
      return expected;
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'nothing (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string')
    return `text '${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  return `${typeof value} ${String(value)}`;
}

function valueAt(data: unknown, segments: readonly PathSeg[]): unknown {
  let cur = data;
  for (const seg of segments) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PathSeg, unknown>)[seg];
  }
  return cur;
}

// --- positions -------------------------------------------------------------------------------

interface Found {
  node: Node | null;
  keyNode: Node | null;
}

/** The deepest node on the path: the value node if the whole path exists, else the nearest ancestor. */
function nodeAtPath(root: unknown, segments: readonly PathSeg[]): Found {
  let node: unknown = root;
  let keyNode: Node | null = null;
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return { node: null, keyNode: keyNode ?? (node as Node) };
      keyNode = isScalar(pair.key) ? pair.key : null;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) return { node: null, keyNode: keyNode ?? (node as Node) };
      node = item;
      keyNode = isScalar(item) || isMap(item) || isSeq(item) ? (item as Node) : keyNode;
    } else {
      return { node: null, keyNode };
    }
  }
  const value = node && (isScalar(node) || isMap(node) || isSeq(node)) ? (node as Node) : null;
  // `key:` with nothing after it has a value node of zero width; point at the key instead.
  if (value?.range && value.range[0] === value.range[1]) return { node: keyNode, keyNode };
  return { node: value, keyNode };
}

/** The path of the map key that starts at this offset (for duplicate-key errors). */
function keyAtOffset(root: unknown, offset: number, prefix: PathSeg[] = []): PathSeg[] | undefined {
  if (isMap(root)) {
    for (const pair of root.items as Pair[]) {
      if (!isPair(pair)) continue;
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined) continue;
      const range = (pair.key as Node).range;
      if (range && range[0] === offset) return [...prefix, key];
      const value = pair.value as Node | null;
      if (value?.range && offset >= value.range[0] && offset <= value.range[2]) {
        return keyAtOffset(value, offset, [...prefix, key]) ?? [...prefix, key];
      }
    }
  } else if (isSeq(root)) {
    for (let index = 0; index < root.items.length; index++) {
      const item = root.items[index] as Node | null;
      if (item?.range && offset >= item.range[0] && offset <= item.range[2]) {
        return keyAtOffset(item, offset, [...prefix, index]) ?? [...prefix, index];
      }
    }
  }
  return undefined;
}

// --- suggestions -------------------------------------------------------------------------------

type AnySchema = { _zod: { def: Record<string, unknown> & { type: string } } };

/** The keys the schema allows at this path (union options merged). */
function knownKeysAt(schema: unknown, segments: readonly PathSeg[]): string[] {
  const out = new Set<string>();
  const walk = (s: AnySchema | undefined, i: number) => {
    if (!s?._zod) return;
    const def = s._zod.def;
    switch (def.type) {
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'readonly':
      case 'catch':
      case 'nonoptional':
        return walk(def.innerType as AnySchema, i);
      case 'pipe':
        return walk(def.in as AnySchema, i);
      case 'union':
        for (const option of def.options as AnySchema[]) walk(option, i);
        return;
      case 'object': {
        const shape = def.shape as Record<string, AnySchema>;
        if (i === segments.length) {
          for (const key of Object.keys(shape)) out.add(key);
          return;
        }
        return walk(shape[String(segments[i])], i + 1);
      }
      case 'record':
        if (i < segments.length) walk(def.valueType as AnySchema, i + 1);
        return;
      case 'array':
        if (i < segments.length) walk(def.element as AnySchema, i + 1);
        return;
    }
  };
  walk(schema as AnySchema, 0);
  return [...out];
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3))
    ? best
    : undefined;
}

export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = current;
    }
  }
  return row[b.length]!;
}

// --- cross-references -------------------------------------------------------------------------

interface RefProblem {
  path: PathSeg[];
  message: string;
  /** Point at the key itself (a misnamed mapping key) rather than its value. */
  atKey?: boolean;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const keysOf = (v: unknown): Set<string> => new Set(isRecord(v) ? Object.keys(v) : []);
const listAt = (data: unknown, segments: PathSeg[]): unknown[] => {
  const v = valueAt(data, segments);
  return Array.isArray(v) ? v : [];
};
const recordAt = (data: unknown, segments: PathSeg[]): Record<string, unknown> => {
  const v = valueAt(data, segments);
  return isRecord(v) ? v : {};
};

/**
 * Checks that what one section names exists in another. Runs on the raw data even when the schema
 * failed, so a technician sees every problem in one pass; shapes it cannot read are skipped (the
 * schema has already reported them).
 */
export function crossReferenceProblems(data: unknown): RefProblem[] {
  const problems: RefProblem[] = [];
  if (!isRecord(data)) return problems;
  const clauses = recordAt(data, ['clauses']);
  const roles = keysOf(data.roles);
  const groups = keysOf(data.groups);
  const kinds = keysOf(data.personKinds);
  const categories = keysOf(valueAt(data, ['web', 'categories']));

  // Clause ids, wherever a `clauseIds` list appears.
  const visit = (value: unknown, at: PathSeg[]) => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        visit(item, [...at, i]);
      });
      return;
    }
    if (!isRecord(value)) return;
    for (const [key, child] of Object.entries(value)) {
      if (key === 'clauseIds' && Array.isArray(child)) {
        child.forEach((ref, i) => {
          if (typeof ref !== 'string') return;
          const match = CLAUSE_REF.exec(ref);
          if (!match) return;
          const clause = clauses[match[1]!];
          if (!isRecord(clause)) {
            problems.push({
              path: [...at, key, i],
              message: `clause ${match[1]} is not in the clauses section; add it there or cite an existing clause`,
            });
            return;
          }
          if (match[2] !== undefined) {
            const parts = keysOf(clause.parts);
            if (!parts.has(match[2])) {
              problems.push({
                path: [...at, key, i],
                message: `clause ${match[1]} has no part (${match[2]})${parts.size ? `; its parts are ${[...parts].join(', ')}` : ''}`,
              });
            }
          }
        });
      } else if (key !== 'clauses') {
        visit(child, [...at, key]);
      }
    }
  };
  visit(data, []);

  const checkNames = (at: PathSeg[], known: Set<string>, what: string, section: string) => {
    listAt(data, at).forEach((name, i) => {
      if (typeof name === 'string' && !known.has(name)) {
        problems.push({
          path: [...at, i],
          message: `unknown ${what} '${name}'; ${what}s are defined under ${section}${known.size ? ` (${[...known].join(', ')})` : ''}`,
        });
      }
    });
  };
  const checkRole = (at: PathSeg[]) => {
    const name = valueAt(data, at);
    if (typeof name === 'string' && !roles.has(name)) {
      problems.push({ path: at, message: `unknown role '${name}'; roles are defined under roles` });
    }
  };

  checkRole(['document', 'owner', 'role']);
  for (const id of Object.keys(recordAt(data, ['approvals']))) {
    checkNames(['approvals', id, 'approvers', 'anyOf'], roles, 'role', 'roles');
    checkNames(['approvals', id, 'approvers', 'allOf'], roles, 'role', 'roles');
    checkNames(['approvals', id, 'notify'], roles, 'role', 'roles');
  }
  checkNames(['web', 'alerts', 'notify'], roles, 'role', 'roles');
  checkNames(['mail', 'virusDetected', 'notify'], roles, 'role', 'roles');
  listAt(data, ['mail', 'rules']).forEach((_, i) => {
    checkNames(['mail', 'rules', i, 'notify'], roles, 'role', 'roles');
  });
  checkNames(['monitoring', 'mailCases', 'openedBy'], roles, 'role', 'roles');
  checkNames(['monitoring', 'webCases', 'openedBy'], roles, 'role', 'roles');
  checkNames(['monitoring', 'contentAccess', 'approvers'], roles, 'role', 'roles');

  checkNames(['web', 'everyone', 'block'], categories, 'category', 'web.categories');
  checkNames(['web', 'defaultGroups'], groups, 'group', 'groups');
  checkNames(['web', 'unregisteredDevices', 'block'], categories, 'category', 'web.categories');
  for (const [section, known, what, where] of [
    ['groups', groups, 'group', 'groups'],
    ['personKinds', kinds, 'person kind', 'personKinds'],
  ] as const) {
    for (const name of Object.keys(recordAt(data, ['web', section]))) {
      if (!known.has(name)) {
        problems.push({
          path: ['web', section, name],
          atKey: true,
          message: `unknown ${what} '${name}'; ${what}s are defined under ${where}`,
        });
      }
      checkNames(['web', section, name, 'block'], categories, 'category', 'web.categories');
      checkNames(['web', section, name, 'allow'], categories, 'category', 'web.categories');
    }
  }

  // Ids that must be unique within their list.
  const unique = (at: PathSeg[], field: string) => {
    const seen = new Map<string, number>();
    listAt(data, at).forEach((item, i) => {
      const value = isRecord(item) ? item[field] : undefined;
      if (typeof value !== 'string' && typeof value !== 'number') return;
      const k = String(value);
      if (seen.has(k)) {
        problems.push({
          path: [...at, i, field],
          message: `${field} ${k} is used twice (also at item ${seen.get(k)}); each must be unique`,
        });
      } else {
        seen.set(k, i);
      }
    });
  };
  unique(['document', 'versions'], 'version');
  unique(['mail', 'rules'], 'id');
  unique(['monitoring', 'purposes'], 'id');
  unique(['monitoring', 'contentGrounds'], 'id');
  unique(['monitoring', 'webGrounds'], 'id');

  let previous = 0;
  listAt(data, ['document', 'versions']).forEach((item, i) => {
    const version = isRecord(item) ? item.version : undefined;
    if (typeof version !== 'number') return;
    if (version <= previous) {
      problems.push({
        path: ['document', 'versions', i, 'version'],
        message: `versions are listed oldest first; ${version} comes after ${previous}`,
      });
    }
    previous = Math.max(previous, version);
  });

  return problems;
}
