// E-mail addresses as the rules compare them: taken out of header values ("Name" <a@b>),
// lower-cased, and sorted into the school's own domains and everything else.

/** Quoted strings and (comments) removed, so a display name cannot supply an address. */
function stripNameParts(value: string): string {
  return value.replace(/"(?:[^"\\]|\\.)*"/g, ' ').replace(/\((?:[^()\\]|\\.)*\)/g, ' ');
}

const BARE = /[^\s<>,;:"()[\]]+@[^\s<>,;:"()[\]]+/g;

/**
 * Every address in a header value or envelope string, lower case: `<a@b>` parts when there are
 * any, else bare a@b tokens. `"Head <head@school>" <me@school>` gives only me@school.
 */
export function addressesIn(value: string | null | undefined): string[] {
  if (!value) return [];
  const plain = stripNameParts(value);
  const angled = [...plain.matchAll(/<([^<>]*)>/g)].map((m) => m[1]!.trim()).filter(Boolean);
  const found = angled.length > 0 ? angled : [...plain.matchAll(BARE)].map((m) => m[0]);
  return found.map((a) => a.toLowerCase().replace(/\.$/, ''));
}

/** The one address of an envelope or single-address value, or null. */
export function addressOf(value: string | null | undefined): string | null {
  return addressesIn(value)[0] ?? null;
}

export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).replace(/\.$/, '');
}

/** The school's own domains and their subdomains; everything else is outside. */
export function createDomainTest(domains: readonly string[]): (address: string) => boolean {
  const own = domains.map((d) => d.toLowerCase());
  return (address) => {
    const domain = domainOf(address.toLowerCase());
    return own.some((d) => domain === d || domain.endsWith(`.${d}`));
  };
}
