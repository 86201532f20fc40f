// Loads category lists from disk into a CategoryIndex: a squidGuard/UT1 folder
// (CATEGORY/domains, CATEGORY/urls, CATEGORY/usage), the upstream .tar.gz of the same layout
// (streamed, never unpacked), or one list file as a named category. The only file of the engine
// that does I/O; parsing and matching stay pure.

import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { Parser, type ReadEntry } from 'tar';
import {
  type CategoryUsage,
  type ListFormat,
  ListParser,
  type ListSink,
  parseUsage,
  type SkippedLine,
} from './formats.ts';
import { CATEGORY_NAME, type CategoryIndex, CategoryIndexBuilder } from './matcher.ts';

export type LoadErrorCode =
  | 'not_found'
  | 'no_categories'
  | 'too_large'
  | 'invalid_archive'
  | 'invalid_name';

/** A list that cannot be loaded at all (a bad line is skipped instead, see the report). */
export class ListLoadError extends Error {
  constructor(
    readonly code: LoadErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ListLoadError';
  }
}

export interface LoadProgress {
  /** `reading`: `done`/`total` count categories (folder) or compressed bytes (tarball). */
  readonly phase: 'reading' | 'indexing' | 'done';
  readonly category: string | null;
  readonly done: number;
  readonly total: number;
}

export interface LoadOptions {
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Largest list file accepted, in bytes. Default 256 MiB. */
  readonly maxFileBytes?: number;
  /** Largest total of list text (a folder, or a tarball once uncompressed). Default 1 GiB. */
  readonly maxTotalBytes?: number;
  /** Skipped lines kept in the report with their text (all are counted). Default 100. */
  readonly maxSkippedReported?: number;
  /** Load only these categories. */
  readonly only?: readonly string[];
  /** Presize the table (a hint). */
  readonly expectedDomains?: number;
}

export interface CategoryReport {
  readonly name: string;
  /** Domain and address entries accepted (before removing duplicates). */
  readonly domains: number;
  /** `urls` entries accepted. */
  readonly urls: number;
  readonly skipped: number;
  /** From the category's `usage` file; null when it has none. */
  readonly usage: CategoryUsage | null;
}

export interface ReportedSkip extends SkippedLine {
  readonly category: string;
  readonly file: string;
}

export interface LoadReport {
  readonly source: string;
  readonly categories: readonly CategoryReport[];
  /** The first skipped lines, with category, file and line number. */
  readonly skipped: readonly ReportedSkip[];
  readonly totalSkipped: number;
  /** Distinct names and addresses in the index. */
  readonly names: number;
  /** Files and links not loaded, with why (expressions, alias links). */
  readonly ignored: readonly string[];
}

export interface LoadResult {
  readonly index: CategoryIndex;
  readonly report: LoadReport;
}

const MIB = 1024 * 1024;
const DEFAULTS = { maxFileBytes: 256 * MIB, maxTotalBytes: 1024 * MIB, maxSkippedReported: 100 };
const LIST_FILES = new Set(['domains', 'urls', 'usage']);
/** Bytes read at a time: large lists are parsed in pieces, never held whole. */
const CHUNK = 1 << 20;

interface ChunkParser {
  push(chunk: string): void;
  end(): void;
}

/** Average bytes per line of a domains list (UT1: about 16), for presizing. */
const BYTES_PER_NAME = 14;

const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;

function tooLarge(what: string, size: number, cap: number, option: string): ListLoadError {
  return new ListLoadError(
    'too_large',
    `${what} is ${mib(size)}, over the ${mib(cap)} limit; raise ${option} if the list is trusted, or split it`,
  );
}

/** Accumulates categories into one builder and one report. */
class Collector {
  private made: CategoryIndexBuilder | null = null;
  /** Table presize hint, set before the first entry. */
  expected = 0;
  private readonly reports = new Map<
    string,
    { domains: number; urls: number; skipped: number; usage: CategoryUsage | null }
  >();
  readonly skipped: ReportedSkip[] = [];
  totalSkipped = 0;
  totalBytes = 0;
  readonly ignored: string[] = [];
  private readonly limits: typeof DEFAULTS;

  constructor(
    private readonly source: string,
    private readonly options: LoadOptions,
  ) {
    this.expected = options.expectedDomains ?? 0;
    this.limits = { ...DEFAULTS, ...definedOnly(options) };
  }

  get builder(): CategoryIndexBuilder {
    this.made ??= new CategoryIndexBuilder({ expectedDomains: this.expected });
    return this.made;
  }

  wants(category: string): boolean {
    return this.options.only === undefined || this.options.only.includes(category);
  }

  /** In a folder or an archive, a category whose name the policy could not use is left out. */
  usable(category: string, where: string): boolean {
    if (CATEGORY_NAME.test(category)) return true;
    const note = `${where}: "${category}" is not a usable category name (lower case letters, digits, - and _), not loaded`;
    if (!this.ignored.includes(note)) this.ignored.push(note);
    return false;
  }

  checkSize(what: string, size: number): void {
    if (size > this.limits.maxFileBytes)
      throw tooLarge(what, size, this.limits.maxFileBytes, 'maxFileBytes');
    this.totalBytes += size;
    if (this.totalBytes > this.limits.maxTotalBytes) {
      throw tooLarge(
        `the lists in ${this.source}`,
        this.totalBytes,
        this.limits.maxTotalBytes,
        'maxTotalBytes',
      );
    }
  }

  private entry(category: string) {
    let r = this.reports.get(category);
    if (r === undefined) {
      if (!CATEGORY_NAME.test(category)) {
        throw new ListLoadError(
          'invalid_name',
          `"${category}" is not a usable category name: use lower case letters, digits, - and _`,
        );
      }
      r = { domains: 0, urls: 0, skipped: 0, usage: null };
      this.reports.set(category, r);
      this.builder.category(category);
    }
    return r;
  }

  usage(category: string, text: string): void {
    this.entry(category).usage = parseUsage(text);
  }

  /** A parser for one list file of `category`; its counts reach the report at `end()`. */
  open(category: string, file: string, format?: ListFormat): ChunkParser {
    const r = this.entry(category);
    const builder = this.builder;
    const id = builder.category(category);
    const sink: ListSink = {
      domain: (host, kind) => builder.addNormalisedDomain(id, host, kind),
      url: (host, kind, path) => builder.addNormalisedUrl(id, host, kind, path),
      domainRange: (text, start, end) => builder.addNormalisedDomainRange(id, text, start, end),
    };
    const parser = new ListParser(sink, {
      format: format ?? (file === 'urls' ? 'urls' : file === 'domains' ? 'domains' : undefined),
      fileName: file,
      maxSkipped: this.limits.maxSkippedReported,
    });
    return {
      push: (chunk) => parser.push(chunk),
      end: () => {
        const summary = parser.end();
        if (summary.format === 'urls') r.urls += summary.accepted;
        else r.domains += summary.accepted;
        r.skipped += summary.skippedCount;
        this.totalSkipped += summary.skippedCount;
        for (const skip of summary.skipped) {
          if (this.skipped.length >= this.limits.maxSkippedReported) break;
          this.skipped.push({ ...skip, category, file });
        }
      },
    };
  }

  /** Reads a list file in chunks through `open` (a `usage` file whole). */
  async readFile(category: string, file: string, path: string, format?: ListFormat): Promise<void> {
    if (file === 'usage') {
      this.usage(category, await readFile(path, 'utf8'));
      return;
    }
    const parser = this.open(category, file, format);
    for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: CHUNK })) {
      parser.push(chunk as string);
    }
    parser.end();
  }

  finish(): LoadResult {
    if (this.reports.size === 0) {
      throw new ListLoadError(
        'no_categories',
        `no categories found in ${this.source}: expected CATEGORY/domains or CATEGORY/urls files (squidGuard layout)`,
      );
    }
    this.options.onProgress?.({ phase: 'indexing', category: null, done: 0, total: 1 });
    const index = this.builder.build();
    const categories = [...this.reports.entries()]
      .map(([name, r]) => ({ name, ...r }))
      .sort((a, b) => a.name.localeCompare(b.name));
    this.options.onProgress?.({ phase: 'done', category: null, done: 1, total: 1 });
    return {
      index,
      report: {
        source: this.source,
        categories,
        skipped: this.skipped,
        totalSkipped: this.totalSkipped,
        names: index.size,
        ignored: this.ignored,
      },
    };
  }
}

function definedOnly(options: LoadOptions): Partial<typeof DEFAULTS> {
  const out: Partial<typeof DEFAULTS> = {};
  if (options.maxFileBytes !== undefined) out.maxFileBytes = options.maxFileBytes;
  if (options.maxTotalBytes !== undefined) out.maxTotalBytes = options.maxTotalBytes;
  if (options.maxSkippedReported !== undefined) out.maxSkippedReported = options.maxSkippedReported;
  return out;
}

async function statOrThrow(path: string) {
  try {
    return await stat(path);
  } catch {
    throw new ListLoadError('not_found', `${path} does not exist or cannot be read`);
  }
}

/**
 * Loads a squidGuard/UT1 folder: every CATEGORY/domains and CATEGORY/urls, with CATEGORY/usage
 * in the report. A folder holding only `blacklists/` (the unpacked upstream archive) is entered.
 * Alias links (ads -> publicite) and `expressions` files are listed in `report.ignored`.
 */
export async function loadCategoryFolder(
  dir: string,
  options: LoadOptions = {},
): Promise<LoadResult> {
  const info = await statOrThrow(dir);
  if (!info.isDirectory()) throw new ListLoadError('not_found', `${dir} is not a folder`);
  let root = dir;
  let names = await readdir(root);
  if (names.includes('blacklists') && !(await isCategoryDir(join(root, 'blacklists')))) {
    const inner = join(root, 'blacklists');
    if ((await lstat(inner)).isDirectory()) {
      root = inner;
      names = await readdir(root);
    }
  }
  const collector = new Collector(dir, options);
  const categories: string[] = [];
  for (const name of names.sort()) {
    const path = join(root, name);
    const link = await lstat(path);
    if (link.isSymbolicLink()) {
      collector.ignored.push(`${name}: a link (an upstream alias), not loaded twice`);
      continue;
    }
    if (link.isDirectory() && (await isCategoryDir(path)) && collector.wants(name)) {
      if (collector.usable(name, name)) categories.push(name);
    }
  }
  // Check every size first: refuse before reading anything, and presize the table.
  const plan: { category: string; file: string; path: string }[] = [];
  let domainBytes = 0;
  for (const category of categories) {
    for (const file of (await readdir(join(root, category))).sort()) {
      const path = join(root, category, file);
      if (!LIST_FILES.has(file)) {
        collector.ignored.push(`${category}/${file}: not a domains, urls or usage file`);
        continue;
      }
      const fileInfo = await lstat(path);
      if (!fileInfo.isFile()) continue;
      collector.checkSize(`${category}/${file}`, fileInfo.size);
      if (file === 'domains') domainBytes += fileInfo.size;
      plan.push({ category, file, path });
    }
  }
  if (options.expectedDomains === undefined)
    collector.expected = Math.ceil(domainBytes / BYTES_PER_NAME);
  let done = 0;
  for (const category of categories) {
    options.onProgress?.({ phase: 'reading', category, done, total: categories.length });
    for (const item of plan) {
      if (item.category === category) await collector.readFile(category, item.file, item.path);
    }
    done++;
  }
  options.onProgress?.({ phase: 'reading', category: null, done, total: categories.length });
  return collector.finish();
}

async function isCategoryDir(path: string): Promise<boolean> {
  try {
    const files = await readdir(path);
    return files.includes('domains') || files.includes('urls');
  } catch {
    return false;
  }
}

/**
 * Loads the upstream archive (`blacklists.tar.gz`: blacklists/CATEGORY/domains ...), streaming
 * it through node-tar without writing to disk. Plain `.tar` works too.
 */
export async function loadCategoryTarball(
  file: string,
  options: LoadOptions = {},
): Promise<LoadResult> {
  const info = await statOrThrow(file);
  if (!info.isFile()) throw new ListLoadError('not_found', `${file} is not a file`);
  const collector = new Collector(file, options);
  // UT1's archive compresses about 4:1.
  if (options.expectedDomains === undefined)
    collector.expected = Math.ceil((info.size * 4) / BYTES_PER_NAME);
  let read = 0;
  let current: string | null = null;
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const input = createReadStream(file);
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      input.destroy();
      if (error instanceof ListLoadError) reject(error);
      else {
        const message = error instanceof Error ? error.message : String(error);
        reject(
          new ListLoadError(
            'invalid_archive',
            `${file} is not a readable tar or tar.gz archive: ${message}`,
          ),
        );
      }
    };
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const parts = entry.path.split('/').filter((p) => p.length > 0 && p !== '.');
        const name = parts.at(-1) ?? '';
        const category = parts.at(-2);
        if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
          collector.ignored.push(`${entry.path}: a link (an upstream alias), not loaded twice`);
          entry.resume();
          return;
        }
        if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') {
          entry.resume();
          return;
        }
        if (category === undefined || !LIST_FILES.has(name)) {
          collector.ignored.push(`${entry.path}: not a domains, urls or usage file`);
          entry.resume();
          return;
        }
        if (
          !collector.wants(category) ||
          !collector.usable(category, parts.slice(0, -1).join('/'))
        ) {
          entry.resume();
          return;
        }
        try {
          collector.checkSize(`${category}/${name}`, entry.size);
        } catch (error) {
          fail(error);
          entry.resume();
          return;
        }
        current = category;
        const decoder = new StringDecoder('utf8');
        let parser: ChunkParser;
        if (name === 'usage') {
          let usage = '';
          parser = {
            push: (chunk) => {
              usage += chunk;
            },
            end: () => collector.usage(category, usage),
          };
        } else {
          try {
            parser = collector.open(category, name);
          } catch (error) {
            fail(error);
            entry.resume();
            return;
          }
        }
        entry.on('data', (chunk: Buffer) => {
          if (failed) return;
          try {
            parser.push(decoder.write(chunk));
          } catch (error) {
            fail(error);
          }
        });
        entry.on('end', () => {
          if (failed) return;
          try {
            parser.push(decoder.end());
            parser.end();
          } catch (error) {
            fail(error);
          }
        });
      },
    });
    parser.on('error', fail);
    parser.on('end', () => {
      if (!failed) resolve();
    });
    input.on('error', fail);
    input.on('data', (chunk) => {
      read += chunk.length;
      options.onProgress?.({ phase: 'reading', category: current, done: read, total: info.size });
    });
    input.pipe(parser);
  });
  return collector.finish();
}

export interface FileLoadOptions extends LoadOptions {
  /** The category the file's entries go to. */
  readonly category: string;
  /** The format; detected from the name and the content when absent. */
  readonly format?: ListFormat;
}

/** Loads one list file (any supported format) as one category. */
export async function loadListFile(file: string, options: FileLoadOptions): Promise<LoadResult> {
  const info = await statOrThrow(file);
  if (!info.isFile()) throw new ListLoadError('not_found', `${file} is not a file`);
  const collector = new Collector(file, options);
  if (!collector.wants(options.category)) return collector.finish();
  collector.checkSize(basename(file), info.size);
  if (options.expectedDomains === undefined)
    collector.expected = Math.ceil(info.size / BYTES_PER_NAME);
  options.onProgress?.({ phase: 'reading', category: options.category, done: 0, total: 1 });
  const name = basename(file);
  await collector.readFile(
    options.category,
    name === 'usage' ? 'list' : name,
    file,
    options.format,
  );
  options.onProgress?.({ phase: 'reading', category: options.category, done: 1, total: 1 });
  return collector.finish();
}

/** Loads a folder, a `.tar`/`.tar.gz`/`.tgz` archive, by looking at what `path` is. */
export async function loadCategories(path: string, options: LoadOptions = {}): Promise<LoadResult> {
  const info = await statOrThrow(path);
  if (info.isDirectory()) return loadCategoryFolder(path, options);
  return loadCategoryTarball(path, options);
}
