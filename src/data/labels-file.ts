/** Reading a labels file from disk (the formats: labels.ts parseLabels). */
import { readFile } from 'node:fs/promises';
import { UserError } from '../errors.ts';
import { assertRegularFile } from './vecs.ts';
import { parseLabels, type LabelSets } from './labels.ts';

/** Reads and validates a labels file (parseLabels' formats) for a base of n vectors. */
export async function readLabelsFile(path: string, n: number): Promise<LabelSets> {
  await assertRegularFile(path);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseLabels(bytes, n, path);
}
