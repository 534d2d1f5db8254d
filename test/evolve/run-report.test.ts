import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRun, type Evaluator } from '../../src/evolve/loop.ts';
import { renderRunReport, writeRunReport } from '../../src/evolve/run-report.ts';
import { bestOf, ok } from '../../src/evolve/run-state.ts';
import { lineage } from '../../src/evolve/runs.ts';
import { UserError } from '../../src/errors.ts';
import { baseline, evaluate } from './fixtures/loop-evaluator.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The fixture evaluator, with every 5th evaluation failing its correctness stage (so the report has failures to mark). */
const evaluateWithFailures: Evaluator = async (variantDir, o) => {
  const v = await evaluate(variantDir, o);
  return ++calls % 5 === 3 ? { ...v, status: 'failed', stage: 'correctness', reason: 'duplicate ids', reward: null, variantAuc: null, qpsAt90: null, qpsAt95: null, evaluationsAt95: null, variantCurve: [] } : v;
};
let calls = 0;

async function run() {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'crinn-report-')), 'run');
  const st = await startRun(dir, { dataset: 'fixture', policy: 'autotune', stages: ['graph', 'search', 'refine'], budget: { evals: 24 }, seed: 3, spread: 0.01, patience: 100, evaluator: {} }, { evaluate: evaluateWithFailures, baseline });
  return { dir, st };
}

describe('run report (HTML)', () => {
  it("shows every evaluation, each stage's best reward and gain, failures marked, lineage, best vs baseline curves", async () => {
    const { dir, st } = await run();
    const html = renderRunReport(dir);
    const all = st.stages.flatMap((s) => s.proposals.filter((p) => p.verdict));
    const failed = all.filter((p) => !ok(p));
    expect(failed.length).toBeGreaterThan(0);
    // One dot per successful evaluation, one cross per failure.
    expect(html.match(/<circle class="ok"/g)?.length).toBe(all.length - failed.length);
    expect(html.match(/<path class="fail"/g)?.length).toBe(failed.length);
    let overall = 1;
    for (const s of st.stages) {
      const b = bestOf(s)!;
      const r = b.verdict!.reward!;
      overall *= r;
      expect(html).toContain(`<h4>${s.module}: best <code>${b.hash.slice(0, 12)}</code>, reward ${r.toFixed(3)}`);
      // The summary row: stage, evaluations, failures, start reward, best reward.
      const n = s.proposals.filter((p) => p.verdict).length;
      const f = s.proposals.filter((p) => p.verdict && !ok(p)).length;
      const start = s.proposals[0].verdict!.reward!;
      expect(html).toMatch(new RegExp(`${s.module}</span></td><td class="num">${n}</td><td class="num">${f}</td><td class="num">${start.toFixed(3)}</td><td class="num">${r.toFixed(3)}</td><td class="num">${(r / start).toFixed(3)}x</td>`));
      for (const p of lineage(st, b.hash)) expect(html).toContain(`<code>${p.hash.slice(0, 12)}</code></td><td>${p.origin}</td>`);
      expect(html).toContain(`<h4>${s.module}: AUC`);
    }
    expect(html).toContain(`Overall: ${overall.toFixed(3)}x the baseline`);
    expect(html).toContain(`${all.length} evaluations (${failed.length} failed)`);
    expect(html).toContain('failed at correctness: duplicate ids');
    // Self-contained: no scripts, no external resources.
    expect(html).not.toMatch(/<script|https?:\/\/|<link /);
  });

  it('writes RUN/report.html by default and refuses to overwrite a file of the run (also through a link)', async () => {
    const { dir } = await run();
    expect(await writeRunReport(dir)).toBe(path.join(dir, 'report.html'));
    expect(readFileSync(path.join(dir, 'report.html'), 'utf8')).toContain('<h3>Reward over the run</h3>');
    const journal = readFileSync(path.join(dir, 'journal.jsonl'), 'utf8');
    await expect(writeRunReport(dir, path.join(dir, 'journal.jsonl'))).rejects.toThrow(UserError);
    await expect(writeRunReport(dir, path.join(dir, 'journal.jsonl'))).rejects.toThrow(/is the same file as the input run file .*journal\.jsonl; refusing to overwrite an input/);
    const link = path.join(mkdtempSync(path.join(tmpdir(), 'crinn-report-link-')), 'r.html');
    symlinkSync(path.join(dir, 'journal.jsonl'), link);
    await expect(writeRunReport(dir, link)).rejects.toThrow(/refusing to overwrite an input/);
    expect(readFileSync(path.join(dir, 'journal.jsonl'), 'utf8')).toBe(journal);
    expect(readdirSync(dir).filter((f) => f.includes('tmp'))).toEqual([]);
  });

  it('the CLI: crinn runs report RUN --out FILE; an input as --out is exit 1 with one line', async () => {
    const { dir } = await run();
    const node = path.join(ROOT, 'node_modules/.bin/node');
    const env = { ...process.env, CRINN_STDERR_FILTERED: '1' };
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'crinn-report-out-')), 'r.html');
    const r = spawnSync(node, ['src/cli/main.ts', 'runs', 'report', dir, '--out', out], { cwd: ROOT, env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`report: ${out}\n`);
    expect(readFileSync(out, 'utf8')).toBe(renderRunReport(dir));
    const bad = spawnSync(node, ['src/cli/main.ts', 'runs', 'report', dir, '--out', path.join(dir, 'journal.jsonl')], { cwd: ROOT, env, encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/--out: .*journal\.jsonl is the same file as the input run file .*journal\.jsonl/);
    expect(existsSync(path.join(dir, 'report.html'))).toBe(false);
  });
});
