// exec: the injectable runner of the host commands the pod network uses (`ip`, `iptables -w`), never through a shell.
import { execFile } from 'node:child_process';

/** Command is the program a runner may start: the pod network needs nothing else. */
export type Command = 'ip' | 'iptables';

/** CommandRunner runs one command and resolves its stdout; it rejects with a CommandError on a non-zero exit. */
export type CommandRunner = (cmd: Command, args: readonly string[]) => Promise<string>;

/** CommandError carries the exit code and stderr, so callers tell "no such rule" (iptables -C exits 1) from failures. */
export class CommandError extends Error {
  readonly code: number;
  readonly stderr: string;
  constructor(cmd: string, args: readonly string[], code: number, stderr: string) {
    super(`${cmd} ${args.join(' ')}: exit ${code}: ${stderr.trim()}`);
    this.name = 'CommandError';
    this.code = code;
    this.stderr = stderr;
  }
}

const TIMEOUT_MS = 30_000;

function run(file: string, args: readonly string[], shown: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const code = typeof err.code === 'number' ? err.code : -1;
      reject(new CommandError(shown, args, code, stderr || err.message));
    });
  });
}

/** hostRunner runs the commands in the host's namespaces; iptables always with `-w` (the xtables lock: other agents run too). */
export const hostRunner: CommandRunner = (cmd, args) => run(cmd, cmd === 'iptables' ? ['-w', ...args] : args, cmd);

/** netnsRunner runs them inside the named network namespace (`ip netns exec NS …`): how tests program a namespace they made. */
export function netnsRunner(ns: string): CommandRunner {
  return (cmd, args) => run('ip', ['netns', 'exec', ns, cmd, ...(cmd === 'iptables' ? ['-w', ...args] : args)], `[${ns}] ${cmd}`);
}
