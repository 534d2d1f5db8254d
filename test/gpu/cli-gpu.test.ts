import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readFvecs, readIvecs } from '../../src/data/vecs.ts';
import { recallAtK } from '../../src/bench/recall.ts';
import { sharedData, tempDir, repoRoot } from '../data/helpers.ts';

const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [path.join(repoRoot, 'src/cli/main.ts'), ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } });

describe('crinn adapters / crinn groundtruth (CLI)', () => {
  it('lists adapters as JSON with their compute limits', () => {
    const r = cli(['adapters', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as { name: string; backend: string; limits: Record<string, number> }[];
    expect(list.length).toBeGreaterThan(0);
    expect(list[0].limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });

  it('writes siftsmall ground truth that matches the official one, then answers from the cache', async () => {
    const { dir, cleanup } = tempDir('crinn-gt-cli-');
    try {
      const sift = path.join(sharedData, 'siftsmall');
      const out = path.join(dir, 'gt.ivecs');
      const args = ['groundtruth', '--base', path.join(sift, 'siftsmall_base.fvecs'), '--queries', path.join(sift, 'siftsmall_query.fvecs'), '--k', '100', '--metric', 'l2', '--out', out, '--cache-dir', dir];
      let r = cli(args);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^computed:/);
      expect(existsSync(path.join(dir, 'gt.fvecs'))).toBe(true);
      const ids = await readIvecs(out);
      const official = await readIvecs(path.join(sift, 'siftsmall_groundtruth.ivecs'));
      const base = await readFvecs(path.join(sift, 'siftsmall_base.fvecs'));
      const queries = await readFvecs(path.join(sift, 'siftsmall_query.fvecs'));
      const recall = recallAtK({ ids: ids.data, nq: ids.n, k: ids.dim }, base, queries, 'l2', { ids: official.data, nq: official.n, k: official.dim }, 100);
      expect(recall.recall).toBe(1);
      r = cli(args);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^cached:/);
    } finally {
      cleanup();
    }
  });

  it('exits 1 with one line naming the problem for k > n, a missing file and an unknown metric', () => {
    const sift = path.join(sharedData, 'siftsmall');
    const base = path.join(sift, 'siftsmall_base.fvecs');
    const queries = path.join(sift, 'siftsmall_query.fvecs');
    const cases: [string[], RegExp][] = [
      [['groundtruth', '--base', base, '--queries', queries, '--k', '20000', '--out', '/tmp/x.ivecs', '--no-cache'], /k: 20000 is larger than the base \(10000 vectors\)/],
      [['groundtruth', '--base', '/nonexistent/base.fvecs', '--queries', queries, '--out', '/tmp/x.ivecs'], /\/nonexistent\/base\.fvecs/],
      [['groundtruth', '--base', base, '--queries', queries, '--metric', 'manhattan', '--out', '/tmp/x.ivecs'], /unknown metric 'manhattan'; allowed: l2, ip, angular/],
    ];
    for (const [args, message] of cases) {
      const r = cli(args);
      expect(r.status, r.stderr).toBe(1);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('crinn:'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    }
  });
});
