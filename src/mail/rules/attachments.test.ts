import { describe, expect, it } from 'vitest';
import { attachment } from '../../../test/fixtures/mail-rules/messages.ts';
import { attachmentView } from '../views.ts';
import { describeAttachment, isDisguised } from './attachments.ts';

const program = { detectedType: 'application/x-msdownload', extension: 'exe' };

describe('a file in disguise: its name says one type, its bytes another', () => {
  it('SYS-8: a Windows program named invoice.pdf is disguised, and is described as really a program', () => {
    const a = attachment({ name: 'invoice.pdf', ...program });
    expect(isDisguised(a)).toBe(true);
    expect(describeAttachment(a, 'a file')).toBe('invoice.pdf is really a Windows program');
  });

  it('a file that is what its name says is not, nor one named with another spelling of its type', () => {
    expect(isDisguised(attachment({ name: 'setup.exe', ...program }))).toBe(false);
    const photo = { detectedType: 'image/jpeg', extension: 'jpg' };
    expect(isDisguised(attachment({ name: 'class.JPEG', ...photo }))).toBe(false);
  });

  it('only the bytes can give a file away: bytes that say nothing leave it what its name says', () => {
    // The walk takes the extension from the name when the bytes say nothing; a name ending in a
    // space or a dot reads differently here and there, which is no evidence of a disguise.
    const a = attachment({ name: 'minutes.txt ', detectedType: null, extension: 'txt' });
    expect(isDisguised(a)).toBe(false);
    expect(describeAttachment(a, 'a file')).toBe('minutes.txt  is a file');
  });

  it('a file without a name cannot be disguised', () => {
    expect(isDisguised(attachment({ name: null, ...program }))).toBe(false);
  });

  it('the console shows the same judgement as the rules (views.ts uses this test)', () => {
    for (const a of [
      attachment({ name: 'invoice.pdf', ...program }),
      attachment({ name: 'minutes.txt ', detectedType: null, extension: 'txt' }),
      attachment({ name: 'class.jpeg', detectedType: 'image/jpeg', extension: 'jpg' }),
    ]) {
      expect(attachmentView(a).disguised).toBe(isDisguised(a));
    }
  });
});
