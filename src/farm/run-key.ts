/**
 * RUN/farm.key: 32 random bytes per farm run, readable by its owner only. Job secrets derive from
 * it (protocol.ts jobSecret), so a resumed parent checks the results of jobs an earlier session
 * submitted. Never journaled, never sent: only the per-job secrets travel.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.ts';

export const RUN_KEY_FILE = 'farm.key';

export function runKey(runDir: string): Buffer {
  const file = path.join(runDir, RUN_KEY_FILE);
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
    if (key.length !== 32) throw new UserError(`${file}: expected 64 hex digits (the run's farm key)`);
    return key;
  }
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}
