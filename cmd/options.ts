// options: flag helpers shared by the commands — each flag has an env var (KUBELING_*) and a default; a YAML
// config file's keys are flag names; the command line wins.
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';

/** flag makes an Option that also reads KUBELING_<NAME>. */
export function flag(flags: string, description: string, defaultValue?: unknown): Option {
  const long = /--([a-z0-9-]+)/.exec(flags)![1];
  const o = new Option(flags, description).env(`KUBELING_${long.toUpperCase().replace(/-/g, '_')}`);
  if (defaultValue !== undefined) o.default(defaultValue);
  return o;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

/**
 * applyConfigFile fills options from `--config FILE` (YAML, keys are flag names such as `data-dir`) wherever the
 * command line and the environment left the default.
 */
export async function applyConfigFile(cmd: Command): Promise<void> {
  const opts = cmd.opts();
  if (!opts.config) return;
  const { parse: parseYaml } = await import('yaml'); // only with --config
  const doc = parseYaml(readFileSync(opts.config, 'utf8')) ?? {};
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const camel = key.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    const source = cmd.getOptionValueSource(camel);
    if (source === undefined || source === 'default') cmd.setOptionValueWithSource(camel, value, 'config');
  }
}

/** parseDuration reads a Go-style duration ("40s", "5m", "1h30m", "500ms") into milliseconds; a bare number is seconds. */
export function parseDuration(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = v.trim();
  if (!rest) throw new Error(`invalid duration "${v}"`);
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (!m) throw new Error(`invalid duration "${v}" (use e.g. 40s, 5m, 1h)`);
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** parseBool reads "true"/"false" flag values (upstream's --leader-elect=false); a bare flag is true. */
export function parseBool(v: string | boolean | undefined): boolean {
  if (v === undefined || v === true || v === '') return true;
  if (v === false) return false;
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new Error(`invalid boolean "${v}"`);
}
