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
