// Outbound delivery straight to the recipient domains' mail servers (mail.outbound.delivery: mx),
// over real SMTP and real DNS packets: the DNS stand-in of the DNS filter's tests answers the MX,
// A and AAAA questions, and digest sinks on 127.0.0.2, 127.0.0.3 ... stand in for the domains'
// mail servers, all on one port as the internet's are on 25. The rule that matters: 250 only once
// every recipient domain has taken the message.
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { clamdProblem } from '../support/clamd.ts';
import { type StandIn, type StandInRecords, startStandIn } from '../support/dns.ts';
import {
  type DigestSinkOptions,
  type Gateway,
  gateway,
  mxDelivery,
  newStarterDetails,
  OFFICE,
  records,
  send,
  setUpMailGateways,
  splitTrace,
  startMxSinks,
  TEACHER,
  teacherLetter,
} from '../support/mail-gateway.ts';

setUpMailGateways();

const DISCLAIMER = 'monitors e-mail for viruses';

const standIns: StandIn[] = [];
afterEach(async () => {
  while (standIns.length) await standIns.pop()!.stop();
});

/**
 * A gateway that delivers outbound mail by MX, with DNS from `records` and mail servers on
 * 127.0.0.2, 127.0.0.3 ... (null: nothing listens there). The school's mail service (127.0.0.1)
 * sends without AUTH.
 */
async function mxWorld(dns: StandInRecords, servers: (DigestSinkOptions | null)[]) {
  const standIn = await startStandIn(dns);
  standIns.push(standIn);
  const mx = await startMxSinks(servers.map((s) => (s ? { keep: true, ...s } : null)));
  const g = await gateway({ trusted: true, config: mxDelivery(standIn.port, mx.port) });
  return { g, standIn, sinks: mx.sinks };
}

/** Two recipient domains, each with one MX of its own: on 127.0.0.2 and 127.0.0.3. */
const TWO_DOMAINS: StandInRecords = {
  mx: {
    'one.example': [{ preference: 10, exchange: 'mx.one.example' }],
    'two.example': [{ preference: 10, exchange: 'mx.two.example' }],
  },
  a: { 'mx.one.example': '127.0.0.2', 'mx.two.example': '127.0.0.3' },
};

/** A teacher's letter to `to`, sent as the school's mail service sends it. */
const sendLetter = async (g: Gateway, to: string[]) =>
  send(g, TEACHER, to, await teacherLetter(to));

describe.skipIf(clamdProblem !== null)('outbound delivery by MX records', () => {
  it("MAIL-4: outbound mail goes to the recipient domain's most preferred MX, whatever order DNS lists them in, with the disclaimer and the gateway's Received header; the smart host gets nothing", async () => {
    const { g, sinks } = await mxWorld(
      {
        mx: {
          'example.net': [
            { preference: 20, exchange: 'backup.example.net' },
            { preference: 10, exchange: 'mx1.example.net' },
          ],
        },
        a: { 'mx1.example.net': '127.0.0.2', 'backup.example.net': '127.0.0.3' },
      },
      [{}, {}],
    );
    const to = ['parent@example.net'];
    const reply = await sendLetter(g, to);
    expect(reply.code, reply.text).toBe(250);
    expect(sinks[0]!.received.map((m) => [m.from, m.to])).toEqual([[TEACHER, to]]);
    expect(sinks[1]!.received).toHaveLength(0);
    expect(g.sink.received).toHaveLength(0);
    const raw = sinks[0]!.received[0]!.raw!;
    expect(splitTrace(raw).unfolded).toContain(' for <parent@example.net>; ');
    expect((await simpleParser(raw)).text).toContain(DISCLAIMER);
    expect((await records(g.store))[0]).toMatchObject({ status: 'delivered' });
  });

  it('when the preferred MX does not answer and the next answers 451, the one after takes it (RFC 5321 5.1)', async () => {
    const { g, sinks } = await mxWorld(
      {
        mx: {
          'example.net': [
            { preference: 10, exchange: 'mx1.example.net' },
            { preference: 20, exchange: 'mx2.example.net' },
            { preference: 30, exchange: 'mx3.example.net' },
          ],
        },
        a: {
          'mx1.example.net': '127.0.0.2',
          'mx2.example.net': '127.0.0.3',
          'mx3.example.net': '127.0.0.4',
        },
      },
      [null, { refuseData: { code: 451, message: '4.3.2 Busy, try later' } }, {}],
    );
    const to = ['parent@example.net'];
    const reply = await sendLetter(g, to);
    expect(reply.code, reply.text).toBe(250);
    expect(sinks[1]!.received).toHaveLength(0);
    expect(sinks[2]!.received.map((m) => m.to)).toEqual([to]);
  });

  it('a domain without MX records takes its mail at its own address (the implicit MX of RFC 5321 5.1)', async () => {
    const { g, sinks } = await mxWorld({ a: { 'plain.example': '127.0.0.2' } }, [{}]);
    const to = ['someone@plain.example'];
    expect((await sendLetter(g, to)).code).toBe(250);
    expect(sinks[0]!.received.map((m) => m.to)).toEqual([to]);
  });

  it('a domain with a null MX (RFC 7505) is refused 556 5.1.10 and nothing is sent; one that does not exist 550 5.1.2', async () => {
    const { g, sinks } = await mxWorld(
      {
        mx: { 'nomail.example': [{ preference: 0, exchange: '.' }] },
        a: { 'nomail.example': '127.0.0.2' },
        nxdomain: ['nowhere.example'],
      },
      [{}],
    );
    const nullMx = await sendLetter(g, ['a@nomail.example']);
    expect(nullMx.code).toBe(556);
    expect(nullMx.text).toMatch(/^556 5\.1\.10 Not delivered: nomail\.example takes no e-mail/);
    const gone = await sendLetter(g, ['b@nowhere.example']);
    expect(gone.code).toBe(550);
    expect(gone.text).toMatch(
      /^550 5\.1\.2 Not delivered: the domain nowhere\.example does not exist/,
    );
    expect(sinks[0]!.received).toHaveLength(0);
    expect((await records(g.store)).map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('nothing lost: when every MX fails for now the answer is 451 with the code of the server that answered, and the sender retries', async () => {
    const { g } = await mxWorld(
      {
        mx: {
          'example.net': [
            { preference: 10, exchange: 'mx1.example.net' },
            { preference: 20, exchange: 'mx2.example.net' },
          ],
        },
        a: { 'mx1.example.net': '127.0.0.2', 'mx2.example.net': '127.0.0.3' },
      },
      [{ refuseData: { code: 451, message: '4.7.1 Greylisted, come back later' } }, null],
    );
    const to = ['parent@example.net'];
    const reply = await sendLetter(g, to);
    expect(reply.code).toBe(451);
    expect(reply.text).toMatch(
      /^451 4\.7\.1 Not delivered yet: mx1\.example\.net \[127\.0\.0\.2\] answered "Greylisted, come back later"; try again later$/,
    );
    expect((await records(g.store))[0]).toMatchObject({ status: 'failed' });
  });

  it('nothing lost: with DNS not answering the answer is 451 4.4.3', async () => {
    const { g, standIn } = await mxWorld({}, [{}]);
    standIn.silence(true);
    const to = ['parent@example.net'];
    const reply = await sendLetter(g, to);
    expect(reply.code).toBe(451);
    expect(reply.text).toMatch(
      /^451 4\.4\.3 Not delivered yet: the mail servers of example\.net could not be looked up/,
    );
  });

  it('recipients at two domains: each domain gets one copy for its own recipients only, and the sender 250 once both took it', async () => {
    const { g, sinks } = await mxWorld(TWO_DOMAINS, [{}, {}]);
    const to = ['a@one.example', 'c@two.example', 'b@ONE.example'];
    const reply = await sendLetter(g, to);
    expect(reply.code, reply.text).toBe(250);
    // Grouped by domain whatever its case (the relay takes domains in lower case).
    expect(sinks[0]!.received.map((m) => m.to)).toEqual([['a@one.example', 'b@one.example']]);
    expect(sinks[1]!.received.map((m) => m.to)).toEqual([['c@two.example']]);
  });

  it('one domain taking it and another deferring is answered 451, never 250, naming who already has it', async () => {
    const { g, sinks } = await mxWorld(TWO_DOMAINS, [
      {},
      { refuseData: { code: 452, message: '4.2.2 Mailbox full' } },
    ]);
    const to = ['a@one.example', 'c@two.example'];
    const reply = await sendLetter(g, to);
    expect(reply.code).toBe(451);
    expect(reply.text).toBe(
      '451 4.2.2 Not delivered yet: to c@two.example: mx.two.example [127.0.0.3] answered "Mailbox full"; delivered to the 1 other recipient; try again later',
    );
    expect(sinks[0]!.received).toHaveLength(1);
    expect((await records(g.store))[0]).toMatchObject({ status: 'failed' });
  });

  it('one domain taking it and another refusing a recipient for good is answered 550 5.1.1, never 250', async () => {
    const { g, sinks } = await mxWorld(TWO_DOMAINS, [
      {},
      { refuseRecipient: () => ({ code: 550, message: '5.1.1 No such user' }) },
    ]);
    const to = ['a@one.example', 'typo@two.example'];
    const reply = await sendLetter(g, to);
    expect(reply.code).toBe(550);
    expect(reply.text).toMatch(
      /^550 5\.1\.1 Not delivered: to typo@two\.example: mx\.two\.example \[127\.0\.0\.3\] answered "No such user"; delivered to the 1 other recipient$/,
    );
    expect(sinks[0]!.received).toHaveLength(1);
    expect(sinks[1]!.received).toHaveLength(0);
  });

  it('MAIL-12: a held message released by the School Business Manager goes out by MX too', async () => {
    const { g, sinks } = await mxWorld(
      {
        mx: { 'example.net': [{ preference: 10, exchange: 'mx1.example.net' }] },
        a: { 'mx1.example.net': '127.0.0.2' },
      },
      [{}],
    );
    const raw = await newStarterDetails('payroll@example.net');
    const reply = await send(g, OFFICE, ['payroll@example.net'], raw);
    expect(reply.text).toMatch(/Held for review/);
    expect(sinks[0]!.received).toHaveLength(0);
    const [row] = await records(g.store);
    await g.quarantine.release(row!.id, { id: 'sbm', label: 'School Business Manager' }, 'ok');
    expect(sinks[0]!.received.map((m) => m.to)).toEqual([['payroll@example.net']]);
  });
});
