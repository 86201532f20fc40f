// What the MIME walk may spend (depth, parts, expanded bytes, text) and the pack's lists it
// classifies attachments with (SYS-7, SYS-8) and the private markers it looks for (MON-3).
// Every setting has a default, so the walk can run without a pack (tests, the CLI).

import type { CompiledPolicy } from '../../policy/compiled.ts';

/** A header that marks a message Private or Personal, with the values that do (MON-3). */
export interface PrivateHeader {
  readonly name: string;
  readonly values: readonly string[];
}

export interface InspectLimits {
  /**
   * The deepest a nested message or archive entry may sit: an attachment of the message itself is
   * at depth 0, a file in a zip attached to it at 1, and so on. Deeper content is not opened and
   * gives a `too-deep` problem. Default 8.
   */
  readonly maxDepth: number;
  /** Multipart containers inside one another, counted along one path. Default 32. */
  readonly maxNesting: number;
  /** MIME parts (containers and nested messages included) and archive entries walked. Default 1000. */
  readonly maxParts: number;
  /** Bytes inflated out of archives, over the whole message. Default 100 MiB. */
  readonly maxExpandedBytes: number;
  /** Characters of readable text kept in `Inspection.text`. Default 512 Ki. */
  readonly maxTextChars: number;
}

export interface InspectOptions extends Partial<InspectLimits> {
  /** Extensions that make a file an executable by its name (the pack's `mail.attachments.executables`). */
  readonly executables?: Iterable<string>;
  /** Extensions that make a file a script by its name (the pack's `mail.attachments.scripts`). */
  readonly scripts?: Iterable<string>;
  /** Headers that mark a message private (the pack's `monitoring.privateMarkers.headers`). */
  readonly privateHeaders?: readonly PrivateHeader[];
  /** Subject text that marks a message private (the pack's `monitoring.privateMarkers.subjectMarkers`). */
  readonly privateSubjectMarkers?: readonly string[];
}

export const DEFAULT_LIMITS: InspectLimits = {
  maxDepth: 8,
  maxNesting: 32,
  maxParts: 1000,
  maxExpandedBytes: 100 * 1024 * 1024,
  maxTextChars: 512 * 1024,
};

/** The shipped pack's lists, for callers that have no pack at hand. */
export const DEFAULT_EXECUTABLES: readonly string[] = [
  'exe',
  'com',
  'scr',
  'msi',
  'msix',
  'pif',
  'cpl',
  'dll',
  'jar',
  'apk',
  'app',
  'bat',
  'cmd',
];
export const DEFAULT_SCRIPTS: readonly string[] = [
  'js',
  'jse',
  'vbs',
  'vbe',
  'wsf',
  'wsh',
  'ps1',
  'psm1',
  'hta',
  'lnk',
  'reg',
  'iso',
  'img',
];
export const DEFAULT_PRIVATE_HEADERS: readonly PrivateHeader[] = [
  { name: 'Sensitivity', values: ['Private', 'Personal'] },
];
export const DEFAULT_PRIVATE_SUBJECT_MARKERS: readonly string[] = ['[Private]', '[Personal]'];

/** The options with every default filled in and the lists normalised (lower case, no dot). */
export interface InspectSettings extends InspectLimits {
  readonly executables: ReadonlySet<string>;
  readonly scripts: ReadonlySet<string>;
  readonly privateHeaders: readonly PrivateHeader[];
  readonly privateSubjectMarkers: readonly string[];
}

function extensionSet(list: Iterable<string>): ReadonlySet<string> {
  const out = new Set<string>();
  for (const ext of list) {
    const clean = ext.trim().toLowerCase().replace(/^\.+/, '');
    if (clean !== '') out.add(clean);
  }
  return out;
}

/** A limit as given when it is a usable number, else the default. */
function limit(given: number | undefined, fallback: number): number {
  return given !== undefined && Number.isFinite(given) && given >= 0 ? Math.floor(given) : fallback;
}

export function resolveOptions(options: InspectOptions = {}): InspectSettings {
  return {
    maxDepth: limit(options.maxDepth, DEFAULT_LIMITS.maxDepth),
    maxNesting: limit(options.maxNesting, DEFAULT_LIMITS.maxNesting),
    maxParts: Math.max(1, limit(options.maxParts, DEFAULT_LIMITS.maxParts)),
    maxExpandedBytes: limit(options.maxExpandedBytes, DEFAULT_LIMITS.maxExpandedBytes),
    maxTextChars: limit(options.maxTextChars, DEFAULT_LIMITS.maxTextChars),
    executables: extensionSet(options.executables ?? DEFAULT_EXECUTABLES),
    scripts: extensionSet(options.scripts ?? DEFAULT_SCRIPTS),
    privateHeaders: options.privateHeaders ?? DEFAULT_PRIVATE_HEADERS,
    privateSubjectMarkers: (
      options.privateSubjectMarkers ?? DEFAULT_PRIVATE_SUBJECT_MARKERS
    ).filter((m) => m.trim() !== ''),
  };
}

/** The pack's attachment lists (SYS-7, SYS-8) and private markers (MON-3), plus any limits. */
export function inspectOptionsFromPolicy(
  policy: Pick<CompiledPolicy, 'mail' | 'monitoring'>,
  limits: Partial<InspectLimits> = {},
): InspectOptions {
  return {
    ...limits,
    executables: policy.mail.attachments.executables,
    scripts: policy.mail.attachments.scripts,
    privateHeaders: policy.monitoring.privateMarkers.headers,
    privateSubjectMarkers: policy.monitoring.privateMarkers.subjectMarkers,
  };
}
