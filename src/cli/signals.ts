/**
 * SIGINT/SIGTERM while a command writes: remove the temp files it has in flight, then exit with
 * the shell's code (130, 143). Atomic writers in src/data register their temp files; the index
 * writer names its temp `OUT.tmp-PID-*`, so the outputs a command declares are also swept for those.
 */
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { removeTrackedTemps } from '../data/temp-files.ts';

const outputs = new Set<string>();

/** Outputs of the running command whose `NAME.tmp-PID-*` siblings a signal removes. */
export function watchOutputs(files: readonly (string | undefined)[]): void {
  for (const f of files) if (f !== undefined && f !== '-') outputs.add(path.resolve(f));
}

/** Removes every temp file this process has in flight (synchronous: runs inside a signal handler). */
export function removeTempFiles(): void {
  removeTrackedTemps();
  for (const out of outputs) {
    const dir = path.dirname(out);
    const prefix = `${path.basename(out)}.tmp-${process.pid}-`;
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) if (n.startsWith(prefix)) rmSync(path.join(dir, n), { force: true });
  }
}

const CODES = { SIGINT: 130, SIGTERM: 143 } as const;

export function installSignalCleanup(): void {
  for (const sig of Object.keys(CODES) as (keyof typeof CODES)[]) {
    process.once(sig, () => {
      removeTempFiles();
      process.stderr.write(`crinn: interrupted by ${sig}; partial output removed\n`);
      process.exit(CODES[sig]);
    });
  }
}
