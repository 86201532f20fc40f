// The policy as a document people read (GOV-2): title, school, owner, the approval record of
// the version (GOV-3), the version history (GOV-4) and every clause with its id and words, as one
// self-contained HTML page. pdf.ts lays out the same model as a PDF.
import { escapeHtml } from './html.ts';

export interface DocumentClause {
  id: string;
  title: string;
  text: string;
  section: string;
  parts?: Record<string, string> | undefined;
}

export interface DocumentVersion {
  number: number;
  description: string;
  releaseDate: string | null;
  approval: { body: string; date: string; signatory: string | null } | null;
  status: 'current' | 'superseded';
}

export interface PolicyDocumentModel {
  title: string;
  school: string;
  website: string | null;
  owner: { name: string; role: string };
  reviewIntervalMonths: number;
  version: DocumentVersion;
  /** Every version, oldest first. */
  history: DocumentVersion[];
  /** Null when the text of this version was not kept (history from before Custos). */
  clauses: DocumentClause[] | null;
  packSha256: string | null;
  publishedAt: string;
}

export const SECTION_NAMES: Record<string, string> = {
  GOV: 'The document itself',
  SCP: 'Scope',
  BRE: 'Prohibited use and breaches',
  PWD: 'Equipment security and passwords',
  SYS: 'Systems use and data security',
  MAIL: 'E-mail etiquette and content',
  MON: 'E-mail monitoring',
  WEB: 'Internet use and monitoring',
  PER: 'Personal use',
  MIS: 'Inappropriate use and investigation',
  INC: 'Incidents and data protection',
};

/** 2024-12-04 as 04.12.2024, the way the policy writes dates. */
export const policyDate = (iso: string | null | undefined): string => {
  if (!iso) return 'not given';
  const [y, m, d] = iso.slice(0, 10).split('-');
  return `${d}.${m}.${y}`;
};

/** Clauses grouped by section in the order they first appear. */
export function sectionsOf(clauses: readonly DocumentClause[]): [string, DocumentClause[]][] {
  const groups = new Map<string, DocumentClause[]>();
  for (const clause of clauses) {
    const section = clause.section || clause.id.split('-')[0] || '';
    groups.set(section, [...(groups.get(section) ?? []), clause]);
  }
  return [...groups.entries()];
}

export const approvalLine = (v: DocumentVersion): string =>
  v.approval
    ? `Agreed by the ${v.approval.body} on ${policyDate(v.approval.date)}; signed by ${v.approval.signatory ?? '(not yet signed)'}`
    : 'No approval record was kept for this version.';

export const documentFileName = (model: PolicyDocumentModel, ext: 'html' | 'pdf'): string =>
  `${model.title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')}-version-${model.version.number}.${ext}`;

const STYLE = `
body { font-family: Arial, Helvetica, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; color: #1a1a1a; }
h1 { margin-bottom: 0.2rem; } .school { font-size: 1.2rem; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border: 1px solid #888; padding: 0.4rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #eef; } .clause-id { font-weight: bold; margin-right: 0.5rem; }
.superseded { border: 2px solid #a00; padding: 0.6rem 1rem; color: #600; }
.meta { color: #444; font-size: 0.9rem; }`;

export function renderDocumentHtml(model: PolicyDocumentModel): string {
  const e = escapeHtml;
  const v = model.version;
  const rows = model.history
    .map(
      (h) =>
        `<tr><td>${h.number}</td><td>${e(h.description)}</td><td>${e(policyDate(h.releaseDate))}</td><td>${e(h.approval ? `${h.approval.body}, ${policyDate(h.approval.date)}` : 'not recorded')}</td></tr>`,
    )
    .join('\n');
  const clauses =
    model.clauses === null
      ? '<p>The text of this version was not kept in Custos: it predates the system. Its record above is what the change history gives.</p>'
      : sectionsOf(model.clauses)
          .map(
            ([section, list]) =>
              `<section><h2>${e(SECTION_NAMES[section] ?? section)}</h2>\n${list
                .map(
                  (c) =>
                    `<article id="${e(c.id)}"><h3><span class="clause-id">${e(c.id)}</span>${e(c.title)}</h3><p>${e(c.text)}</p>${
                      c.parts && Object.keys(c.parts).length
                        ? `<ul>${Object.entries(c.parts)
                            .map(
                              ([part, text]) => `<li><strong>(${e(part)})</strong> ${e(text)}</li>`,
                            )
                            .join('')}</ul>`
                        : ''
                    }</article>`,
                )
                .join('\n')}</section>`,
          )
          .join('\n');
  return `<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(model.title)}, version ${v.number}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${e(model.title)}</h1>
<p class="school">${e(model.school)}</p>
${v.status === 'superseded' ? `<p class="superseded">This is version ${v.number}, which has been superseded. It is kept for the record (GOV-4); the version in force is at /api/policy/current.html.</p>` : ''}
<h2>Document owner and approval</h2>
<p>${e(model.owner.name)}, ${e(model.owner.role)}, ${e(model.school)} is the owner of this document and is responsible for ensuring that it is reviewed in line with the school's policy review schedule (every ${model.reviewIntervalMonths} months).</p>
<p>Version ${v.number}. ${e(approvalLine(v))}.</p>
<h2>Change history record</h2>
<table>
<caption class="meta">Version history (GOV-4)</caption>
<thead><tr><th scope="col">Version</th><th scope="col">Description of change</th><th scope="col">Date of release</th><th scope="col">Agreed by</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
${clauses}
<p class="meta">Published ${e(model.publishedAt.slice(0, 10))}${model.packSha256 ? `; policy pack SHA-256 ${e(model.packSha256)}` : ''}.</p>
</main>
</body>
</html>
`;
}
