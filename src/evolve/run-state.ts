/**
 * The state of a run, folded from its journal records (journal.ts) and nothing else, so a
 * resumed run and an uninterrupted one see the same variants, verdicts, best-so-far and budget.
 */
import type { Verdict } from './contract.ts';
import type { ModuleName } from '../bundle/module-manifest.ts';
import type { JournalRecord, RunConfig } from './journal.ts';
import { UserError } from '../errors.ts';

export interface Proposal {
  hash: string;
  stage: ModuleName;
  parents: string[];
  origin: string;
  knobValues: Record<string, number>;
  context: Record<string, string>;
  /** Position in the stage's proposal order (0 = the stage's starting point). */
  index: number;
  verdict?: Verdict;
  /** Farm runs: the job id and the worker that answered it. */
  job?: string;
  worker?: string;
  /** When the verdict was journaled (epoch ms). */
  answeredAt?: number;
}

export interface StageState {
  module: ModuleName;
  startHash?: string;
  /** RunState.activeSeconds when the stage started (its share of a time budget counts from here). */
  activeAtStart?: number;
  proposals: Proposal[];
  ended?: { reason: string; bestHash: string; startReward: number | null; bestReward: number | null };
  /** RunConfig.spread: when set, it (not the verdicts' intervals) decides what counts as a gain. */
  spread?: number;
}

export interface RunState {
  runId: string;
  config: RunConfig;
  stages: StageState[];
  /** Every stored variant the journal names, by hash (first proposal wins). */
  variants: Map<string, Proposal>;
  ended?: string;
  /** Seconds the run has been active, summed over its sessions (start and each resume). */
  activeSeconds: number;
  sessions: number;
  /** The farm lane (adapter name) this state was folded for; undefined for a run without lanes. */
  lane?: string;
}

/** A run's lanes: its farm adapters, or the one unnamed lane of a run on this machine. */
export function laneNames(config: RunConfig): (string | undefined)[] {
  return config.farm?.adapters ?? [undefined];
}

export function ok(p: Proposal): p is Proposal & { verdict: Verdict & { reward: number } } {
  return p.verdict?.status === 'ok' && typeof p.verdict.reward === 'number' && Number.isFinite(p.verdict.reward);
}

export function evaluated(s: StageState): Proposal[] {
  return s.proposals.filter((p) => p.verdict !== undefined);
}

/** Proposals journaled but never answered: the evaluations that were in flight at a crash. */
export function pending(s: StageState): Proposal[] {
  return s.proposals.filter((p) => p.verdict === undefined);
}

/**
 * Whether a verdict is a gain over the best reward so far. By its interval: the 95% interval's low
 * end above that reward (a gain the evaluator can tell from noise, however wide the interval). A verdict with
 * no interval (a journal from before intervals, a fixture evaluator), or a run with --spread set,
 * compares the reward itself.
 */
export function isGain(v: Verdict, over: number, spread?: number): boolean {
  if (v.status !== 'ok' || typeof v.reward !== 'number' || !Number.isFinite(v.reward)) return false;
  if (spread !== undefined) return v.reward > over;
  if (v.interval) return v.interval.lo > over;
  // No interval: too few rounds to support one (conclusive false), or a verdict from before intervals.
  return v.conclusive !== false && v.reward > over;
}

/**
 * The best evaluated proposal of a stage: the first success, replaced by each later one that is a
 * gain over it (isGain; ties and gains within the noise keep the earlier one).
 */
export function bestOf(s: StageState): Proposal | undefined {
  let best: Proposal | undefined;
  for (const p of s.proposals) if (ok(p) && (!best || isGain(p.verdict, best.verdict!.reward!, s.spread))) best = p;
  return best;
}

/**
 * Early stop: no gain in the last `patience` evaluations. With a spread (--spread, the override),
 * the best reward rose by less than it over those evaluations; else no verdict there was a gain
 * by its interval over the best before it (bestOf).
 */
export function stageConverged(s: StageState, patience: number): boolean {
  const done = evaluated(s);
  if (done.length <= patience) return false;
  if (s.spread !== undefined) {
    const best = (ps: readonly Proposal[]) => ps.reduce<number>((m, p) => (ok(p) && p.verdict.reward > m ? p.verdict.reward : m), -Infinity);
    const before = best(done.slice(0, done.length - patience));
    const after = best(done);
    if (before === -Infinity) return after === -Infinity && done.length > 2 * patience;
    return after - before < s.spread;
  }
  const b = bestOf(s);
  if (!b) return done.length > 2 * patience;
  return done.length - 1 - done.indexOf(b) >= patience;
}

export function startOf(s: StageState): Proposal | undefined {
  return s.proposals.find((p) => p.hash === s.startHash && p.index === 0);
}

export function stageOf(state: RunState, module: ModuleName): StageState {
  const s = state.stages.find((x) => x.module === module);
  if (!s) throw new Error(`run ${state.runId}: no stage ${module}`);
  return s;
}

/** Best variant per module so far (the stage's best, else its start). */
export function bestPerModule(state: RunState): Partial<Record<ModuleName, { hash: string; reward: number | null }>> {
  const out: Partial<Record<ModuleName, { hash: string; reward: number | null }>> = {};
  for (const s of state.stages) {
    const b = bestOf(s);
    if (b) out[s.module] = { hash: b.hash, reward: b.verdict!.reward };
    else if (s.startHash) out[s.module] = { hash: s.startHash, reward: null };
  }
  return out;
}

export function totals(state: RunState): { evaluations: number; failures: number; pending: number } {
  let evaluations = 0;
  let failures = 0;
  let pend = 0;
  for (const s of state.stages) {
    for (const p of s.proposals) {
      if (!p.verdict) pend++;
      else {
        evaluations++;
        if (p.verdict.status === 'failed') failures++;
      }
    }
  }
  return { evaluations, failures, pending: pend };
}

/**
 * The run's state for one lane (a farm run's adapter; undefined for a run without lanes): records
 * of other lanes are skipped, run-start, resume and run-end are shared.
 */
export function foldJournal(records: readonly JournalRecord[], file = 'journal', lane?: string): RunState {
  const first = records[0];
  if (!first || first.type !== 'run-start') throw new UserError(`${file}: the first record must be run-start`);
  const state: RunState = {
    runId: first.runId,
    config: first.config,
    stages: first.config.stages.map((module) => ({ module, proposals: [], ...(first.config.spread !== undefined ? { spread: first.config.spread } : {}) })),
    variants: new Map(),
    activeSeconds: 0,
    sessions: 0,
    ...(lane !== undefined ? { lane } : {}),
  };
  if (lane !== undefined && !laneNames(first.config).includes(lane)) throw new UserError(`${file}: the run has no lane '${lane}' (lanes: ${laneNames(first.config).join(', ') || 'none'})`);
  let sessionStart = Date.parse(first.time);
  let lastTime = sessionStart;
  const bad = (i: number, why: string): never => {
    throw new UserError(`${file}: record ${i + 1} (${records[i].type}): ${why}`);
  };
  records.forEach((r, i) => {
    if ('lane' in r ? r.lane !== lane : false) return;
    const t = Date.parse(r.time);
    const activeNow = state.activeSeconds + Math.max(0, t - sessionStart) / 1000;
    if (r.type === 'run-start') {
      if (i !== 0) bad(i, 'a second run-start');
      state.sessions = 1;
    } else if (r.type === 'resume') {
      state.activeSeconds += Math.max(0, lastTime - sessionStart) / 1000;
      sessionStart = t;
      state.sessions++;
    } else if (r.type === 'run-end') {
      state.ended = r.reason;
    } else {
      const s = state.stages.find((x) => x.module === r.stage) ?? bad(i, `stage '${r.stage}' is not in the run's stages`);
      if (r.type === 'stage-start') {
        if (s.startHash) bad(i, `stage ${r.stage} started twice`);
        s.startHash = r.startHash;
        s.activeAtStart = activeNow;
      } else if (r.type === 'variant-proposed') {
        if (!s.startHash) bad(i, `proposal before stage ${r.stage} started`);
        const p: Proposal = { hash: r.hash, stage: r.stage, parents: r.parents, origin: r.origin, knobValues: r.knobValues, context: r.context, index: s.proposals.length };
        s.proposals.push(p);
        if (!state.variants.has(r.hash)) state.variants.set(r.hash, p);
      } else if (r.type === 'verdict') {
        // The proposal it names (several may be in flight at once), else the oldest unanswered one of this hash (journals before concurrency).
        const p = (r.index !== undefined ? s.proposals[r.index] : s.proposals.find((x) => x.hash === r.hash && !x.verdict)) ?? bad(i, `verdict for ${r.hash.slice(0, 12)} without a pending proposal`);
        if (p.hash !== r.hash) bad(i, `verdict for ${r.hash.slice(0, 12)} names proposal ${r.index}, which is ${p.hash.slice(0, 12)}`);
        // A job is counted once: a second verdict for one proposal is a damaged journal.
        if (p.verdict) bad(i, `proposal ${p.index} (${r.hash.slice(0, 12)}) already has a verdict`);
        p.verdict = r.verdict;
        if (r.job !== undefined) p.job = r.job;
        if (r.worker !== undefined) p.worker = r.worker;
        p.answeredAt = t;
      } else if (r.type === 'stage-end') {
        s.ended = { reason: r.reason, bestHash: r.bestHash, startReward: r.startReward, bestReward: r.bestReward };
      }
    }
    lastTime = t;
  });
  state.activeSeconds += Math.max(0, lastTime - sessionStart) / 1000;
  return state;
}
