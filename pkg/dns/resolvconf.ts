// resolvconf: parses resolv.conf text as upstream kubelet's parseResolvConf does (pkg/kubelet/network/dns).

/** ResolvConf is what a resolv.conf says: nameservers accumulate, the last `search` and merged `options` win. */
export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  options: string[];
}

/**
 * parseResolvConf reads `nameserver`, `search` and `options` lines. As upstream: comments (`#`) are skipped,
 * nameservers accumulate, the last search line replaces earlier ones (trailing dots trimmed, `.` dropped), options
 * merge by name with the later one winning. Example: "search a. b\noptions ndots:2\noptions ndots:3 edns0" →
 * { searches: ['a','b'], options: ['ndots:3','edns0'] }.
 */
export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  let searches: string[] = [];
  let options: string[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    const fields = trimmed.split(/\s+/).filter(Boolean);
    if (fields.length === 0) continue;
    if (fields[0] === 'nameserver' && fields.length >= 2) nameservers.push(fields[1]!);
    if (fields[0] === 'search') searches = fields.slice(1).filter((s) => s !== '.').map((s) => s.replace(/\.$/, ''));
    if (fields[0] === 'options') options = mergeOptions(options, fields.slice(1));
  }
  return { nameservers, searches, options };
}

/** mergeOptions merges resolver options by name (`ndots:5` is named `ndots`); a later option replaces an earlier one in place. */
export function mergeOptions(existing: string[], added: string[]): string[] {
  const byName = new Map<string, string>();
  for (const o of [...existing, ...added]) byName.set(o.split(':')[0]!, o);
  return [...byName.values()];
}

/** formatResolvConf writes a resolv.conf for `cfg` (the file a pod sees). */
export function formatResolvConf(cfg: ResolvConf): string {
  const lines: string[] = [];
  if (cfg.searches.length) lines.push(`search ${cfg.searches.join(' ')}`);
  for (const ns of cfg.nameservers) lines.push(`nameserver ${ns}`);
  if (cfg.options.length) lines.push(`options ${cfg.options.join(' ')}`);
  return lines.join('\n') + '\n';
}
