// Attachments by what they really are (SYS-7, SYS-8, MAIL-10): the pack's attachment policy for
// programs, scripts, macro documents and encrypted archives, and the attachment-type rules. The
// MIME walk has already read each file's bytes; here its findings become verdicts that name the
// file and say what it is ("invoice.pdf is really a Windows program").
import type { AttachmentAction, AttachmentActions, MailPolicy } from '../../policy/compiled.ts';
import type { AttachmentInfo, Direction, Verdict } from '../types.ts';

const KINDS: Readonly<Record<string, string>> = {
  exe: 'a Windows program',
  com: 'a Windows program',
  scr: 'a Windows screen saver program',
  pif: 'a Windows program',
  cpl: 'a Windows Control Panel program',
  dll: 'a Windows program library',
  msi: 'a Windows installer',
  msix: 'a Windows installer',
  jar: 'a Java program',
  apk: 'an Android app',
  app: 'a macOS app',
  elf: 'a Linux program',
  macho: 'a macOS program',
  bat: 'a Windows batch script',
  cmd: 'a Windows batch script',
  js: 'a JavaScript script',
  jse: 'an encoded JavaScript script',
  vbs: 'a VBScript script',
  vbe: 'an encoded VBScript script',
  wsf: 'a Windows Script Host script',
  wsh: 'a Windows Script Host script',
  ps1: 'a PowerShell script',
  psm1: 'a PowerShell script',
  hta: 'an HTML application',
  lnk: 'a Windows shortcut',
  reg: 'a Windows registry file',
  iso: 'a disk image',
  img: 'a disk image',
  docm: 'a Word document with macros',
  dotm: 'a Word template with macros',
  xlsm: 'an Excel workbook with macros',
  xltm: 'an Excel template with macros',
  xlam: 'an Excel add-in with macros',
  pptm: 'a PowerPoint presentation with macros',
  potm: 'a PowerPoint template with macros',
  ppsm: 'a PowerPoint show with macros',
  zip: 'a zip archive',
  '7z': 'a 7-Zip archive',
  rar: 'a RAR archive',
  mp3: 'an MP3 audio file',
  m4a: 'an audio file',
  flac: 'a FLAC audio file',
  wav: 'a WAV audio file',
  mp4: 'an MP4 video',
  mkv: 'a Matroska video',
  avi: 'an AVI video',
  mov: 'a QuickTime video',
};

/** The extension of a file name, lower case, or null. */
export function nameExtension(name: string | null): string | null {
  if (!name) return null;
  const dot = name.lastIndexOf('.');
  if (dot < 0 || dot === name.length - 1) return null;
  return name.slice(dot + 1).toLowerCase();
}

/** How a verdict calls the file: its name, or where it sits when it has none. */
export function attachmentLabel(a: AttachmentInfo): string {
  const label = a.name || `the unnamed attachment at ${a.path}`;
  return a.depth > 0 ? `${label} (inside another attachment)` : label;
}

/** Extensions that name the same kind of file, so neither makes the other a disguise. */
const SAME_KIND = new Map([
  ['jpeg', 'jpg'],
  ['tiff', 'tif'],
  ['html', 'htm'],
  ['mpeg', 'mpg'],
]);
const canonical = (extension: string) => SAME_KIND.get(extension) ?? extension;

/**
 * A file in disguise: its name says one type and its bytes another ("invoice.pdf" that is a
 * Windows program). Only the bytes can say so: a file whose bytes say nothing is what its name
 * says, and names of the same kind (.jpeg and .jpg) do not disagree.
 */
export function isDisguised(a: AttachmentInfo): boolean {
  const named = nameExtension(a.name);
  return (
    a.detectedType !== null &&
    a.extension !== null &&
    named !== null &&
    canonical(named) !== canonical(a.extension)
  );
}

/** "invoice.pdf is really a Windows program", "setup.exe is a Windows program". */
export function describeAttachment(a: AttachmentInfo, fallback: string): string {
  const extension = a.extension ?? nameExtension(a.name);
  const kind = (extension && KINDS[extension]) || fallback;
  return `${attachmentLabel(a)} is ${isDisguised(a) ? 'really ' : ''}${kind}`;
}

type Category = 'executables' | 'scripts' | 'macros' | 'encryptedArchives';

const CATEGORY_FALLBACK: Readonly<Record<Category, string>> = {
  executables: 'a program',
  scripts: 'a script',
  macros: 'a document with macros',
  encryptedArchives: 'an encrypted archive',
};

function actionFor(actions: AttachmentActions, category: Category): AttachmentAction {
  // Macros are code: they take the scripts action.
  return category === 'macros' ? actions.scripts : actions[category];
}

const ORDER: readonly AttachmentAction[] = ['allow', 'hold', 'reject'];

function categoriesOf(a: AttachmentInfo, mail: MailPolicy): Category[] {
  const named = nameExtension(a.name);
  const has = (set: ReadonlySet<string>) =>
    (a.extension !== null && set.has(a.extension)) || (named !== null && set.has(named));
  const out: Category[] = [];
  if (a.executable || has(mail.attachments.executables)) out.push('executables');
  if (a.script || has(mail.attachments.scripts)) out.push('scripts');
  if (a.macro) out.push('macros');
  if (a.encrypted) out.push('encryptedArchives');
  return out;
}

/** At most this many files are listed in a verdict's details. */
const MAX_LISTED = 20;

interface Finding {
  readonly a: AttachmentInfo;
  readonly category: Category;
  readonly action: AttachmentAction;
}

const stricter = (x: Finding, y: Finding): Finding =>
  ORDER.indexOf(y.action) > ORDER.indexOf(x.action) ? y : x;

function describeFinding(f: Finding): string {
  if (f.category === 'encryptedArchives') {
    return `${attachmentLabel(f.a)} is an encrypted archive, which cannot be checked for viruses`;
  }
  return describeAttachment(f.a, CATEGORY_FALLBACK[f.category]);
}

/**
 * The pack's attachment policy for one direction: one 'attachment-type' verdict for programs,
 * scripts and macro documents, one 'encrypted-archive' verdict for archives that cannot be read,
 * each with the strictest action that applies. Macro documents take the scripts action. What the
 * pack allows gives no verdict.
 */
export function attachmentPolicyVerdicts(
  attachments: readonly AttachmentInfo[],
  direction: Direction,
  mail: MailPolicy,
): Verdict[] {
  const actions = mail.attachments[direction];
  const code: Finding[] = [];
  const encrypted: Finding[] = [];
  for (const a of attachments) {
    let worst: Finding | null = null;
    for (const category of categoriesOf(a, mail)) {
      const action = actionFor(actions, category);
      if (action === 'allow') continue;
      const finding = { a, category, action };
      if (category === 'encryptedArchives') encrypted.push(finding);
      else worst = worst ? stricter(worst, finding) : finding;
    }
    if (worst) code.push(worst);
  }
  const verdicts: Verdict[] = [];
  for (const [rule, found] of [
    ['attachment-type', code],
    ['encrypted-archive', encrypted],
  ] as const) {
    if (found.length === 0) continue;
    const worst = found.reduce(stricter);
    const others = found.length - 1;
    const reason =
      others === 0
        ? describeFinding(worst)
        : `${describeFinding(worst)}; ${others} other attachment${others === 1 ? '' : 's'} too`;
    verdicts.push({
      rule,
      action: worst.action,
      clauseIds: mail.attachments.clauseIds,
      reason,
      details: {
        count: found.length,
        files: found.slice(0, MAX_LISTED).map((f) => ({
          name: f.a.name,
          path: f.a.path,
          is: describeFinding(f),
          category: f.category,
          action: f.action,
          sha256: f.a.sha256,
        })),
      },
    });
  }
  return verdicts;
}

/** Attachments whose detected or named extension is in the list. */
export function attachmentsOfType(
  attachments: readonly AttachmentInfo[],
  extensions: ReadonlySet<string>,
): AttachmentInfo[] {
  return attachments.filter((a) => {
    const named = nameExtension(a.name);
    return (
      (a.extension !== null && extensions.has(a.extension)) ||
      (named !== null && extensions.has(named))
    );
  });
}
