import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBenchResultText } from '../../src/bench/schema.ts';
import { packageVersion } from '../../src/bench/bench-system.ts';
import { repoRoot, tempDir } from '../data/helpers.ts';
import { spawnCli } from '../cli/helpers.ts';

const CLI = path.join(repoRoot, 'src/cli/main.ts');
const { dir, cleanup } = tempDir('crinn-cli-bench-');
afterAll(cleanup);
const hasUsearch = packageVersion('usearch') !== undefined;

/** Runs the real CLI in a child process (Node 22 from node_modules/.bin when present), without blocking the worker. */
async function crinn(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const localNode = path.join(repoRoot, 'node_modules/.bin/node');
  const r = await spawnCli(existsSync(localNode) ? localNode : process.execPath, [CLI, ...args], {
    cwd: dir,
    timeout: 240_000,
    env: { ...process.env, CRINN_CACHE_DIR: path.join(dir, 'cache') },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('crinn bench (end to end)', () => {
  it('benchmarks, prints the table and writes JSON and HTML', async () => {
    const json = path.join(dir, 'out.json');
    const html = path.join(dir, 'out.html');
    const r = await crinn('--quiet', 'bench', '--dataset', 'synthetic-2000-d16', '--peers', 'bruteforce,usearch', '--json', json, '--html', html);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('synthetic-2000-d16');
    expect(r.stdout).toMatch(/bruteforce\s+oracle/);
    // --quiet: no progress lines.
    expect(r.stderr).not.toContain('build bruteforce');
    const result = parseBenchResultText(readFileSync(json, 'utf8'), json);
    // The project's own GPU search runs by default beside the chosen peers.
    expect(result.systems.map((s) => s.name)).toEqual(['crinn', 'bruteforce', 'usearch']);
    const [own, brute] = result.systems;
    expect(brute.points[0].recall).toBe(1);
    expect(own.error).toBeUndefined();
    expect(Math.max(...own.points.map((p) => p.recall))).toBeGreaterThanOrEqual(0.95);
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/^<!DOCTYPE html>/i);
    expect(page).toContain('bruteforce');
    // No temp files left beside the outputs.
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 300_000);

  it.skipIf(!hasUsearch)(`that run measured usearch: no error, a sweep with recall >= 0.95${hasUsearch ? '' : ' (SKIPPED: usearch not installed: npm install usearch)'}`, () => {
    const json = path.join(dir, 'out.json');
    expect(existsSync(json), 'the JSON of the test above').toBe(true);
    const u = parseBenchResultText(readFileSync(json, 'utf8'), json).systems.find((s) => s.name === 'usearch');
    expect(u?.error).toBeUndefined();
    expect(u!.kind).toBe('cpu-peer');
    expect(Math.max(...u!.points.map((p) => p.recall))).toBeGreaterThanOrEqual(0.95);
  });
});

// Independent runs, each on its own outputs: concurrent, so their CLI start-ups overlap.
describe.concurrent('crinn bench (one run each)', () => {

  it('--json - prints only JSON on stdout', async () => {
    const r = await crinn('--quiet', 'bench', '--dataset', 'synthetic-2000-d16', '--peers', 'bruteforce', '--json', '-');
    expect(r.code, r.stderr).toBe(0);
    expect(parseBenchResultText(r.stdout, 'stdout').systems.map((s) => s.name)).toContain('bruteforce');
  }, 300_000);

  it('an unknown dataset exits 1 and lists the known names', async () => {
    const r = await crinn('bench', '--dataset', 'no-such-set', '--peers', 'bruteforce');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unknown dataset 'no-such-set'");
    expect(r.stderr).toContain('siftsmall');
    expect(r.stderr).toContain('synthetic-20k');
  });

  it('an unknown peer exits 1 and lists the allowed peers', async () => {
    const r = await crinn('bench', '--dataset', 'synthetic-2000-d16', '--peers', 'faiss');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unknown peer 'faiss'; allowed: gpu-exact, usearch, hnswlib, bruteforce");
  });

  it('an unwritable output folder exits 1 before any work', async () => {
    const r = await crinn('bench', '--dataset', 'synthetic-2000-d16', '--peers', 'bruteforce', '--json', path.join(dir, 'no-such-folder', 'x.json'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--json: cannot write');
    expect(r.stderr).not.toContain('build bruteforce');
  });

  it('compare: an unreadable file exits 1 naming it', async () => {
    const missing = path.join(dir, 'missing.json');
    const r = await crinn('bench', 'compare', missing);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${missing}: file not found`);
  });
});
