import { describe, expect, it } from 'vitest';
import { createTargetPolicy, TargetRefused } from './target.ts';

describe('target addresses', () => {
  const policy = createTargetPolicy({
    allowed: ['10.0.5.20', '192.168.10.0/24'],
    ownPorts: [3128, 8080],
  });
  const refused = (address: string, port = 80) => {
    try {
      policy.check(address, port);
      return null;
    } catch (error) {
      return error instanceof TargetRefused ? error.why : 'other';
    }
  };

  it('refuses loopback, private, link-local and reserved addresses, v4, v6 and mapped', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '0.0.0.0',
      '100.64.0.1',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '224.0.0.1',
    ]) {
      expect(refused(a), a).toBe('private-address');
    }
  });

  it('lets public addresses and the listed private ones through', () => {
    for (const a of ['93.184.216.34', '2606:2800:220:1::1', '10.0.5.20', '192.168.10.7']) {
      expect(refused(a), a).toBeNull();
    }
  });

  it("never reaches the server's own ports on its own addresses", () => {
    expect(refused('127.0.0.1', 3128)).toBe('own-port');
    expect(refused('0.0.0.0', 8080)).toBe('own-port');
    const open = createTargetPolicy({ allowed: ['127.0.0.0/8'], ownPorts: [3128] });
    expect(() => open.check('127.0.0.1', 3128)).toThrow(TargetRefused);
    expect(() => open.check('127.0.0.1', 8081)).not.toThrow();
  });

  it('refuses a configuration entry that is not an address', () => {
    expect(() => createTargetPolicy({ allowed: ['intranet'], ownPorts: [] })).toThrow(
      /not an address/,
    );
  });
});
