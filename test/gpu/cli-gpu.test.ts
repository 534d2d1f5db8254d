import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readFloatVecs, readFvecs, readIvecs } from '../../src/data/vecs.ts';
import { EMBEDDED_DATA_DIR } from '../../src/data/resolve.ts';
import { recallAtK } from '../../src/bench/recall.ts';
import { hasShared, sharedData, tempDir, repoRoot } from '../data/helpers.ts';
import { spawnCli } from '../cli/helpers.ts';

// Not blocking the worker: the tests of a describe.concurrent, and independent runs in one test, overlap.
const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnCli(process.execPath, [path.join(repoRoot, 'src/cli/main.ts'), ...args], { timeout: 300_000, env: { ...process.env, ...env } });

describe.concurrent('crinn adapters / crinn groundtruth (CLI)', () => {
  it('lists adapters as JSON with their compute limits', async () => {
    const r = await cli(['adapters', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as { name: string; backend: string; limits: Record<string, number> }[];
    expect(list.length).toBeGreaterThan(0);
    expect(list[0].limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });

  // The shipped siftsmall-5k slice (uint8 .bvecs, ground truth by brute force) always; the full
  // siftsmall with its official ground truth when ../shared or $CRINN_DATA_DIR has it.
  const sets = [
    { what: 'siftsmall-5k against its shipped ground truth', dir: path.join(EMBEDDED_DATA_DIR, 'siftsmall-5k'), base: 'base.bvecs', query: 'query.bvecs', gt: 'groundtruth.ivecs', n: 5000 },
    ...(hasShared ? [{ what: 'siftsmall against the official ground truth', dir: path.join(sharedData, 'siftsmall'), base: 'siftsmall_base.fvecs', query: 'siftsmall_query.fvecs', gt: 'siftsmall_groundtruth.ivecs', n: 10000 }] : []),
  ];
  for (const set of sets) {
    it(`writes ${set.what}, then answers from the cache`, async () => {
      const { dir, cleanup } = tempDir('crinn-gt-cli-');
      try {
        const out = path.join(dir, 'gt.ivecs');
        const [b, q] = [path.join(set.dir, set.base), path.join(set.dir, set.query)];
        const args = ['groundtruth', '--base', b, '--queries', q, '--k', '100', '--metric', 'l2', '--out', out, '--cache-dir', dir];
        let r = await cli(args);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^computed:/);
        expect(existsSync(path.join(dir, 'gt.fvecs'))).toBe(true);
        const ids = await readIvecs(out);
        const reference = await readIvecs(path.join(set.dir, set.gt));
        const [base, queries] = [await readFloatVecs(b), await readFloatVecs(q)];
        const recall = recallAtK({ ids: ids.data, nq: ids.n, k: ids.dim }, base, queries, 'l2', { ids: reference.data, nq: reference.n, k: reference.dim }, 100);
        expect(recall.recall).toBe(1);
        r = await cli(args);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^cached:/);
      } finally {
        cleanup();
      }
    });
  }

  it('exits 1 with one line naming the problem for k > n, a missing file and an unknown metric', async () => {
    const sift = path.join(EMBEDDED_DATA_DIR, 'siftsmall-5k');
    const base = path.join(sift, 'base.bvecs');
    const queries = path.join(sift, 'query.bvecs');
    const cases: [string[], RegExp][] = [
      [['groundtruth', '--base', base, '--queries', queries, '--k', '20000', '--out', '/tmp/x.ivecs', '--no-cache'], /k: 20000 is larger than the base \(5000 vectors\)/],
      [['groundtruth', '--base', '/nonexistent/base.fvecs', '--queries', queries, '--out', '/tmp/x.ivecs'], /\/nonexistent\/base\.fvecs/],
      [['groundtruth', '--base', base, '--queries', queries, '--metric', 'manhattan', '--out', '/tmp/x.ivecs'], /unknown metric 'manhattan'; allowed: l2, ip, angular/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    for (const [i, [, message]] of cases.entries()) {
      const r = runs[i];
      expect(r.status, r.stderr).toBe(1);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('crinn:'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    }
  });
});

describe.concurrent('crinn build / search (CLI) on synthetic data', () => {
  it('writes ids and distances as a pair that match brute force, and reports the effort it really used', async () => {
    const { writeFvecs } = await import('../../src/data/vecs.ts');
    const { bruteForceKnn } = await import('../../src/data/metric.ts');
    const { randomSet } = await import('./helpers.ts');
    const { dir, cleanup } = tempDir('crinn-search-cli-');
    try {
      const base = randomSet(1000, 8, 1);
      const queries = randomSet(20, 8, 2);
      const [b, q] = [path.join(dir, 'b.fvecs'), path.join(dir, 'q.fvecs')];
      await writeFvecs(b, base);
      await writeFvecs(q, queries);
      const env = { CRINN_STDERR_FILTERED: '1' };
      // One after another: side by side, both builds would compile the same kNN kernel cold.
      for (const storage of ['f32', 'f16']) {
        const idx = path.join(dir, `${storage}.idx`);
        let r = await cli(['build', '--base', b, '--storage', storage, '--threads', '1', '--out', idx], env);
        expect(r.status, r.stderr).toBe(0);
        // The build's phases and its memory, one line each.
        expect(r.stdout).toMatch(/^phases: setup \d+\.\d s, order .*knn \d+\.\d s, prune .*entryLayer \d+\.\d s$/m);
        expect(r.stdout).toMatch(/^memory: peak RSS \d+ MiB; bytes\/vector: base \d+/m);
        const out = path.join(dir, `${storage}.ivecs`);
        // --refine 20 makes the list hold 20 candidates: the report says so instead of printing itopk=10.
        const refine = storage === 'f16' ? ['--refine', '20'] : [];
        r = await cli(['search', '--index', idx, '--queries', q, '--k', '10', '--ef', '10', ...refine, '--out', out], env);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toContain(storage === 'f16' ? 'itopk=20 (--ef 10 raised to hold refine=20 candidates)' : 'itopk=10 in');
        const ids = await readIvecs(out);
        const dist = await readFvecs(path.join(dir, `${storage}.fvecs`));
        expect([ids.n, ids.dim, dist.n, dist.dim]).toEqual([20, 10, 20, 10]);
        const exact = bruteForceKnn(base, queries, 10, 'l2');
        const recall = recallAtK({ ids: ids.data, nq: 20, k: 10 }, base, queries, 'l2', exact, 10);
        expect(recall.recall).toBeGreaterThan(0.9);
      }
    } finally {
      cleanup();
    }
  }, 300_000);
});
