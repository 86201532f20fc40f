// The policy document as a PDF (GOV-2), laid out with pdfkit from the same model as the HTML
// page: title, school, owner, approval (GOV-3), the version history table (GOV-4), then every
// clause with its id and words. The standard Helvetica fonts need no font files.
import PDFDocument from 'pdfkit';
import {
  approvalLine,
  type PolicyDocumentModel,
  policyDate,
  SECTION_NAMES,
  sectionsOf,
} from './document.ts';

/** Characters outside the standard fonts' encoding are replaced rather than printed wrongly. */
const printable = (text: string): string =>
  text
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201C\u201D]/g, '"')
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/[^\t\n\r\x20-\x7E\u00A0-\u00FF]/g, '?');

export function renderDocumentPdf(model: PolicyDocumentModel, now: Date): Promise<Buffer> {
  const doc = new PDFDocument({
    size: 'A4',
    margin: 56,
    bufferPages: true,
    lang: 'en-GB',
    displayTitle: true,
    info: {
      Title: `${model.title}, version ${model.version.number}`,
      Author: model.school,
      Subject: 'Policy document (GOV-2)',
      CreationDate: now,
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  const t = printable;
  const v = model.version;

  doc.font('Helvetica-Bold').fontSize(20).text(t(model.title));
  doc.font('Helvetica').fontSize(14).text(t(model.school)).moveDown();
  if (v.status === 'superseded') {
    doc
      .font('Helvetica-Bold')
      .fontSize(11)
      .fillColor('#990000')
      .text(`Version ${v.number} has been superseded. It is kept for the record (GOV-4).`)
      .fillColor('black')
      .moveDown();
  }
  doc.font('Helvetica-Bold').fontSize(13).text('Document owner and approval');
  doc
    .font('Helvetica')
    .fontSize(10.5)
    .text(
      t(
        `${model.owner.name}, ${model.owner.role}, ${model.school} is the owner of this document and is responsible for ensuring that it is reviewed in line with the school's policy review schedule (every ${model.reviewIntervalMonths} months).`,
      ),
    )
    .moveDown(0.5)
    .text(t(`Version ${v.number}. ${approvalLine(v)}.`))
    .moveDown();

  doc.font('Helvetica-Bold').fontSize(13).text('Change history record').moveDown(0.3);
  doc.fontSize(9.5);
  doc.table({
    columnStyles: [50, '*', 80, 120],
    defaultStyle: { padding: 4, border: 0.5 },
    data: [
      [
        { text: 'Version', type: 'TH', font: { src: 'Helvetica-Bold' } },
        { text: 'Description of change', type: 'TH', font: { src: 'Helvetica-Bold' } },
        { text: 'Date of release', type: 'TH', font: { src: 'Helvetica-Bold' } },
        { text: 'Agreed by', type: 'TH', font: { src: 'Helvetica-Bold' } },
      ],
      ...model.history.map((h) => [
        String(h.number),
        t(h.description),
        policyDate(h.releaseDate),
        t(h.approval ? `${h.approval.body}, ${policyDate(h.approval.date)}` : 'not recorded'),
      ]),
    ],
  });
  doc.moveDown();

  const left = doc.page.margins.left;
  if (model.clauses === null) {
    doc
      .font('Helvetica-Oblique')
      .fontSize(10.5)
      .text(
        'The text of this version was not kept in Custos: it predates the system. Its record above is what the change history gives.',
        left,
      );
  } else {
    for (const [section, clauses] of sectionsOf(model.clauses)) {
      doc
        .moveDown(0.5)
        .font('Helvetica-Bold')
        .fontSize(14)
        .text(t(SECTION_NAMES[section] ?? section), left);
      for (const clause of clauses) {
        doc
          .moveDown(0.4)
          .font('Helvetica-Bold')
          .fontSize(11)
          .text(t(`${clause.id}  ${clause.title}`), left);
        doc.font('Helvetica').fontSize(10.5).text(t(clause.text), left, undefined, {
          align: 'left',
        });
        for (const [part, text] of Object.entries(clause.parts ?? {})) {
          doc.text(t(`(${part}) ${text}`), left + 14);
        }
      }
    }
  }

  // Footer on every page: which version, and page x of n.
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const margin = doc.page.margins.bottom;
    const bottom = doc.page.height - margin + 16;
    // Writing inside the bottom margin would start a new page unless the margin is lifted.
    doc.page.margins.bottom = 0;
    doc
      .font('Helvetica')
      .fontSize(8)
      .fillColor('#444444')
      .text(
        t(`${model.title}, version ${v.number} - page ${i + 1} of ${range.count}`),
        left,
        bottom,
        { lineBreak: false },
      );
    doc.page.margins.bottom = margin;
  }
  doc.end();
  return done;
}
