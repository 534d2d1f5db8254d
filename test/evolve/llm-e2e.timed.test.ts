/**
 * The llm policy end to end on the real evaluator and GPU: a scripted chat-completions endpoint
 * (the "LLM") answers with a genuinely better search shader, written here by hand as
 * SEARCH/REPLACE edits (fixtures/llm/better-search-reply.md: early-abandoned l2 distances, bounded
 * by the worst entry of the team's top list). The loop must measure it better than its start,
 * keep it as the stage's best, `crinn export` must bundle it, and `crinn bench --kernel` in new
 * processes must reproduce the gain against the baseline crinn in the same run.
 *
 * The data is PCA-ordered (variance decaying along the dimensions, as after a PCA transform),
 * where the shader's bound cuts most rejected rows after their first 32 dimensions. Measured on
 * lavapipe under load (1024-d, `crinn evaluate`): reward 1.70 (siftsmall-5k: 1.18).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { mainTs, nodeBin } from '../cli/helpers.ts';
import { generateSynthetic } from '../../src/data/synthetic.ts';
import { writeFvecs } from '../../src/data/vecs.ts';
import { shippedBaseline, startRun } from '../../src/evolve/loop.ts';
import { realEvaluator } from '../../src/evolve/evaluator-adapter.ts';
import { loadLlmConfig } from '../../src/evolve/llm/config.ts';
import { llmProposer, llmSettings } from '../../src/evolve/llm/loop-policy.ts';
import { bestOf } from '../../src/evolve/run-state.ts';
import { startFakeServer } from './llm-fake-server.ts';

const REPLY = readFileSync(path.resolve(import.meta.dirname, 'fixtures/llm/better-search-reply.md'), 'utf8');
// Gains below this are the evaluator's noise on a loaded 2-core lavapipe machine.
const SPREAD = 0.15;

const tmp = mkdtempSync(path.join(tmpdir(), 'llm-e2e-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const { OPENAI_API_KEY: _k, OPENAI_BASE_URL: _u, CRINN_LLM_MODEL: _m, ...rest } = process.env;
    const child = spawn(nodeBin, [mainTs, ...args], { env: { ...rest, CRINN_STDERR_FILTERED: '1', CRINN_CACHE_DIR: path.join(tmp, 'cache'), ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A Gaussian mixture whose dimension i is scaled by exp(-i / 32): PCA-ordered 1024-d vectors. */
async function pcaOrdered(file: string): Promise<void> {
  const dim = 1024;
  const d = generateSynthetic({ n: 2000, nq: 100, dim, clusters: 24, seed: 7, metric: 'l2' });
  const all = new Float32Array((d.base.n + d.queries.n) * dim);
  all.set(d.base.data);
  all.set(d.queries.data, d.base.data.length);
  for (let i = 0; i < all.length; i++) all[i] *= Math.exp(-(i % dim) / 32);
  await writeFvecs(file, { data: all, n: d.base.n + d.queries.n, dim });
}

describe('llm policy end to end (real evaluator, scripted model)', () => {
  it('a better search shader from the model is measured better, kept, exported, and its gain reproduced by crinn bench --kernel', async () => {
    const data = path.join(tmp, 'pca256.fvecs');
    await pcaOrdered(data);
    const server = await startFakeServer(() => ({ reply: REPLY }));
    const runDir = path.join(tmp, 'run');
    let st;
    try {
      const llm = loadLlmConfig({ env: { OPENAI_BASE_URL: server.url, OPENAI_API_KEY: 'k', CRINN_LLM_MODEL: 'scripted' }, overrides: { samples: 1 }, requireKey: true });
      const proposer = llmProposer(runDir, llm);
      // Budget 2: the stage's start (the baseline against itself), then the model's one sample. The
      // evaluator sweeps only the efforts around the recall window of this data (recall 0.85 at 6,
      // 0.97 at 10), so the AUC rests on several points and the test stays near two minutes.
      st = await startRun(runDir, {
        // No --spread: the model's variant is kept only if its reward's interval lies above the start's reward.
        dataset: data, policy: 'llm', llm: llmSettings(llm), stages: ['search'], budget: { evals: 2 }, seed: 11, patience: 8,
        evaluator: { queriesPerCall: 32, efforts: [6, 10], maxPoints: 3, maxRounds: 16, probeEffort: 10 },
      }, { evaluate: realEvaluator({}), baseline: shippedBaseline, propose: proposer.propose });
      proposer.finish(st);
      expect(server.requests.length).toBe(1);
    } finally {
      await server.close();
    }
    const stage = st.stages[0];
    expect(stage.proposals.map((p) => [p.origin, p.verdict?.status]), stage.proposals.map((p) => p.verdict?.reason).join('\n')).toEqual([['baseline', 'ok'], ['llm', 'ok']]);
    const [start, model] = stage.proposals;
    // The model's reward (its AUC over the baseline's, interleaved in one evaluation) is above 1 and
    // the loop keeps it: its interval lies above the stage's start (the baseline measured against
    // itself). Measured 1.26-1.70 across runs on a loaded lavapipe (paired rounds: 1.299, start 0.963),
    // so the floor sits below that range; the bench below, with more points per curve, carries the spread check.
    const gain = model.verdict!.reward!;
    expect(gain, model.verdict!.reason).toBeGreaterThan(1.05);
    expect(bestOf(stage)!.hash, `start: ${start.verdict!.reason}\nmodel: ${model.verdict!.reason}`).toBe(model.hash);
    // Same ids at every effort: the bound only cuts work on rows the merge rejects anyway.
    const recalls = (c: { effort: number; recall: number }[]) => new Map(c.map((p) => [p.effort, p.recall]));
    const vr = recalls(model.verdict!.variantCurve);
    for (const [e, r] of recalls(model.verdict!.baselineCurve)) if (vr.has(e)) expect(vr.get(e)!, `effort ${e}`).toBeCloseTo(r, 2);

    const bundle = path.join(tmp, 'bundle');
    const ex = await run(['export', runDir, '--out', bundle]);
    expect(ex.status, ex.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
    expect(manifest.modules.search.hash).toBe(model.hash);
    expect(readFileSync(path.join(bundle, 'search', 'beam_search.wgsl'), 'utf8')).toContain('team_worst');
    // Only the files the model edited travel (fixtures/llm/better-search-reply.md edits three):
    // the module's others (int8, binary loaders, filter) equal the shipped baseline's.
    expect(manifest.modules.search.files).toEqual(['search/beam_search.wgsl', 'search/base_f32.wgsl', 'search/base_f16.wgsl']);

    // A new process, the bundle beside the baseline crinn, interleaved in one run.
    const out = path.join(tmp, 'bench.json');
    const b = await run(['bench', '--dataset', data, '--peers', 'bruteforce', '--systems', 'crinn,crinn-kernel', '--storage', 'f32', '--kernel', bundle, '--reps', '3', '--json', out, '--quiet']);
    expect(b.status, b.stderr).toBe(0);
    const res = JSON.parse(readFileSync(out, 'utf8'));
    const auc = (name: string) => res.systems.find((s: { name: string }) => s.name === name)!.summary.auc as number;
    const ratio = auc('crinn-kernel') / auc('crinn');
    expect(ratio, `bench crinn-kernel / crinn AUC`).toBeGreaterThan(1 + SPREAD);
    console.log(`e2e: model reward ${gain.toFixed(3)} (start, self-vs-self ${start.verdict!.reward!.toFixed(3)}); bench crinn-kernel / crinn AUC ${ratio.toFixed(3)}`);
  }, 900_000);
});
