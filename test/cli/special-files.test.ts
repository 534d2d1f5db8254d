/** Inputs that are not regular files (after following symlinks) are refused at once, naming the path. */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../data/helpers.ts';
import { readFvecs } from '../../src/data/vecs.ts';
import { crinn, expectBadInput, writeRows } from './helpers.ts';

const { dir, cleanup } = tempDir('crinn-cli-special-');
const p = (name: string) => path.join(dir, name);
afterAll(cleanup);

describe('non-regular input files', () => {
  it('a FIFO given as the base is refused instead of hanging', async () => {
    const fifo = p('base.fvecs');
    execFileSync('mkfifo', [fifo]);
    const q = await writeRows(p('q.fvecs'), 3, 4, 1);
    const r = crinn(['groundtruth', '--base', fifo, '--queries', q, '--out', p('gt.ivecs'), '--cache-dir', p('cache')], { timeout: 20_000 });
    expectBadInput(r, fifo, 'FIFO');
    await expect(readFvecs(fifo)).rejects.toThrow(/FIFO/);
  });

  it('/dev/urandom behind a symlink is a character device, not an "empty file"', () => {
    const link = p('random.fvecs');
    symlinkSync('/dev/urandom', link);
    const line = expectBadInput(crinn(['build', '--base', link, '--out', p('x.idx')], { timeout: 20_000 }), link, 'character device');
    expect(line).not.toContain('empty');
  });
});
