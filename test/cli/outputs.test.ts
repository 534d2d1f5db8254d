/**
 * Output paths are checked before any work: an output that is an input (or the distances file
 * beside it is) is refused with exit 1 and the input is left byte for byte as it was; a missing
 * folder or a folder given as --out is refused naming the path the user gave; ids and distances
 * are written as a pair or not at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../data/helpers.ts';
import { buildIndex, saveIndex } from '../../src/search/engine.ts';
import { sampleBenchResult } from '../../scripts/check-report-screenshot.ts';
import { crinnAsync as crinn, expectBadInput, randomRows, sha, writeRows } from './helpers.ts';

const { dir, cleanup } = tempDir('crinn-cli-out-');
const p = (name: string) => path.join(dir, name);
let base = '';
let queries = '';
let index = '';

beforeAll(async () => {
  base = await writeRows(p('data.fvecs'), 300, 8, 1);
  queries = await writeRows(p('q.fvecs'), 5, 8, 2);
  const { index: idx } = await buildIndex(randomRows(300, 8, 1), 'l2', { threads: 1 });
  index = p('x.idx');
  await saveIndex(index, idx);
}, 60_000);
afterAll(cleanup);

// Every case is one refusal before any work on its own files: the cases run concurrently, so
// their CLI start-ups overlap.
describe.concurrent('an output that is an input is refused before any work', () => {
  it('groundtruth --out data.ivecs would write its distances onto the base data.fvecs', async () => {
    const before = sha(base);
    const r = await crinn(['groundtruth', '--base', base, '--queries', queries, '--k', '3', '--out', p('data.ivecs'), '--cache-dir', p('cache')]);
    expectBadInput(r, '--out (distances beside it)', 'data.fvecs', 'same file as the input --base');
    expect(sha(base)).toBe(before);
    expect(existsSync(p('data.ivecs'))).toBe(false);
    expect(existsSync(p('cache'))).toBe(false); // no work started
  });

  it('groundtruth --out onto the queries through a symlink', async () => {
    symlinkSync(queries, p('alias.ivecs'));
    const before = sha(queries);
    const r = await crinn(['groundtruth', '--base', base, '--queries', queries, '--out', p('alias.ivecs'), '--cache-dir', p('cache')]);
    expectBadInput(r, '--out', 'alias.ivecs', '--queries');
    expect(sha(queries)).toBe(before);
  });

  it('build --out onto its own base', async () => {
    const before = sha(base);
    expectBadInput(await crinn(['build', '--base', base, '--out', base]), '--out', 'same file as the input --base');
    expect(sha(base)).toBe(before);
  });

  it('search --out onto the queries or the index', async () => {
    const [q0, i0] = [sha(queries), sha(index)];
    // q.ivecs -> distances q.fvecs: the queries.
    expectBadInput(await crinn(['search', '--index', index, '--queries', queries, '--out', p('q.ivecs')]), 'q.fvecs', '--queries');
    expectBadInput(await crinn(['search', '--index', index, '--queries', queries, '--out', index]), '--out', 'same file as the input --index');
    expect([sha(queries), sha(index)]).toEqual([q0, i0]);
  });

  it('bench --json / --html onto the dataset file, or onto each other', async () => {
    const before = sha(base);
    expectBadInput(await crinn(['bench', '--dataset', base, '--peers', 'bruteforce', '--json', base]), '--json', 'same file as the input --dataset');
    expectBadInput(await crinn(['bench', '--dataset', base, '--peers', 'bruteforce', '--html', base]), '--html', '--dataset');
    expectBadInput(await crinn(['bench', '--dataset', base, '--peers', 'bruteforce', '--json', p('r.out'), '--html', p('r.out')]), '--html', 'same file as --json');
    expect(sha(base)).toBe(before);
  });

  it('bench compare --html onto one of the result files', async () => {
    const a = p('a.json');
    writeFileSync(a, JSON.stringify(sampleBenchResult()));
    const before = sha(a);
    expectBadInput(await crinn(['bench', 'compare', a, '--html', a]), '--html', 'a.json');
    expect(sha(a)).toBe(before);
  });
});

describe.concurrent('unwritable outputs are refused before the work, naming the path given', () => {
  it('build --out in a missing folder: exit 1 naming the path, no temp file', async () => {
    const out = p('missing/dir/x.idx');
    const line = expectBadInput(await crinn(['build', '--base', base, '--out', out]), '--out', out, 'does not exist');
    expect(line).not.toContain('.tmp');
  });

  it('build --out a folder: exit 1, not a raw EISDIR', async () => {
    mkdirSync(p('adir'));
    const line = expectBadInput(await crinn(['build', '--base', base, '--out', p('adir')]), '--out', p('adir'), 'is a directory');
    expect(line).not.toContain('EISDIR');
  });

  it('search --out x.ivecs when x.fvecs is a folder writes neither file', async () => {
    mkdirSync(p('res.fvecs'));
    expectBadInput(await crinn(['search', '--index', index, '--queries', queries, '--k', '3', '--out', p('res.ivecs')]), 'res.fvecs', 'is a directory');
    expect(existsSync(p('res.ivecs'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});
