// worker: what every worker thread of the project is started with.

/**
 * workerExecArgv is the process's Node flags without those a worker started from a file refuses: `--input-type`
 * (a process run with `node --input-type=module -e …` would otherwise fail to start its writer).
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    if (execArgv[i] === '--input-type') i++;
    else if (!execArgv[i].startsWith('--input-type=')) out.push(execArgv[i]);
  }
  return out;
}
