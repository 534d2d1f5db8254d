/**
 * Append-only JSONL files of the LLM policy (usage ledger, samples, trajectories): one write +
 * fsync per line, so a line on disk is a line that happened. A crash can tear only the last line
 * (no newline): readJsonl ignores it and the next append cuts it off; any other bad line is an
 * error naming it.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { UserError } from '../../errors.ts';

/** Length of the file up to and including its last newline (what survives a torn last line). */
function intactLength(fd: number): number {
  const size = fstatSync(fd).size;
  if (size === 0) return 0;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  if (last[0] === 0x0a) return size;
  const all = Buffer.alloc(size);
  readSync(fd, all, 0, size, 0);
  return all.lastIndexOf(0x0a) + 1;
}

export function appendJsonl(file: string, record: unknown): void {
  const fd = openSync(file, existsSync(file) ? 'r+' : 'w+');
  try {
    const at = intactLength(fd);
    ftruncateSync(fd, at);
    writeSync(fd, `${JSON.stringify(record)}\n`, at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function readJsonl(file: string): unknown[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  // Without a final newline the last line was being written when the process died.
  lines.pop();
  return lines.map((line, i) => {
    try {
      return JSON.parse(line);
    } catch (e) {
      throw new UserError(`${file}: line ${i + 1} is not JSON (${(e as Error).message})`);
    }
  });
}
