/** `crinn build --labels` and `crinn bench --filter-selectivity`: input checks at the boundary (one line naming file/flag, exit 1, no index written) and a labelled build. */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../data/helpers.ts';
import { loadIndex } from '../../src/graph/index-file.ts';
import { crinnAsync as crinn, expectBadInput, writeRows } from './helpers.ts';

const { dir, cleanup } = tempDir('crinn-cli-labels-');
afterAll(cleanup);

describe.concurrent('crinn build --labels', () => {
  const base = path.join(dir, 'base.fvecs');
  const ready = writeRows(base, 200, 8, 3);

  it('stores the labels in the index', async () => {
    await ready;
    const labels = path.join(dir, 'ok.txt');
    writeFileSync(labels, Array.from({ length: 200 }, (_, i) => `${i % 4} ${100 + (i % 3)}`).join('\n') + '\n');
    const out = path.join(dir, 'ok.crinn');
    const r = await crinn(['build', '--base', base, '--labels', labels, '--out', out, '--threads', '1'], { timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const idx = await loadIndex(out);
    expect(idx.labels!.ids.length).toBe(400);
    expect(Array.from(idx.labels!.ids.subarray(idx.labels!.offsets[5], idx.labels!.offsets[6]))).toEqual([1, 102]);
  });

  it('refuses a bad line naming file and line, a wrong line count, and a bad .u32 size; writes nothing', async () => {
    await ready;
    const bad = path.join(dir, 'bad.txt');
    writeFileSync(bad, Array.from({ length: 200 }, (_, i) => (i === 41 ? '3 seven' : '1')).join('\n'));
    const short = path.join(dir, 'short.txt');
    writeFileSync(short, '1\n2\n');
    const u32 = path.join(dir, 'bad.u32');
    writeFileSync(u32, Buffer.alloc(10));
    const outs = ['a', 'b', 'c'].map((x) => path.join(dir, `${x}.crinn`));
    const [r1, r2, r3] = await Promise.all([
      crinn(['build', '--base', base, '--labels', bad, '--out', outs[0]]),
      crinn(['build', '--base', base, '--labels', short, '--out', outs[1]]),
      crinn(['build', '--base', base, '--labels', u32, '--out', outs[2]]),
    ]);
    expectBadInput(r1, `${bad}:42: 'seven' is not a label id`);
    expectBadInput(r2, `${short}: 2 lines of labels but the base has 200 vectors`);
    expectBadInput(r3, `${u32}: a .u32 label bitset`);
    for (const o of outs) expect(existsSync(o)).toBe(false);
  });

  it('refuses a bad --filter-selectivity naming the flag and the allowed range', async () => {
    expectBadInput(await crinn(['bench', '--dataset', 'siftsmall-5k', '--filter-selectivity', '0.5,2']), '--filter-selectivity', "'2' is not a fraction in (0, 1]");
  });
});
