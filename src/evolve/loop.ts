/**
 * The optimisation loop: stages graph -> search -> refine, each starting from the baseline of its
 * module evaluated on top of the best variants of the earlier stages; within a stage the policy
 * (autotune.ts, or the LLM's code through LoopDeps.propose, or both alternating for --policy mixed)
 * proposes variants; each variant is stored whole (store.ts), journaled, then
 * evaluated, and its verdict journaled (journal.ts). Everything the loop decides is a function of
 * the journal (run-state.ts), so `resume` continues a killed run where it stopped: the only thing
 * lost is the evaluation that was in flight, which is run again (a farm job: reattached to or
 * resubmitted, src/farm/). Jobs go to an EvaluationBackend (backend.ts), several at once where it
 * says it can run them; a farm run drives one lane per adapter, concurrently.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { verdictSchema, type Variant, type Verdict } from './contract.ts';
import { type ModuleName } from '../bundle/module-manifest.ts';
import { JournalWriter, readJournal, runConfigSchema, type RunConfig } from './journal.ts';
import { getVariant, putVariant, type VariantFile } from './store.ts';
import { bestOf, bestPerModule, evaluated, foldJournal, laneNames, ok, pending, stageConverged, startOf, totals, type Proposal, type RunState, type StageState } from './run-state.ts';
import { baselineFor, proposeNext } from './autotune.ts';
import { FILTER_ONLY_KNOBS } from '../search/knob-params.ts';
import { loadBaseline } from './modules.ts';
import { UserError } from '../errors.ts';
import { localBackend, type EvaluationBackend, type EvaluationJob, type Evaluator, type JobResult, type VariantRef } from './backend.ts';

export type { EvaluateOptions, Evaluator } from './backend.ts';

/** How far past a time budget an evaluation in flight may run before it is cut: the budget's promise. */
export const DEADLINE_MARGIN_S = 30;

/** Where the loop gets a module's baseline: its manifest and file contents. */
export type BaselineSource = (module: ModuleName) => Promise<{ variant: Variant; files: VariantFile[] }>;

/** Stage events carry the farm lane (adapter name) they belong to; undefined in a run without lanes. */
export type LoopEvent =
  | { type: 'stage-start'; lane?: string; stage: ModuleName; budget: number | undefined }
  | { type: 'evaluating'; lane?: string; stage: ModuleName; hash: string; origin: string; knobValues: Record<string, number> }
  | { type: 'verdict'; lane?: string; stage: ModuleName; hash: string; verdict: Verdict; done: number; failures: number; best: number | null; stageEvaluations: number; worker?: string }
  | { type: 'stage-end'; lane?: string; stage: ModuleName; reason: string; startReward: number | null; bestReward: number | null }
  | { type: 'resumed'; evaluations: number; pending: number; dropped: boolean };

/** Whole variants from a code-writing policy (--policy llm, src/evolve/llm/loop-policy.ts); stop: end this session, resumable. */
export type Proposer = (runDir: string, st: RunState, module: ModuleName) => Promise<{ variants: { files: VariantFile[]; knobValues: Record<string, number>; parents: string[]; origin: string }[]; stop?: string }>;

export interface LoopDeps {
  /** Evaluates one variant folder on this machine (wrapped in localBackend); ignored when `backend` is set. */
  evaluate?: Evaluator;
  /** Where jobs run (src/farm/ for a farm); default localBackend(runDir, evaluate). */
  backend?: EvaluationBackend;
  baseline: BaselineSource;
  onEvent?: (ev: LoopEvent) => void;
  /** Set for --policy llm: replaces the knob proposals of autotune. */
  propose?: Proposer;
}

/**
 * --policy mixed: after each LLM group, this many autotune proposals retune the knobs on top of
 * the stage's best code (which the group may just have changed), then the next group.
 */
export const MIXED_AUTOTUNE_BURST = 4;

/**
 * Whose turn it is in a mixed stage, from the journal alone (so resume continues the same cycle):
 * the LLM first and after every MIXED_AUTOTUNE_BURST autotune proposals, autotune otherwise.
 */
export function mixedTurn(stage: StageState): 'llm' | 'autotune' {
  const ps = stage.proposals.slice(1); // the first is the stage's start (its baseline)
  if (ps.length === 0) return 'llm';
  let trailing = 0;
  for (let i = ps.length - 1; i >= 0 && ps[i].origin === 'autotune'; i--) trailing++;
  return trailing >= MIXED_AUTOTUNE_BURST ? 'llm' : 'autotune';
}

/** Consecutive evaluator exceptions (not failed verdicts) after which the run stops, resumable. */
const MAX_EVALUATOR_ERRORS = 3;

export function newRunId(dataset: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const name = path.basename(dataset).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 40) || 'run';
  return `${stamp}-${name}-${randomBytes(2).toString('hex')}`;
}

/** The shipped baselines (kernels/baseline/MODULE), as variant folders hold them: files by base name. */
export const shippedBaseline: BaselineSource = async (module) => {
  const b = loadBaseline(module);
  return {
    variant: { manifest: { ...b.manifest, files: Object.keys(b.sources) }, knobValues: b.knobs, parents: [], origin: 'baseline' },
    files: Object.entries(b.sources).map(([p, text]) => ({ path: p, content: Buffer.from(text) })),
  };
};

const LOCK_FILE = 'lock';

/**
 * One writer per run: RUN/lock holds the pid of the process driving it. A lock whose process is
 * gone (kill -9) is taken over; a live one is refused, so two processes never append to one journal.
 */
function acquireLock(runDir: string): () => void {
  const file = path.join(runDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new UserError(`${runDir}: the run is being driven by process ${pid} (${file}); stop it first`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new UserError(`${file}: could not take the run lock`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Starts a new run in `runDir` (created; must not hold a journal) and runs it to the end. */
export async function startRun(runDir: string, config: RunConfig, deps: LoopDeps): Promise<RunState> {
  const cfg = runConfigSchema.parse(config);
  mkdirSync(runDir, { recursive: true });
  const unlock = acquireLock(runDir);
  let journal: JournalWriter;
  try {
    journal = JournalWriter.create(runDir, { type: 'run-start', version: 1, runId: path.basename(path.resolve(runDir)), config: cfg });
  } catch (err) {
    unlock();
    throw err;
  }
  try {
    return await drive(runDir, journal, deps);
  } finally {
    journal.close();
    unlock();
  }
}

/** Rebuilds the run from its journal (dropping a torn last line) and runs it to the end. */
export async function resumeRun(runDir: string, deps: LoopDeps): Promise<RunState> {
  const unlock = acquireLock(runDir);
  try {
    return await resumeLocked(runDir, deps);
  } finally {
    unlock();
  }
}

async function resumeLocked(runDir: string, deps: LoopDeps): Promise<RunState> {
  const read = readJournal(runDir);
  const journal = JournalWriter.reopen(runDir, read);
  try {
    const before = foldJournal(read.records, journal.file);
    const t = { evaluations: 0, pending: 0 };
    for (const lane of laneNames(before.config)) {
      const x = totals(foldJournal(read.records, journal.file, lane));
      t.evaluations += x.evaluations;
      t.pending += x.pending;
    }
    deps.onEvent?.({ type: 'resumed', evaluations: t.evaluations, pending: t.pending, dropped: read.torn !== undefined });
    if (before.ended !== undefined) return foldJournal(read.records, journal.file, laneNames(before.config)[0]);
    journal.append({ type: 'resume', pid: process.pid });
    return await drive(runDir, journal, deps);
  } finally {
    journal.close();
  }
}

function state(journal: JournalWriter, lane?: string): RunState {
  return foldJournal(readJournal(path.dirname(journal.file)).records, journal.file, lane);
}

/** Evaluations left for this stage: an equal share of what the run has left. */
function stageBudget(st: RunState, idx: number): number | undefined {
  const { evals } = st.config.budget;
  if (evals === undefined) return undefined;
  const usedBefore = st.stages.slice(0, idx).reduce((n, s) => n + evaluated(s).length, 0);
  const left = st.stages.length - idx;
  return Math.max(1, Math.floor((evals - usedBefore) / left));
}

/** Seconds this stage may still run: an equal share of what the run had left when it started. */
function stageSecondsLeft(st: RunState, idx: number): number {
  const total = st.config.budget.seconds;
  const s = st.stages[idx];
  if (total === undefined || s.activeAtStart === undefined) return Infinity;
  const share = (total - s.activeAtStart) / (st.stages.length - idx);
  return s.activeAtStart + share - st.activeSeconds;
}

/** What the lanes of one session share: the first fatal error stops them all. */
interface Session {
  fatal?: unknown;
}

/**
 * Drives every lane of the run (one per farm adapter, else one) to its end, concurrently; the
 * run ends when all have. The budget (evaluations and time) applies to each lane: a farm run
 * tunes each adapter as a run on it alone would.
 */
async function drive(runDir: string, journal: JournalWriter, deps: LoopDeps): Promise<RunState> {
  if (!deps.backend && !deps.evaluate) throw new Error('loop: LoopDeps needs an evaluate function or a backend');
  const backend = deps.backend ?? localBackend(runDir, deps.evaluate!);
  const lanes = laneNames(state(journal).config);
  const session: Session = {};
  const results = await Promise.allSettled(lanes.map((lane) => driveLane(runDir, journal, deps, backend, lane, session)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw session.fatal ?? failed.reason;
  const ends = results.map((r) => (r as PromiseFulfilledResult<string | undefined>).value);
  // A lane stopped without an end (the LLM policy's stop): the run stays open, resumable.
  if (ends.some((e) => e === undefined)) return state(journal, lanes[0]);
  const reasons = [...new Set(ends)];
  journal.append({ type: 'run-end', reason: reasons.length === 1 ? reasons[0]! : reasons.join('; ') });
  return state(journal, lanes[0]);
}

/** One lane's stages; resolves with its end reason ('done', or a spent time budget), undefined for a resumable stop. */
async function driveLane(runDir: string, journal: JournalWriter, deps: LoopDeps, backend: EvaluationBackend, lane: string | undefined, session: Session): Promise<string | undefined> {
  let st = state(journal, lane);
  let errors = 0;
  for (let idx = 0; idx < st.stages.length; idx++) {
    let stage = st.stages[idx];
    if (stage.ended) continue;
    const module = stage.module;
    const context: Record<string, string> = {};
    for (const s of st.stages.slice(0, idx)) {
      const b = bestPerModule(st)[s.module];
      if (b) context[s.module] = b.hash;
    }
    const refresh = () => {
      st = state(journal, lane);
      stage = st.stages[idx];
    };
    if (!stage.startHash) {
      // A spent time budget starts no new stage: its baseline evaluation alone could take minutes.
      if (st.config.budget.seconds !== undefined && st.activeSeconds >= st.config.budget.seconds) return `time budget spent before stage ${module}`;
      const base = await deps.baseline(module);
      const stored = putVariant(runDir, { ...base.variant, parents: [], origin: 'baseline' }, base.files);
      journal.append({ type: 'stage-start', lane, stage: module, startHash: stored.hash });
      journal.append({ type: 'variant-proposed', lane, stage: module, hash: stored.hash, parents: [], origin: 'baseline', knobValues: stored.variant.knobValues, context });
      refresh();
    }
    const budget = stageBudget(st, idx);
    deps.onEvent?.({ type: 'stage-start', lane, stage: module, budget });
    const start = getVariant(runDir, stage.startHash!);
    const allKnobs = start.variant.manifest.knobs;
    // An unfiltered run tunes no knob that acts on filtered searches only: those keep their values
    // (a proposal differing in them alone would measure the same search twice).
    const filtered = st.config.evaluator.filter !== undefined;
    const knobs = filtered ? allKnobs : allKnobs.filter((k) => !FILTER_ONLY_KNOBS.includes(k.name));
    const constraintSource = knobs.length === allKnobs.length ? {} : { manifest: baselineFor(allKnobs) };
    let reason: 'budget' | 'converged' | 'exhausted' | 'time' | undefined;
    /**
     * One autotune proposal journaled; false when the knob space is exhausted. Its code is the
     * stage's best variant's (the start's under plain autotune; under mixed, the LLM's best code).
     */
    const proposeKnobs = async (): Promise<boolean> => {
      if (knobs.length === 0) return false;
      const done = evaluated(stage);
      const history = done.map((p) => ({ knobValues: p.knobValues, reward: ok(p) ? p.verdict.reward : null }));
      const x0 = proposeNext(knobs, history, { seed: st.config.seed * 31 + idx, index: stage.proposals.length - 1, ...constraintSource });
      if (x0 === null) return false;
      const parent = bestOf(stage)?.hash ?? stage.startHash!;
      const from = parent === stage.startHash ? start : getVariant(runDir, parent);
      const x = { ...from.variant.knobValues, ...x0 };
      const stored = putVariant(runDir, { ...from.variant, knobValues: x, parents: [parent], origin: 'autotune' }, from.files);
      journal.append({ type: 'variant-proposed', lane, stage: module, hash: stored.hash, parents: [parent], origin: 'autotune', knobValues: x, context });
      refresh();
      return true;
    };

    // Proposals in flight, by index; each settles with its own result (evaluateOne never rejects but for a UserError).
    const inflight = new Map<number, Promise<{ p: Proposal; r: Evaluated }>>();
    let fatal: unknown;
    for (;;) {
      const stopping = reason !== undefined || fatal !== undefined || session.fatal !== undefined;
      const cap = Math.max(1, await backend.concurrency(lane));
      // 1. Start what is journaled but unanswered (after a crash: what was in flight), up to the backend's concurrency.
      if (!stopping) {
        for (const p of pending(stage)) {
          if (inflight.size >= cap) break;
          if (inflight.has(p.index)) continue;
          const run = evaluateOne(runDir, st, p, backend, deps).then((r) => ({ p, r }));
          run.catch(() => {}); // observed by the race below; never an unhandled rejection meanwhile
          inflight.set(p.index, run);
        }
      }
      // 2. A free slot and nothing left to start: stop (budget, wall time, no gain) or propose more.
      if (!stopping && inflight.size < cap && pending(stage).length === inflight.size) {
        const done = evaluated(stage);
        if (budget !== undefined && stage.proposals.length >= budget) reason = 'budget';
        else if (stageSecondsLeft(st, idx) <= 0) reason = 'time';
        else if (stageConverged(stage, st.config.patience) && inflight.size === 0) reason = 'converged';
        else if (stageConverged(stage, st.config.patience)) { /* wait: an answer in flight may still be a gain */ }
        else {
          const mixed = st.config.policy === 'mixed';
          if (deps.propose && (!mixed || mixedTurn(stage) === 'llm')) {
            // A GRPO group of whole variants, asked once the previous answers are in (the prompt shows them).
            if (inflight.size === 0) {
              // A stop (LLM budget, endpoint down) ends the session without run-end, so resume continues.
              const r = await deps.propose(runDir, st, module);
              if (r.variants.length === 0 && r.stop) return undefined;
              // Mixed: a group with nothing usable hands the turn to autotune instead of asking again.
              if (r.variants.length === 0 && mixed) {
                if (!(await proposeKnobs())) reason = 'exhausted';
                continue;
              }
              for (const v of r.variants.slice(0, budget === undefined ? undefined : Math.max(1, budget - stage.proposals.length))) {
                const stored = putVariant(runDir, { ...start.variant, knobValues: v.knobValues, parents: v.parents, origin: v.origin }, v.files);
                journal.append({ type: 'variant-proposed', lane, stage: module, hash: stored.hash, parents: v.parents, origin: v.origin, knobValues: stored.variant.knobValues, context });
              }
              refresh();
              continue;
            }
          } else {
            // 3. Propose, store, journal, and loop back to start it.
            if (!(await proposeKnobs())) { if (inflight.size === 0 && done.length === stage.proposals.length) reason = 'exhausted'; }
            else continue;
          }
        }
      }
      if (inflight.size === 0) {
        if (fatal !== undefined || session.fatal !== undefined) throw fatal ?? session.fatal;
        if (reason !== undefined) break;
        if (pending(stage).length === 0) { reason = 'exhausted'; break; }
        continue;
      }
      // 4. The first answer back: journal it once.
      const { p, r } = await Promise.race(inflight.values());
      inflight.delete(p.index);
      // Evaluator faults (a throw, a baseline that failed twice) are never the variant's; in a row they stop the run, resumable.
      const fault = 'error' in r ? r.error : r.verdict.status === 'void' && r.verdict.fault === 'baseline' ? r.verdict.reason : undefined;
      if (fault !== undefined) {
        if (++errors >= MAX_EVALUATOR_ERRORS) {
          if (!('error' in r)) journal.append({ type: 'verdict', lane, stage: module, hash: p.hash, index: p.index, verdict: r.verdict, ...jobFields(r) });
          fatal = new Error(`evaluator failed ${errors} times in a row (${fault}); the run is kept: crinn resume ${runDir}`);
          session.fatal ??= fatal;
          refresh();
          continue;
        }
      } else errors = 0;
      journal.append({ type: 'verdict', lane, stage: module, hash: p.hash, index: p.index, verdict: 'error' in r ? thrownVerdict(p, st, r.error) : r.verdict, ...jobFields(r) });
      refresh();
      const t = totals(st);
      const b = bestOf(stage);
      const v = stage.proposals[p.index].verdict!;
      deps.onEvent?.({ type: 'verdict', lane, stage: module, hash: p.hash, verdict: v, done: t.evaluations, failures: t.failures, best: b?.verdict?.reward ?? null, stageEvaluations: evaluated(stage).length, ...('error' in r || r.worker === undefined ? {} : { worker: r.worker }) });
    }
    const best = bestOf(stage);
    const startP = startOf(stage);
    const startReward = startP && ok(startP) ? startP.verdict.reward : null;
    journal.append({ type: 'stage-end', lane, stage: module, reason: reason!, bestHash: best?.hash ?? stage.startHash!, startReward, bestReward: best?.verdict?.reward ?? null });
    deps.onEvent?.({ type: 'stage-end', lane, stage: module, reason: reason!, startReward, bestReward: best?.verdict?.reward ?? null });
    refresh();
  }
  return 'done';
}

type Evaluated = (JobResult & { job: string }) | { error: string };

function jobFields(r: Evaluated): { job?: string; worker?: string } {
  // Jobs on this machine need no id in the journal: the farm's (a worker named) pair the journal with Redis.
  if ('error' in r || r.worker === undefined) return {};
  return { job: r.job, worker: r.worker };
}

/** The job id of a proposal: stable across sessions, so a resumed run reattaches to (or resubmits) the same job. */
export function jobId(st: RunState, p: Proposal): string {
  const lane = st.lane === undefined ? 'local' : createHash('sha256').update(st.lane).digest('hex').slice(0, 12);
  return `${st.runId}.${lane}.${p.stage}.${p.index}`;
}

function ref(runDir: string, hash: string): VariantRef {
  const v = getVariant(runDir, hash);
  return { hash: v.hash, variant: v.variant, files: v.files };
}

/** The verdict, or the message when the backend threw (an internal error, not a verdict on the variant). */
async function evaluateOne(runDir: string, st: RunState, p: Proposal, backend: EvaluationBackend, deps: LoopDeps): Promise<Evaluated> {
  deps.onEvent?.({ type: 'evaluating', lane: st.lane, stage: p.stage, hash: p.hash, origin: p.origin, knobValues: p.knobValues });
  const id = jobId(st, p);
  try {
    const best = bestOf(st.stages.find((s) => s.module === p.stage)!)?.verdict?.reward ?? null;
    // The run's time budget is a wall-clock promise: an evaluation in flight is cut at it plus the margin.
    const left = st.config.budget.seconds === undefined ? undefined : st.config.budget.seconds - st.activeSeconds;
    const deadline = left === undefined ? undefined : Date.now() + 1000 * (Math.max(0, left) + DEADLINE_MARGIN_S);
    const context: EvaluationJob['context'] = {};
    for (const [m, h] of Object.entries(p.context)) context[m as ModuleName] = ref(runDir, h);
    const job: EvaluationJob = {
      id, ...(st.lane !== undefined ? { lane: st.lane } : {}), module: p.stage, variant: ref(runDir, p.hash), context,
      dataset: st.config.dataset, seed: st.config.seed * 1000 + p.index, bestSoFar: best, settings: st.config.evaluator, deadline,
    };
    const r = await backend.submit(job);
    return { verdict: verdictSchema.parse(r.verdict), ...(r.worker !== undefined ? { worker: r.worker } : {}), job: r.job ?? id };
  } catch (err) {
    if (err instanceof UserError) throw err;
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

function thrownVerdict(p: Proposal, st: RunState, message: string): Verdict {
  return {
    // The evaluator's own error: void, never charged to the variant.
    status: 'void', fault: 'internal', stage: 'load', reason: `evaluator error: ${message}`.slice(0, 2000), module: p.stage, variantHash: p.hash,
    dataset: st.config.dataset, adapter: st.lane ?? '', variantAuc: null, baselineAuc: null, reward: null,
    qpsAt90: null, qpsAt95: null, qpsAt99: null, evaluationsAt95: null, variantCurve: [], baselineCurve: [], seconds: 0,
  };
}

export type { RunConfig, RunState, StageState };
