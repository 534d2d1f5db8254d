import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRun } from '../../src/evolve/loop.ts';
import { exportRun } from '../../src/evolve/export.ts';
import { bundleManifestSchema, readBundle } from '../../src/bundle/format.ts';
import { bestOf } from '../../src/evolve/run-state.ts';
import { baseline, evaluate } from './fixtures/loop-evaluator.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const tmp = () => mkdtempSync(path.join(tmpdir(), 'crinn-export-'));

async function run(): Promise<{ dir: string; st: Awaited<ReturnType<typeof startRun>> }> {
  const dir = path.join(tmp(), 'run');
  const st = await startRun(dir, { dataset: 'fixture', policy: 'autotune', stages: ['graph', 'search', 'refine'], budget: { evals: 12 }, seed: 3, spread: 0.05, patience: 100, evaluator: {} }, { evaluate, baseline });
  return { dir, st };
}

describe('crinn export (fixture run)', () => {
  it('writes a bundle whose manifest validates and matches the run', async () => {
    const { dir, st } = await run();
    const out = path.join(tmp(), 'bundle');
    const r = exportRun(dir, { out, datasetFingerprint: 'f'.repeat(64), adapter: { name: 'fixture', limits: { maxStorageBufferBindingSize: 1 << 27 } } });
    const m = readBundle(out);
    expect(bundleManifestSchema.parse(JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')))).toEqual(m);
    expect(m).toEqual(r.manifest);
    expect(m.dataset.fingerprint).toBe('f'.repeat(64));
    expect(m.adapter.limits).toEqual({ maxStorageBufferBindingSize: 1 << 27 });
    const refineBest = bestOf(st.stages[2])!;
    expect(m.reward).toBe(refineBest.verdict!.reward);
    expect(m.overallReward).toBeCloseTo(st.stages.reduce((g, s) => g * bestOf(s)!.verdict!.reward!, 1), 12);
    expect(m.curve).toEqual(refineBest.verdict!.variantCurve);
    expect(m.baselineCurve.length).toBeGreaterThan(0);
    const params = JSON.parse(readFileSync(path.join(out, 'params.json'), 'utf8'));
    for (const s of st.stages) {
      const b = bestOf(s)!;
      const mod = m.modules[s.module]!;
      expect(mod.hash).toBe(b.hash);
      expect(params[s.module]).toEqual(b.knobValues);
      expect(mod.lineage[0].hash).toBe(b.hash);
      expect(mod.lineage.at(-1)!.origin).toBe('baseline');
      for (const f of mod.files) expect(readFileSync(path.join(out, f), 'utf8')).toContain(`${s.module} fixture kernel`);
    }
    expect(readdirSync(path.dirname(out)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('a bundle edited after export fails its content hash', async () => {
    const { dir } = await run();
    const out = path.join(tmp(), 'bundle');
    exportRun(dir, { out });
    writeFileSync(path.join(out, 'params.json'), '{}\n');
    expect(() => readBundle(out)).toThrow(/contentHash does not match/);
  });

  it('refuses a non-empty --out and leaves it untouched', async () => {
    const { dir } = await run();
    const out = tmp();
    writeFileSync(path.join(out, 'keep.txt'), 'x');
    expect(() => exportRun(dir, { out })).toThrow(/exists and is not an empty folder/);
    expect(readdirSync(out)).toEqual(['keep.txt']);
  });

  it('the CLI: crinn export RUN --out DIR --no-describe, and crinn runs list/show', async () => {
    const { dir } = await run();
    const out = path.join(tmp(), 'b');
    const env = { ...process.env, CRINN_STDERR_FILTERED: '1' };
    const node = path.join(ROOT, 'node_modules/.bin/node');
    const r = spawnSync(node, ['src/cli/main.ts', 'export', dir, '--out', out, '--no-describe', '--quiet'], { cwd: ROOT, env, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/bundle: .*\n  reward \d\.\d{3} on fixture/);
    expect(readBundle(out).dataset.fingerprint).toBeNull(); // 'fixture' is no loadable dataset
    const list = spawnSync(node, ['src/cli/main.ts', 'runs', 'list', '--dir', path.dirname(dir)], { cwd: ROOT, env, encoding: 'utf8' });
    expect(list.stdout).toMatch(/run\s+fixture\s+graph,search,refine\s+12\s+\d+\s+\d\.\d{3}\s+done/);
    const show = spawnSync(node, ['src/cli/main.ts', 'runs', 'show', dir], { cwd: ROOT, env, encoding: 'utf8' });
    expect(show.status).toBe(0);
    expect(show.stdout).toMatch(/stage refine/);
    expect(show.stdout).toMatch(/lineage\ngraph: best [0-9a-f]{12}/);
    expect(existsSync(out)).toBe(true);
  });
});
