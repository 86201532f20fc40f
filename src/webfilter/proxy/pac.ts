// The proxy auto-configuration file (proxy.pac, wpad.dat): plain host names, the school's own
// addresses and the console go direct; everything else through the proxy.
import { isIP } from 'node:net';

export interface PacOptions {
  /** Where browsers reach the proxy. */
  readonly proxyHost: string;
  readonly proxyPort: number;
  /** The console's host name, reached directly. */
  readonly consoleHost: string | null;
  /** Ranges reached directly (the school's own network), as CIDR. */
  readonly directRanges: readonly string[];
}

function maskOf(bits: number): string {
  const parts: number[] = [];
  for (let i = 0; i < 4; i++) {
    const b = Math.max(0, Math.min(8, bits - i * 8));
    parts.push(b === 0 ? 0 : (0xff << (8 - b)) & 0xff);
  }
  return parts.join('.');
}

export const PAC_CONTENT_TYPE = 'application/x-ns-proxy-autoconfig';

export function pacFile(options: PacOptions): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = [
    'function FindProxyForURL(url, host) {',
    '  if (isPlainHostName(host) || dnsDomainIs(host, ".local")) return "DIRECT";',
  ];
  if (options.consoleHost) {
    lines.push(`  if (host === ${q(options.consoleHost)}) return "DIRECT";`);
  }
  lines.push(
    '  if (/^\\d+\\.\\d+\\.\\d+\\.\\d+$/.test(host)) {',
    '    if (isInNet(host, "10.0.0.0", "255.0.0.0") || isInNet(host, "172.16.0.0", "255.240.0.0") ||',
    '        isInNet(host, "192.168.0.0", "255.255.0.0") || isInNet(host, "127.0.0.0", "255.0.0.0")) return "DIRECT";',
  );
  for (const range of options.directRanges) {
    const [address, bits] = range.split('/');
    if (address && isIP(address) === 4) {
      lines.push(
        `    if (isInNet(host, ${q(address)}, ${q(maskOf(bits === undefined ? 32 : Number(bits)))})) return "DIRECT";`,
      );
    }
  }
  const hostPart = isIP(options.proxyHost) === 6 ? `[${options.proxyHost}]` : options.proxyHost;
  lines.push('  }', `  return "PROXY ${hostPart}:${options.proxyPort}";`, '}', '');
  return lines.join('\n');
}
