// log: the structured (pino) logger every component uses; JSON lines on stderr.
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** createLogger makes the process logger; KUBELING_LOG_LEVEL overrides the level. */
export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  return pino({ level: process.env.KUBELING_LOG_LEVEL ?? opts.level ?? 'info', name: opts.name ?? 'kubeling', base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}

/** silentLogger is for tests and benchmarks that do not want log output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
