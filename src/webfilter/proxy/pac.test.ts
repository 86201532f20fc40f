import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { PAC_CONTENT_TYPE, pacFile } from './pac.ts';

/** Runs a PAC file with the helpers browsers provide (the subset it uses). */
function findProxy(pac: string, url: string, host: string): string {
  const toInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const sandbox = {
    isPlainHostName: (h: string) => !h.includes('.'),
    dnsDomainIs: (h: string, d: string) => h.endsWith(d),
    isInNet: (h: string, net: string, mask: string) =>
      (toInt(h) & toInt(mask)) >>> 0 === (toInt(net) & toInt(mask)) >>> 0,
    result: '',
  };
  vm.runInNewContext(
    `${pac}\nresult = FindProxyForURL(${JSON.stringify(url)}, ${JSON.stringify(host)});`,
    sandbox,
  );
  return sandbox.result;
}

describe('proxy auto-configuration', () => {
  const pac = pacFile({
    proxyHost: 'proxy.school.test',
    proxyPort: 3128,
    consoleHost: 'custos.school.test',
    directRanges: ['203.0.113.0/24'],
  });

  it('sends the web through the proxy, and never falls back to DIRECT', () => {
    expect(findProxy(pac, 'http://www.gov.uk/', 'www.gov.uk')).toBe('PROXY proxy.school.test:3128');
    expect(pac).not.toMatch(/PROXY[^"]*; DIRECT/);
    expect(PAC_CONTENT_TYPE).toBe('application/x-ns-proxy-autoconfig');
  });

  it("goes direct for plain names, the console and the school's own addresses", () => {
    expect(findProxy(pac, 'http://printer/', 'printer')).toBe('DIRECT');
    expect(findProxy(pac, 'http://custos.school.test:8080/', 'custos.school.test')).toBe('DIRECT');
    expect(findProxy(pac, 'http://10.0.0.5/', '10.0.0.5')).toBe('DIRECT');
    expect(findProxy(pac, 'http://192.168.1.1/', '192.168.1.1')).toBe('DIRECT');
    expect(findProxy(pac, 'http://203.0.113.9/', '203.0.113.9')).toBe('DIRECT');
    expect(findProxy(pac, 'http://8.8.8.8/', '8.8.8.8')).toBe('PROXY proxy.school.test:3128');
  });
});
