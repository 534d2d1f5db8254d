import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareResults, loadBenchResult } from '../../src/bench/compare.ts';
import { UserError } from '../../src/errors.ts';
import { sampleBenchResult } from '../../scripts/check-report-screenshot.ts';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crinn-compare-'));
  const a = sampleBenchResult();
  const b = sampleBenchResult();
  b.adapter = { ...b.adapter!, description: 'OpenGL ES llvmpipe', backend: 'opengles' };
  b.systems = b.systems.slice(0, 1);
  await writeFile(join(dir, 'a.json'), JSON.stringify(a));
  await writeFile(join(dir, 'b.json'), JSON.stringify(b));
  const c = { ...sampleBenchResult(), dataset: { ...a.dataset, fingerprint: 'sha256:other' } };
  await writeFile(join(dir, 'c.json'), JSON.stringify(c));
  await writeFile(join(dir, 'bad.json'), JSON.stringify({ ...a, k: 0 }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('compareResults', () => {
  it('combines files into one table and one page', async () => {
    const cmp = await compareResults([join(dir, 'a.json'), join(dir, 'b.json')]);
    expect(cmp.results).toHaveLength(2);
    expect(cmp.table).toContain('[1] ');
    expect(cmp.table).toMatch(/gpu-beam @ llvmpipe \(LLVM 19\.1\.7, 256 bits\) \(vulkan\)\s/);
    expect(cmp.table).toMatch(/gpu-beam @ OpenGL ES llvmpipe \(opengles\)\s/);
    expect(cmp.table).not.toContain('different datasets');
    expect(cmp.html).toContain('gpu-beam @ OpenGL ES llvmpipe (opengles)');
    expect(cmp.html).toContain('<svg');
  });

  it('warns when the datasets differ', async () => {
    const cmp = await compareResults([join(dir, 'a.json'), join(dir, 'c.json')]);
    expect(cmp.table).toContain('different datasets');
    expect(cmp.html).toContain('different datasets');
  });

  it('takes a reference row label', async () => {
    const cmp = await compareResults([join(dir, 'a.json'), join(dir, 'b.json')], { reference: 'hnswlib-node @ llvmpipe (LLVM 19.1.7, 256 bits) (vulkan)' });
    expect(cmp.table).toContain('x vs hnswlib-node @');
  });

  it('fails with a UserError naming the bad or missing file', async () => {
    await expect(compareResults([join(dir, 'a.json'), join(dir, 'bad.json')])).rejects.toThrow(/bad\.json: bench result field k:/);
    await expect(loadBenchResult(join(dir, 'missing.json'))).rejects.toThrow(/missing\.json: file not found/);
    await expect(compareResults([])).rejects.toThrow(UserError);
  });
});
