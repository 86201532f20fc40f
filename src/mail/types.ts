// The mail gateway's shared vocabulary: what a message is found to contain (inspection), what the
// policy says about it (verdicts), and what the virus scanner answers. The relay, the MIME walk,
// the content rules, the scanner client and the console all speak these types.

/** inbound: the internet to the school's mail service; outbound: the school to the internet. */
export type Direction = 'inbound' | 'outbound';

/** What a rule asks for, from the mildest to the strictest. */
export type MailAction = 'allow' | 'tag' | 'warn-sender' | 'hold' | 'reject';

export const ACTION_ORDER: readonly MailAction[] = [
  'allow',
  'tag',
  'warn-sender',
  'hold',
  'reject',
];

/** The strictest of several actions ('allow' when there are none). */
export function strictest(actions: Iterable<MailAction>): MailAction {
  let worst = 0;
  for (const a of actions) worst = Math.max(worst, ACTION_ORDER.indexOf(a));
  return ACTION_ORDER[worst]!;
}

/** One finding about a message, with the clauses that caused it. */
export interface Verdict {
  /** The pack rule id ('offensive-language'), or a built-in one: 'virus', 'attachment-type',
   *  'encrypted-archive', 'limits', 'malformed', 'from-address', 'private'. */
  readonly rule: string;
  readonly action: MailAction;
  readonly clauseIds: readonly string[];
  /** One sentence a School Business Manager understands ("2 National Insurance numbers"). */
  readonly reason: string;
  /** Counts and names, never the matched personal data itself. */
  readonly details?: Readonly<Record<string, unknown>>;
  /** Roles to tell at once (the pack's notify list). */
  readonly notify?: readonly string[];
}

/** An attachment or other non-body part, wherever it sits (nested messages, archives). */
export interface AttachmentInfo {
  /** Where it sits: '1.2' for MIME parts, then '/inner/name.ext' inside archives. */
  readonly path: string;
  /** The file name the sender gave, if any. */
  readonly name: string | null;
  /** The Content-Type the sender declared. */
  readonly declaredType: string | null;
  /** The type read from the bytes (file-type), or null when the bytes say nothing. */
  readonly detectedType: string | null;
  /** The extension that goes with the detected type ('exe'), else the name's own, lower case. */
  readonly extension: string | null;
  /** Bytes; for an archive entry that was not read (encrypted, over a limit), its declared size. */
  readonly size: number;
  /** Hex SHA-256 of the bytes; '' when they were not read whole (encrypted, over a limit, cut short). */
  readonly sha256: string;
  /** An executable by its bytes or its name (the pack's executables list). */
  readonly executable: boolean;
  /** A script by its name (the pack's scripts list) or a disk image. */
  readonly script: boolean;
  /** A macro-enabled Office file (docm, xlsm, pptm, or vbaProject.bin inside). */
  readonly macro: boolean;
  /** An archive whose entries are encrypted, so they cannot be read or scanned. */
  readonly encrypted: boolean;
  /** 0 for a part of the message itself; 1 inside a nested message or archive, and so on. */
  readonly depth: number;
}

/** A limit or format problem found while walking a message. */
export interface InspectionProblem {
  readonly code:
    | 'too-deep'
    | 'too-many-parts'
    | 'too-large-expanded'
    | 'malformed-mime'
    | 'malformed-archive'
    | 'bad-encoding';
  readonly message: string;
  readonly path?: string;
}

/** What a message was found to contain. */
export interface Inspection {
  readonly messageId: string | null;
  readonly subject: string;
  readonly from: string | null;
  readonly to: readonly string[];
  readonly cc: readonly string[];
  readonly date: string | null;
  /** The readable text of the body parts (text/plain, and text/html with tags removed), capped. */
  readonly text: string;
  readonly attachments: readonly AttachmentInfo[];
  /** MIME entities (containers and nested messages included) and archive entries walked. */
  readonly partCount: number;
  readonly problems: readonly InspectionProblem[];
  /** Marked Private or Personal (MON-3): a Sensitivity header or a subject marker of the pack. */
  readonly private: boolean;
}

/** The virus scanner's answer for one message. */
export type ScanResult =
  | { readonly status: 'clean' }
  | { readonly status: 'infected'; readonly signature: string }
  /** Too big for the scanner's StreamMaxLength, or a scanner-side error that is not an outage. */
  | { readonly status: 'error'; readonly message: string };
