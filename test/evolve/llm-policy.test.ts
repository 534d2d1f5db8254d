/**
 * The llm policy end to end against a real chat-completions server (node:http, the real `openai`
 * client): one GRPO group per propose(), scripted replies per sample, verdicts supplied as the
 * evaluator would, then the next round settles the group into trajectories.jsonl.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Verdict } from '../../src/evolve/contract.ts';
import { moduleManifestSchema } from '../../src/bundle/module-manifest.ts';
import { loadLlmConfig, type LlmConfigInput } from '../../src/evolve/llm/config.ts';
import { LlmPolicy, LLM_LEDGER, restoredUsage, type PolicyContext } from '../../src/evolve/llm/policy.ts';
import { readTrajectories } from '../../src/evolve/llm/grpo.ts';
import { readJsonl } from '../../src/evolve/llm/jsonl.ts';
import type { VariantView } from '../../src/evolve/llm/prompt.ts';
import { startFakeServer, type FakeServer, type Step } from './llm-fake-server.ts';

let server: FakeServer | undefined;
afterEach(async () => { await server?.close(); server = undefined; });

const manifest = moduleManifestSchema.parse({
  module: 'refine', kind: 'wgsl', contract: 1, files: ['refine.wgsl'],
  knobs: [{ name: 'refineFactor', min: 1, max: 8, default: 2, doc: 'rerank factor' }],
  effort: { name: 'itopk', min: 1, max: 512 }, description: 'Exact reranking.',
});
const SRC = 'override WG: u32 = 64;\nfn main() {\n  let x = 1u;\n}\n';
const hashOf = (files: Record<string, string>, knobs: Record<string, number>) => createHash('sha256').update(JSON.stringify([files, knobs])).digest('hex');
const start: VariantView = { hash: hashOf({ 'refine.wgsl': SRC }, { refineFactor: 2 }), origin: 'baseline', knobValues: { refineFactor: 2 }, files: { 'refine.wgsl': SRC } };

function verdict(hash: string, reward: number | null, stage: Verdict['stage'] = 'reward', reason = ''): Verdict {
  return {
    status: reward === null ? 'failed' : 'ok', stage, reason, module: 'refine', variantHash: hash, dataset: 'd', adapter: 'llvmpipe',
    variantAuc: reward === null ? null : 1000 * reward, baselineAuc: 1000, reward, qpsAt90: null, qpsAt95: reward === null ? null : 900 * reward, qpsAt99: null,
    evaluationsAt95: reward === null ? null : Math.round(500 / reward), variantCurve: [], baselineCurve: [], seconds: 1,
  };
}

const ANALYSIS = '## Analysis\nExemplar 1 reaches recall 0.95 with fewer distance evaluations per query, so it is faster.\n\n## Strategy\nUse a wider workgroup for more parallel slack.\n\n';
const GOOD = `${ANALYSIS}## Changes\n### EDIT refine.wgsl\n<<<<<<< SEARCH\noverride WG: u32 = 64;\n=======\noverride WG: u32 = 128;\n>>>>>>> REPLACE\n`;
const GOOD_FILE = `${ANALYSIS}## Changes\n### FILE refine.wgsl\n\`\`\`wgsl\noverride WG: u32 = 256;\nfn main() {\n  let x = 2u;\n}\n\`\`\`\n`;
const GOOD_KNOBS = `${ANALYSIS}## Knobs\n\`\`\`json\n{"refineFactor": 4}\n\`\`\`\n`;
const PROSE = 'You could try a larger workgroup; that usually helps.';
const MALFORMED = `${ANALYSIS}## Changes\n### EDIT refine.wgsl\n<<<<<<< SEARCH\noverride WG: u32 = 64;\n>>>>>>> REPLACE\n`;
const NOMATCH = `${ANALYSIS}## Changes\n### EDIT refine.wgsl\n<<<<<<< SEARCH\noverride WG: u32 = 32;\n=======\noverride WG: u32 = 128;\n>>>>>>> REPLACE\n`;

function policy(runDir: string, url: string, extra: LlmConfigInput = {}) {
  const cfg = loadLlmConfig({ env: { OPENAI_BASE_URL: url, OPENAI_API_KEY: 'k', CRINN_LLM_MODEL: 'scripted' }, overrides: { samples: 5, backoff: { baseMs: 5, maxMs: 20 }, retries: 1, ...extra }, requireKey: true });
  return new LlmPolicy(runDir, cfg, { hashOf });
}

const ctx = (runDir: string, history: VariantView[], best = start, seed = 7): PolicyContext => ({ runDir, module: 'refine', manifest, best, history, seed, adapter: 'llvmpipe (software)', memoryProfile: 'storage f32: 1.0 Gdims/s' });

describe('llm policy', () => {
  it('one group: good, repaired prose, malformed, non-matching edit, 429; then settles with verdicts into trajectories', async () => {
    const runDir = mkdtempSync(path.join(tmpdir(), 'llm-run-'));
    const sampleOf = (body: any) => body.seed % 1000;
    const seen429 = new Set<number>();
    server = await startFakeServer((body): Step => {
      const s = sampleOf(body);
      const repair = body.messages.length > 2;
      switch (s) {
        case 0: return { reply: GOOD, promptTokens: 1000, completionTokens: 200 };
        case 1: return { reply: repair ? GOOD_FILE : PROSE };
        case 2: return { reply: MALFORMED };
        case 3: return { reply: NOMATCH };
        default:
          if (!seen429.has(s)) { seen429.add(s); return { status: 429, headers: { 'retry-after-ms': '10' } }; }
          return { reply: GOOD_KNOBS };
      }
    });
    const p = policy(runDir, server.url);
    const r1 = await p.propose(ctx(runDir, [{ ...start, verdict: verdict(start.hash, 1) }]));
    expect(r1.stop).toBeUndefined();
    expect(r1.proposals.map((x) => x.sample)).toEqual([0, 1, 4]);
    expect(r1.proposals[0].files['refine.wgsl']).toBe(SRC.replace('64', '128'));
    expect(r1.proposals[1].files['refine.wgsl']).toContain('let x = 2u;');
    expect(r1.proposals[2].knobValues).toEqual({ refineFactor: 4 });
    for (const x of r1.proposals) expect(x.hash).toBe(hashOf(x.files, x.knobValues));
    // The prompt carried the analysis requirement, the best code and the memory profile.
    const first = server.requests[0].body.messages;
    expect(first[0].role).toBe('system');
    expect(first[1].content).toContain('override WG: u32 = 64;');
    expect(first[1].content).toContain('storage f32: 1.0 Gdims/s');
    // Repairs: samples 1-3 asked twice, the repair message quoting the error.
    const repairs = server.requests.filter((q) => q.body.messages.length === 4);
    expect(repairs).toHaveLength(3);
    expect(repairs.map((q) => q.body.messages[3].content).join('\n')).toMatch(/SEARCH text not found/);

    // The evaluator's verdicts: sample 0 better, sample 1 fails to compile, sample 4 slower.
    const [v0, v1, v4] = r1.proposals;
    const history: VariantView[] = [
      { ...start, verdict: verdict(start.hash, 1) },
      { hash: v0.hash, origin: 'llm', files: v0.files, knobValues: v0.knobValues, verdict: verdict(v0.hash, 1.2) },
      { hash: v1.hash, origin: 'llm', files: v1.files, knobValues: v1.knobValues, verdict: verdict(v1.hash, null, 'compile', "error: unresolved identifier 'y'") },
      { hash: v4.hash, origin: 'llm', files: v4.files, knobValues: v4.knobValues, verdict: verdict(v4.hash, 0.9) },
    ];
    // Round 2: the endpoint is down (500 on every attempt): no proposals, a stop reason, and group 0 settled.
    await server.close();
    server = await startFakeServer(() => ({ status: 500, message: 'overloaded' }));
    const p2 = policy(runDir, server.url);
    const r2 = await p2.propose(ctx(runDir, history, history[1]));
    expect(r2.proposals).toEqual([]);
    expect(r2.stop).toMatch(/LLM endpoint failed for every sample: .*HTTP 500.*after 2 attempts/);
    // The second prompt shows the new best, the compile failure and the reply failures.
    const prompt2 = server.requests[0].body.messages[1].content as string;
    expect(prompt2).toContain('override WG: u32 = 128;');
    expect(prompt2).toContain("stage compile: error: unresolved identifier 'y'");
    expect(prompt2).toMatch(/reply \(llm\), stage reply: after one repair: EDIT refine.wgsl block 1: SEARCH text not found/);
    expect(prompt2).toMatch(/Exemplar 1: variant [0-9a-f]{12} \(baseline\)/);

    const rows = readTrajectories(runDir);
    const g0 = rows.filter((r) => r.group_id === 'refine-g0');
    expect(g0.map((r) => [r.sample, r.status, r.stage, r.reward])).toEqual([
      [0, 'ok', 'reward', 1.2], [1, 'failed', 'compile', 0], [2, 'failed', 'reply', 0], [3, 'failed', 'reply', 0], [4, 'ok', 'reward', 0.9],
    ]);
    const mean = (1.2 + 0.9) / 5;
    const std = Math.sqrt([1.2, 0, 0, 0, 0.9].reduce((a, r) => a + (r - mean) ** 2, 0) / 5);
    g0.forEach((r) => expect(r.advantage).toBeCloseTo((r.reward - mean) / std, 12));
    expect(g0[3].reason).toMatch(/SEARCH text not found/);
    expect(g0[2].reason).toMatch(/malformed/);
    expect(g0[1].repaired).toBe(true);
    expect(g0[1].prompt).toHaveLength(4);
    expect(g0[1].completion[0].content).toBe(GOOD_FILE);
    expect(g0[0].prompt).toHaveLength(2);
    expect(g0[0]).toMatchObject({ prompt_tokens: 1000, completion_tokens: 200, module: 'refine', variant_hash: v0.hash, model: 'scripted' });
    // Trajectories agree with the verdicts the evaluator gave.
    for (const r of g0.filter((x) => x.variant_hash)) expect(r.reward).toBe(history.find((h) => h.hash === r.variant_hash)!.verdict!.reward ?? 0);
    // Group 1 (all requests failed) settled too, advantages 0.
    const g1 = rows.filter((r) => r.group_id === 'refine-g1');
    expect(g1.map((r) => [r.stage, r.advantage])).toEqual(Array(5).fill(['request', 0]));

    // Usage survives a restart: ledger sums, retries counted (429 once, 500s).
    const u = restoredUsage(runDir);
    expect(u.requests).toBe(8);
    expect(u.retries).toBe(1 + 5);
    expect(u.failures).toBe(5);
    expect(readJsonl(path.join(runDir, LLM_LEDGER)).filter((x: any) => x.type === 'group-done')).toHaveLength(2);
  });

  it('a reply slower than the timeout fails the sample after retries; the budget stops the next round before sending', async () => {
    const runDir = mkdtempSync(path.join(tmpdir(), 'llm-run-'));
    server = await startFakeServer((body): Step => (body.seed % 1000 === 0 ? { hangMs: 1500 } : { reply: GOOD, promptTokens: 400, completionTokens: 100 }));
    const p = policy(runDir, server.url, { samples: 2, timeoutMs: 150, timeoutRetries: 1, budget: { tokens: 600 } });
    const r = await p.propose(ctx(runDir, []));
    expect(r.proposals.map((x) => x.sample)).toEqual([1]);
    expect(r.stop).toBeUndefined();
    const samples = readJsonl(path.join(runDir, LLM_LEDGER)).filter((x: any) => x.type === 'sample') as any[];
    expect(samples.find((s) => s.sample === 0)).toMatchObject({ stage: 'request', hash: null });
    expect(samples.find((s) => s.sample === 0).reason).toMatch(/timeout.*after 2 attempts/i);
    const before = server.requests.length;
    // 500 tokens spent: the next round sends nothing and says why; a restarted policy agrees.
    const again = policy(runDir, server.url, { samples: 2, budget: { tokens: 500 } });
    const r2 = await again.propose(ctx(runDir, [{ hash: r.proposals[0].hash, origin: 'llm', files: r.proposals[0].files, knobValues: r.proposals[0].knobValues, verdict: verdict(r.proposals[0].hash, 1.1) }]));
    expect(r2).toEqual({ proposals: [], stop: 'token budget reached (500 of 500 tokens)' });
    expect(server.requests.length).toBe(before);
    // The open group was still settled: timeout sample failed, the other rewarded.
    expect(readTrajectories(runDir).map((x) => [x.sample, x.reward, x.stage])).toEqual([[0, 0, 'request'], [1, 1.1, 'reward']]);
  });
});
