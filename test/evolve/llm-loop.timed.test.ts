/**
 * --policy llm through the real loop (journal, store, resume) with the GPU-free fixture evaluator
 * (reward from knob values) and a real local chat-completions server as the model: the variants
 * the model writes are journaled and evaluated, the better one is kept, a failing one is shown to
 * the model in the next prompt, trajectories agree with the journal, and a budget stop resumes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MIXED_AUTOTUNE_BURST, resumeRun, startRun } from '../../src/evolve/loop.ts';
import { gainByOrigin, renderSummary } from '../../src/evolve/runs.ts';
import { readJournal, type RunConfig } from '../../src/evolve/journal.ts';
import { bestOf, foldJournal } from '../../src/evolve/run-state.ts';
import { getVariant } from '../../src/evolve/store.ts';
import { loadLlmConfig } from '../../src/evolve/llm/config.ts';
import { configOfRun, llmProposer, llmSettings } from '../../src/evolve/llm/loop-policy.ts';
import { readTrajectories } from '../../src/evolve/llm/grpo.ts';
import { baseline, evaluate } from './fixtures/loop-evaluator.ts';
import { startFakeServer, type FakeServer, type Step } from './llm-fake-server.ts';

let server: FakeServer | undefined;
afterEach(async () => { await server?.close(); server = undefined; });

const ANALYSIS = '## Analysis\nThe baseline expands one parent per iteration; the fixture rewards a wider search.\n\n## Strategy\nRaise the search width.\n\n';
// Sample 0 moves searchWidth to the fixture's optimum; sample 1 lands in its failing region (correctness).
const script = (body: any): Step => (body.seed % 1000 === 0
  ? { reply: `${ANALYSIS}## Knobs\n\`\`\`json\n{"searchWidth": 4}\n\`\`\`\n`, promptTokens: 100, completionTokens: 50 }
  : { reply: `${ANALYSIS}## Changes\n### EDIT search.wgsl\n<<<<<<< SEARCH\nfn main() {}\n=======\nfn main() { }\n>>>>>>> REPLACE\n\n## Knobs\n\`\`\`json\n{"hashBits": 14}\n\`\`\`\n`, promptTokens: 100, completionTokens: 50 });

const env = (url: string) => ({ OPENAI_BASE_URL: url, OPENAI_API_KEY: 'k', CRINN_LLM_MODEL: 'scripted' });

function config(llm: ReturnType<typeof loadLlmConfig>, evals: number): RunConfig {
  return { dataset: 'fixture', policy: 'llm', llm: llmSettings(llm), stages: ['search'], budget: { evals }, seed: 5, spread: 0, patience: 50, evaluator: {} };
}

describe('--policy llm in the loop', () => {
  it('journals and evaluates the model variants, keeps the better one, and trajectories agree with the journal', async () => {
    server = await startFakeServer(script);
    const run = path.join(mkdtempSync(path.join(tmpdir(), 'llm-loop-')), 'run');
    const llm = loadLlmConfig({ env: env(server.url), overrides: { samples: 2, retries: 0 }, requireKey: true });
    const proposer = llmProposer(run, llm);
    const st = await startRun(run, config(llm, 5), { evaluate, baseline, propose: proposer.propose });
    proposer.finish(st);
    expect(st.ended).toBe('done');
    const stage = st.stages[0];
    expect(stage.proposals.map((p) => p.origin)).toEqual(['baseline', 'llm', 'llm', 'llm', 'llm']);
    const best = bestOf(stage)!;
    expect(best.origin).toBe('llm');
    expect(best.knobValues.searchWidth).toBe(4);
    expect(best.verdict!.reward!).toBeGreaterThan(stage.proposals[0].verdict!.reward! * 1.05);
    expect(getVariant(run, best.hash).variant.parents).toEqual([stage.startHash]);
    const failed = stage.proposals.filter((p) => p.verdict?.status === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((p) => p.verdict!.stage === 'correctness' && p.knobValues.hashBits === 14)).toBe(true);
    // The second prompt showed the first round's results: the failure and the measured exemplars.
    const prompts = server.requests.filter((q) => q.body.messages.length === 2).map((q) => q.body.messages[1].content as string);
    expect(prompts[0]).toContain('(none yet');
    expect(prompts.at(-1)).toMatch(/stage correctness/);
    expect(prompts.at(-1)).toMatch(/Exemplar 1: variant [0-9a-f]{12} \(baseline\)/);
    // Every evaluated llm sample is in trajectories with the journal's reward (failures 0).
    const rows = readTrajectories(run);
    const journal = foldJournal(readJournal(run).records);
    for (const p of journal.stages[0].proposals.filter((x) => x.origin === 'llm')) {
      const row = rows.find((r) => r.variant_hash === p.hash)!;
      expect(row, p.hash).toBeDefined();
      expect(row.reward).toBe(p.verdict!.status === 'ok' ? p.verdict!.reward : 0);
    }
    // Round 2's sample 0 repeats the new best (an unchanged variant is a reply error, repaired, then failed): 3 groups for 4 evaluations.
    expect(new Set(rows.map((r) => r.group_id)).size).toBe(3);
    expect(rows.filter((r) => r.stage === 'reply').every((r) => /identical to the current best/.test(r.reason) && r.reward === 0)).toBe(true);
    expect(rows.filter((r) => r.stage === 'reply').length).toBeGreaterThan(0);
    for (const g of new Set(rows.map((r) => r.group_id))) {
      const adv = rows.filter((r) => r.group_id === g).map((r) => r.advantage);
      expect(adv.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 9);
    }
  }, 60_000);

  it('a token budget stops the session without ending the run; resume with a larger budget finishes it', async () => {
    server = await startFakeServer(script);
    const run = path.join(mkdtempSync(path.join(tmpdir(), 'llm-loop-')), 'run');
    const llm = loadLlmConfig({ env: env(server.url), overrides: { samples: 2, budget: { tokens: 300 } }, requireKey: true });
    const proposer = llmProposer(run, llm);
    const st = await startRun(run, config(llm, 7), { evaluate, baseline, propose: proposer.propose });
    expect(st.ended).toBeUndefined();
    expect(proposer.stopped()).toBe('token budget reached (300 of 300 tokens)');
    expect(st.stages[0].proposals).toHaveLength(3);
    const sent = server.requests.length;
    // Resume: the journaled settings, the environment's key, a file-free override of the budget.
    const resumed = configOfRun(foldJournal(readJournal(run).records), { env: env('http://unused.invalid/v1') });
    expect(resumed.baseURL).toBe(server.url);
    expect(resumed.budget.tokens).toBe(300);
    const bigger = llmProposer(run, { ...resumed, budget: { tokens: 100_000 } });
    const st2 = await resumeRun(run, { evaluate, baseline, propose: bigger.propose });
    bigger.finish(st2);
    expect(st2.ended).toBe('done');
    expect(server.requests.length).toBeGreaterThan(sent);
    expect(st2.stages[0].proposals.filter((p) => p.verdict).length).toBeGreaterThanOrEqual(7);
    // Usage carried over: the ledger counts both sessions.
    expect(bigger.policy.client.usage().promptTokens).toBe(100 * server.requests.length);
  }, 60_000);

  it('--policy mixed alternates LLM groups (code) with autotune bursts (knobs on the best code) and credits each gain to its policy', async () => {
    // Each reply edits the code (a new comment line, so it always differs from the best) and sets searchWidth.
    let n = 0;
    server = await startFakeServer(() => ({ reply: `${ANALYSIS}## Changes\n### EDIT search.wgsl\n<<<<<<< SEARCH\n@compute\n=======\n// pass ${n++}\n@compute\n>>>>>>> REPLACE\n\n## Knobs\n\`\`\`json\n{"searchWidth": 4}\n\`\`\`\n` }));
    const run = path.join(mkdtempSync(path.join(tmpdir(), 'llm-loop-')), 'run');
    const llm = loadLlmConfig({ env: env(server.url), overrides: { samples: 1, retries: 0 }, requireKey: true });
    const proposer = llmProposer(run, llm);
    const st = await startRun(run, { ...config(llm, 8), policy: 'mixed' }, { evaluate, baseline, propose: proposer.propose });
    proposer.finish(st);
    expect(st.ended).toBe('done');
    const stage = st.stages[0];
    expect(MIXED_AUTOTUNE_BURST).toBe(4);
    expect(stage.proposals.map((p) => p.origin)).toEqual(['baseline', 'llm', 'autotune', 'autotune', 'autotune', 'autotune', 'llm', 'autotune']);
    // The LLM's code is the best after its group; autotune then tunes knobs on that code, not the baseline's.
    const llm1 = stage.proposals[1];
    expect(llm1.verdict!.reward!).toBeGreaterThan(stage.proposals[0].verdict!.reward! * 1.05);
    for (const p of stage.proposals.slice(2, 6)) {
      expect(p.parents[0]).not.toBe(stage.startHash);
      const code = getVariant(run, p.hash).files.find((f) => f.path === 'search.wgsl')!.content.toString();
      expect(code).toContain('// pass 0');
    }
    // Credit: the per-policy gains multiply to the stage's best over its start; the summary names them.
    const g = gainByOrigin(st, 'search');
    expect(g.map((x) => x.origin)).toContain('llm');
    const product = g.reduce((a, x) => a * x.gain, 1);
    expect(product).toBeCloseTo(bestOf(stage)!.verdict!.reward! / stage.proposals[0].verdict!.reward!, 9);
    expect(renderSummary(st)).toMatch(/search: gain by policy .*llm \d\.\d{3}x/);
  }, 60_000);
});
