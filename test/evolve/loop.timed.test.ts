/**
 * The loop end to end with the GPU-free evaluator fixture (test/evolve/fixtures/loop-evaluator.ts):
 * budget, stages on top of each other, store/journal agreement, early stop, evaluator errors, and
 * a real `kill -9` of a `crinn optimize` child followed by `crinn resume`.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readJournal, type JournalRecord, type RunConfig } from '../../src/evolve/journal.ts';
import { foldJournal, bestOf, totals, type RunState } from '../../src/evolve/run-state.ts';
import { getVariant, STORE_DIR } from '../../src/evolve/store.ts';
import { DEADLINE_MARGIN_S, resumeRun, startRun, type Evaluator } from '../../src/evolve/loop.ts';
import { baseline, evaluate } from './fixtures/loop-evaluator.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const FIXTURE = path.join(ROOT, 'test/evolve/fixtures/loop-evaluator.ts');
const tmp = () => mkdtempSync(path.join(tmpdir(), 'crinn-loop-'));
const cfg = (over: Partial<RunConfig> = {}): RunConfig => ({
  dataset: 'fixture', policy: 'autotune', stages: ['graph', 'search', 'refine'], budget: { evals: 15 }, seed: 7, spread: 0.05, patience: 100, evaluator: {}, ...over,
});

/** Every hash the journal names is a stored, intact variant, and the store holds nothing else. */
function expectStoreAgrees(runDir: string): JournalRecord[] {
  const { records, torn } = readJournal(runDir);
  expect(torn).toBeUndefined();
  const named = new Set<string>();
  for (const r of records) {
    if (r.type === 'variant-proposed') {
      named.add(r.hash);
      r.parents.forEach((p) => named.add(p));
      Object.values(r.context).forEach((h) => named.add(h));
    }
    if (r.type === 'stage-start') named.add(r.startHash);
  }
  for (const h of named) expect(getVariant(runDir, h).hash).toBe(h);
  expect(readdirSync(path.join(runDir, STORE_DIR)).sort()).toEqual([...named].sort());
  // Each verdict answers the proposal before it, and its evaluator saw that very variant.
  for (const r of records) if (r.type === 'verdict') expect(r.verdict.variantHash).toBe(r.hash);
  return records;
}

const verdicts = (rs: JournalRecord[]) => rs.filter((r): r is Extract<JournalRecord, { type: 'verdict' }> => r.type === 'verdict');

describe('optimisation loop (fixture evaluator)', () => {
  it('spends the evaluation budget over the stages, each on top of the previous best, and improves', async () => {
    const dir = tmp();
    const st = await startRun(dir, cfg(), { evaluate, baseline });
    const records = expectStoreAgrees(dir);
    expect(verdicts(records)).toHaveLength(15);
    expect(st.ended).toBe('done');
    expect(st.stages.map((s) => s.proposals.length)).toEqual([5, 5, 5]);
    const [graph, search, refine] = st.stages;
    // The stage starts from its module's baseline on the earlier stages' best (on both sides): reward 1.
    expect(search.proposals[0].origin).toBe('baseline');
    expect(search.proposals[0].context).toEqual({ graph: bestOf(graph)!.hash });
    expect(refine.proposals[0].context).toEqual({ graph: bestOf(graph)!.hash, search: bestOf(search)!.hash });
    expect(search.proposals[0].verdict!.reward).toBeCloseTo(1, 9);
    // Best-so-far is the maximum reward of the stage; the fixture's optimum is above every baseline.
    for (const s of st.stages) {
      const rewards = s.proposals.map((p) => p.verdict!.reward ?? -1);
      expect(bestOf(s)!.verdict!.reward).toBe(Math.max(...rewards));
      expect(s.ended!.bestReward).toBe(Math.max(...rewards));
      for (const p of s.proposals.slice(1)) expect(p.parents).toHaveLength(1);
    }
    for (const s of st.stages) expect(bestOf(s)!.verdict!.reward!).toBeGreaterThan(1.05);
  });

  it('stops a stage early once gains stay below the spread', async () => {
    const flat: Evaluator = async (d, o) => ({ ...(await evaluate(d, o)), reward: 1, variantAuc: 1000 });
    const st = await startRun(tmp(), cfg({ stages: ['search'], budget: { evals: 40 }, patience: 4 }), { evaluate: flat, baseline });
    expect(st.stages[0].ended!.reason).toBe('converged');
    expect(st.stages[0].proposals.length).toBe(5);
  });

  it('an evaluator that keeps throwing stops the run, resumably; resume finishes it', async () => {
    const dir = tmp();
    let calls = 0;
    const flaky: Evaluator = async (d, o) => {
      if (++calls >= 3 && calls <= 5) throw new Error('device lost');
      return evaluate(d, o);
    };
    await expect(startRun(dir, cfg({ stages: ['search'], budget: { evals: 6 } }), { evaluate: flaky, baseline })).rejects.toThrow(/3 times in a row.*crinn resume/);
    const mid = foldJournal(readJournal(dir).records);
    // Two thrown evaluations are journaled as void 'evaluator error' verdicts (never the variant's failure); the third stays pending.
    const thrown = mid.stages[0].proposals.filter((p) => p.verdict?.reason.startsWith('evaluator error'));
    expect(thrown.map((p) => [p.verdict!.status, p.verdict!.fault])).toEqual([['void', 'internal'], ['void', 'internal']]);
    expect(totals(mid).failures).toBe(0);
    const st = await resumeRun(dir, { evaluate: flaky, baseline });
    expect(st.ended).toBe('done');
    expect(verdicts(expectStoreAgrees(dir))).toHaveLength(6);
  });

  it('a gain counts only when its interval lies above the best so far; void verdicts are no failures and no best', async () => {
    const dir = tmp();
    // Per evaluation: [reward, lo, hi] or 'void'; the start (baseline vs itself) first.
    const plan: ([number, number, number] | 'void')[] = [[1, 0.95, 1.05], [1.3, 0.9, 1.8], 'void', [1.12, 1.06, 1.18], [1.5, 1.1, 2.0], [1.2, 1.15, 1.25]];
    let i = 0;
    const scripted: Evaluator = async (d, o) => {
      const v = await evaluate(d, o);
      const x = plan[i++];
      if (x === 'void') return { ...v, status: 'void', fault: 'baseline', stage: 'timing', reward: null, interval: null, reason: 'evaluator fault: baseline search (timing): timeout' };
      return { ...v, status: 'ok', stage: 'reward', reward: x[0], interval: { lo: x[1], hi: x[2], level: 0.95, rounds: 5 }, conclusive: true };
    };
    const st = await startRun(dir, cfg({ stages: ['search'], budget: { evals: 6 }, spread: undefined }), { evaluate: scripted, baseline });
    const ps = st.stages[0].proposals;
    // 1.3 [0.9, 1.8] is noise; 1.12 [1.06, 1.18] beats 1.0; 1.5 [1.1, 2.0] does not beat 1.12; 1.2 [1.15, 1.25] does.
    expect(bestOf(st.stages[0])!.hash).toBe(ps[5].hash);
    expect(totals(st).failures).toBe(0);
    expect(ps[2].verdict!.status).toBe('void');
    // With --spread (the override) the reward alone decides: 1.5 is the best.
    const dir2 = tmp();
    i = 0;
    const st2 = await startRun(dir2, cfg({ stages: ['search'], budget: { evals: 6 }, spread: 0.05 }), { evaluate: scripted, baseline });
    expect(bestOf(st2.stages[0])!.verdict!.reward).toBe(1.5);
  });

  it('the time budget is a deadline handed to the evaluator: the budget plus its margin', async () => {
    const dir = tmp();
    const seen: (number | undefined)[] = [];
    const t0 = Date.now();
    const watch: Evaluator = async (d, o) => {
      seen.push(o.deadline);
      return evaluate(d, o);
    };
    await startRun(dir, cfg({ stages: ['search'], budget: { evals: 2, seconds: 600 } }), { evaluate: watch, baseline });
    expect(seen).toHaveLength(2);
    for (const d of seen) {
      expect(d! - t0).toBeGreaterThan((600 + DEADLINE_MARGIN_S - 5) * 1000);
      expect(d! - Date.now()).toBeLessThanOrEqual((600 + DEADLINE_MARGIN_S) * 1000);
    }
    const dir2 = tmp();
    seen.length = 0;
    await startRun(dir2, cfg({ stages: ['search'], budget: { evals: 1 } }), { evaluate: watch, baseline });
    expect(seen).toEqual([undefined]);
  });

  it('kill -9 of a running `crinn optimize`, then `crinn resume`: no completed evaluation lost, same run as uninterrupted', async () => {
    const dir = path.join(tmp(), 'run');
    const log = path.join(path.dirname(dir), 'evaluated.log');
    // One process (no stderr-filter relaunch), so the pid we kill is the one driving the run.
    const env = { ...process.env, CRINN_STDERR_FILTERED: '1', LOOP_FIXTURE_DELAY_MS: '250', LOOP_FIXTURE_LOG: log };
    const args = ['src/cli/main.ts', 'optimize', '--evaluator', FIXTURE, '--dataset', 'fixture', '--stages', 'search,refine', '--budget', '12', '--seed', '7', '--patience', '100', '--run-dir', dir, '--quiet'];
    const child = spawn(NODE, args, { cwd: ROOT, env, stdio: 'ignore' });
    const countVerdicts = () => (existsSync(path.join(dir, 'journal.jsonl')) ? verdicts(readJournal(dir).records).length : 0);
    const t0 = Date.now();
    while (countVerdicts() < 7 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));
    const exited = new Promise((r) => child.once('exit', (_code, sig) => r(sig)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const before = verdicts(readJournal(dir).records);
    expect(before.length).toBeGreaterThanOrEqual(7);
    expect(before.length).toBeLessThan(12);
    expect(readFileSync(path.join(dir, 'lock'), 'utf8').trim()).toBe(String(child.pid)); // left behind by kill -9
    // A crash mid-write: a torn last line must be dropped, not refused.
    appendFileSync(path.join(dir, 'journal.jsonl'), '{"type":"verdict","time":"20');

    const res = spawnSync(NODE, ['src/cli/main.ts', 'resume', dir, '--evaluator', FIXTURE], { cwd: ROOT, env: { ...env, LOOP_FIXTURE_DELAY_MS: '0' }, encoding: 'utf8', timeout: 60_000 });
    expect(res.stderr).toMatch(/resume: \d+ evaluations kept, [01] in flight to redo, torn last journal line dropped/);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/refine .* budget/);
    const after = expectStoreAgrees(dir);
    const afterVerdicts = verdicts(after);
    // Nothing completed before the kill is lost or changed, and the budget is spent exactly.
    expect(afterVerdicts.slice(0, before.length)).toEqual(before);
    expect(afterVerdicts).toHaveLength(12);
    expect(after.some((r) => r.type === 'resume')).toBe(true);
    expect(after.at(-1)!.type).toBe('run-end');
    expect(existsSync(path.join(dir, 'lock'))).toBe(false);
    // At most the one evaluation in flight at the kill was run twice.
    const evaluatedLines = readFileSync(log, 'utf8').trim().split('\n');
    expect(evaluatedLines.length - afterVerdicts.length).toBeLessThanOrEqual(1);

    // The resumed run is the run an uninterrupted process makes with the same seed.
    const straight = await startRun(path.join(tmp(), 'run'), cfg({ stages: ['search', 'refine'], budget: { evals: 12 }, seed: 7, dataset: 'fixture' }), { evaluate, baseline });
    const hashes = (st: RunState) => st.stages.flatMap((s) => s.proposals.map((p) => p.hash));
    expect(hashes(foldJournal(after))).toEqual(hashes(straight));
  }, 120_000);

  it('refuses to resume a run another live process is driving', async () => {
    const dir = tmp();
    await startRun(dir, cfg({ stages: ['refine'], budget: { evals: 2 } }), { evaluate, baseline });
    const sleeper = spawn('sleep', ['30']);
    try {
      appendFileSync(path.join(dir, 'lock'), `${sleeper.pid}\n`);
      await expect(resumeRun(dir, { evaluate, baseline })).rejects.toThrow(new RegExp(`driven by process ${sleeper.pid}`));
    } finally {
      sleeper.kill('SIGKILL');
    }
  });
});

describe('optimisation loop: time budget', () => {
  it('a spent time budget starts no further stage; the summary says so', async () => {
    const slow: Evaluator = async (d, o) => {
      await new Promise((r) => setTimeout(r, 700));
      return evaluate(d, o);
    };
    const st = await startRun(tmp(), cfg({ budget: { seconds: 1 } }), { evaluate: slow, baseline });
    expect(st.ended).toMatch(/^time budget spent before stage (search|refine)$/);
    expect(st.stages[0].ended!.reason).toBe('time');
    expect(st.stages[2].startHash).toBeUndefined();
  });
});

describe('optimisation loop: small knob tables', () => {
  it('a stage whose integer knob table is fully evaluated stops as exhausted, not by re-measuring', async () => {
    // The refine fixture has one knob, rerank 0..64: with a 9-value table it is exhausted after 9.
    const small = async (m: Parameters<typeof baseline>[0]) => {
      const b = await baseline(m);
      b.variant.manifest.knobs = [{ name: 'rerank', min: 0, max: 8, default: 0, scale: 'linear', integer: true, doc: '' }];
      return b;
    };
    const st = await startRun(tmp(), cfg({ stages: ['refine'], budget: { evals: 30 } }), { evaluate, baseline: small });
    expect(st.stages[0].ended!.reason).toBe('exhausted');
    const values = st.stages[0].proposals.map((p) => p.knobValues.rerank);
    expect(values).toHaveLength(9);
    expect(new Set(values).size).toBe(9);
  });
});
