/** Test helpers for test/data: temp folders, the shared datasets folder, one-line error checks. */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { UserError } from '../../src/errors.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedData = process.env.CRINN_DATA_DIR ?? path.resolve(repoRoot, '../shared/datasets');
export const hasShared = existsSync(path.join(sharedData, 'siftsmall', 'siftsmall_base.fvecs'));

/** A fresh folder under os.tmpdir(); returns it and a cleanup function. */
export function tempDir(prefix = 'crinn-data-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Awaits a rejection and checks it is a one-line UserError whose message contains every fragment. */
export async function expectUserError(p: Promise<unknown> | (() => unknown), ...fragments: (string | RegExp)[]): Promise<string> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a UserError').toBeInstanceOf(UserError);
  const msg = (err as Error).message;
  expect(msg).not.toContain('\n');
  for (const f of fragments) {
    if (typeof f === 'string') expect(msg).toContain(f);
    else expect(msg).toMatch(f);
  }
  return msg;
}
