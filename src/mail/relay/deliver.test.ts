import { describe, expect, it } from 'vitest';
import { classify, outcome, type Refusal, wordsOf } from './deliver.ts';

const HOP = 'the next mail server';
const smtpError = (responseCode: number, response: string, code = 'EENVELOPE') =>
  Object.assign(new Error('refused'), { code, responseCode, response });

const refusal = (recipient: string, temporary: boolean, over: Partial<Refusal> = {}): Refusal => ({
  recipient,
  temporary,
  code: temporary ? 451 : 550,
  enhanced: temporary ? '4.2.0' : '5.1.1',
  reply: temporary ? 'busy' : 'no such user',
  ...over,
});

describe('what the next hop said', () => {
  it('keeps its enhanced code and its words, without the codes', () => {
    expect(classify(smtpError(550, '550 5.1.1 <x@example.net>: no such user'), HOP)).toEqual({
      temporary: false,
      code: 550,
      enhanced: '5.1.1',
      reply: 'the next mail server answered "<x@example.net>: no such user"',
    });
    expect(wordsOf('452-4.2.2 Mailbox full\r\n452 4.2.2 try later')).toBe('Mailbox full try later');
  });

  it('a reply without an enhanced code gets X.0.0 of its class', () => {
    expect(classify(smtpError(451, '451 try again'), HOP)).toMatchObject({
      temporary: true,
      enhanced: '4.0.0',
    });
    expect(classify(smtpError(554, '554 no'), HOP)).toMatchObject({ enhanced: '5.0.0' });
  });

  it('no answer at all is temporary: 4.4.1 not reached, 4.4.2 connection lost, 4.4.3 DNS', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:25'), {
      code: 'ESOCKET',
      syscall: 'connect',
    });
    expect(classify(refused, HOP)).toMatchObject({ temporary: true, code: 0, enhanced: '4.4.1' });
    const silent = Object.assign(new Error('Greeting never received'), {
      code: 'ETIMEDOUT',
      timeoutType: 'GREETING_TIMEOUT',
    });
    expect(classify(silent, HOP).enhanced).toBe('4.4.1');
    const dropped = Object.assign(new Error('Connection closed'), { code: 'ECONNECTION' });
    expect(classify(dropped, HOP).enhanced).toBe('4.4.2');
    expect(classify(Object.assign(new Error('x'), { code: 'EDNS' }), HOP).enhanced).toBe('4.4.3');
  });

  it('our own sign-in or TLS failing at the next hop is temporary, never a bounce', () => {
    expect(classify(smtpError(535, '535 5.7.8 bad credentials', 'EAUTH'), HOP)).toMatchObject({
      temporary: true,
      enhanced: '4.7.0',
    });
    expect(classify(smtpError(502, '502 5.5.1 no STARTTLS', 'ETLS'), HOP)).toMatchObject({
      temporary: true,
      enhanced: '4.7.4',
    });
  });
});

describe('one answer for the message: delivered only when every recipient was', () => {
  const to = ['a@one.example', 'b@one.example', 'c@two.example'];

  it('no refusal: delivered', () => {
    expect(outcome(to, [], ['250 ok'])).toEqual({ ok: true, reply: '250 ok' });
  });

  it('any temporary refusal makes the whole message temporary (451), naming who already has it', () => {
    const d = outcome(to, [refusal('c@two.example', true)], ['250 ok']);
    expect(d).toMatchObject({ ok: false, temporary: true, code: 451, enhanced: '4.2.0' });
    expect(d.ok === false && d.delivered).toEqual(['a@one.example', 'b@one.example']);
    expect(d.ok === false && d.reply).toBe(
      'to c@two.example: busy; delivered to the 2 other recipients',
    );
  });

  it('temporary wins over permanent, so the sender retries rather than bounces a message some may yet get', () => {
    const d = outcome(to, [refusal('a@one.example', false), refusal('c@two.example', true)], []);
    expect(d).toMatchObject({ ok: false, temporary: true, code: 451 });
  });

  it('only permanent refusals: permanent, with the code and words of the first', () => {
    const d = outcome(
      to,
      [refusal('b@one.example', false, { code: 553, enhanced: '5.1.3' })],
      ['250 ok'],
    );
    expect(d).toMatchObject({ ok: false, temporary: false, code: 553, enhanced: '5.1.3' });
  });

  it('the same reason for everyone is said once', () => {
    const d = outcome(
      to,
      to.map((r) => refusal(r, true)),
      [],
    );
    expect(d.ok === false && d.reply).toBe('busy');
  });
});
