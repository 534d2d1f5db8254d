/**
 * Reading runs back for people: the per-stage summary `crinn optimize` ends with, the run list,
 * a stage's leaderboard and a variant's lineage. Everything comes from the journal (run-state.ts).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ModuleName } from '../bundle/module-manifest.ts';
import { UserError } from '../errors.ts';
import { JOURNAL_FILE, readJournal } from './journal.ts';
import { bestOf, evaluated, foldJournal, ok, startOf, totals, type Proposal, type RunState } from './run-state.ts';
import { evaluationsAtRecall, qpsAtRecall } from '../bench/reward.ts';
import { formatQps, formatTable } from '../bench/table.ts';
import { rewardText } from './reward-text.ts';

export interface StageSummary {
  stage: ModuleName;
  evaluations: number;
  failures: number;
  /** The stage's starting point (baseline module on the earlier stages' best) and its best. */
  startReward: number | null;
  /** The start's and the best's reward with their intervals (reward-text.ts). */
  startText: string;
  bestText: string;
  bestReward: number | null;
  /** bestReward / startReward: what this stage added. */
  gain: number | null;
  bestHash: string | null;
  baselineAuc: number | null;
  bestAuc: number | null;
  baselineQps95: number | null;
  bestQps95: number | null;
  baselineWork95: number | null;
  bestWork95: number | null;
  status: string;
}

/** A run's state; a farm run's for one adapter lane (default its first). */
export function loadRun(runDir: string, lane?: string): RunState {
  const r = readJournal(runDir);
  const file = path.join(runDir, JOURNAL_FILE);
  const first = r.records[0];
  const st = foldJournal(r.records, file, lane ?? (first.type === 'run-start' ? first.config.farm?.adapters[0] : undefined));
  checkVerdictDatasets(st, file);
  return st;
}

/**
 * The names a verdict of a run on `dataset` carries: the name as given, and for a file the name
 * the loader gives it (its stem, without a TEXMEX `_base`; src/data/resolve.ts).
 */
function datasetNames(dataset: string): Set<string> {
  return new Set([dataset, path.basename(dataset, path.extname(dataset)).replace(/_base$/, '')]);
}

/**
 * Every verdict in the journal was measured on the run's dataset: a hand-edited run-start (or two
 * journals pasted together) would otherwise mix two datasets in one leaderboard, and a resume
 * would go on measuring the other one. Refused with one line naming the journal.
 */
export function checkVerdictDatasets(st: RunState, file: string): void {
  const names = datasetNames(st.config.dataset);
  for (const s of st.stages) {
    for (const p of s.proposals) {
      if (p.verdict && !names.has(p.verdict.dataset)) {
        throw new UserError(`${file}: run-start names dataset '${st.config.dataset}', but the verdict for ${p.hash.slice(0, 12)} (stage ${s.module}) was measured on '${p.verdict.dataset}'; a run measures one dataset (start a new run for another)`);
      }
    }
  }
}

export function summarizeStages(st: RunState): StageSummary[] {
  return st.stages.map((s) => {
    const done = evaluated(s);
    const best = bestOf(s);
    const start = startOf(s);
    const startReward = start && ok(start) ? start.verdict.reward : null;
    const bestReward = best?.verdict?.reward ?? null;
    const v = best?.verdict;
    return {
      stage: s.module,
      evaluations: done.length,
      failures: done.filter((p) => p.verdict!.status === 'failed').length,
      startText: rewardText(start?.verdict),
      bestText: rewardText(v),
      startReward,
      bestReward,
      gain: startReward && bestReward !== null ? bestReward / startReward : null,
      bestHash: best?.hash ?? null,
      baselineAuc: v?.baselineAuc ?? null,
      bestAuc: v?.variantAuc ?? null,
      baselineQps95: v ? qpsAtRecall(v.baselineCurve, 0.95) : null,
      bestQps95: v?.qpsAt95 ?? null,
      baselineWork95: v ? evaluationsAtRecall(v.baselineCurve, 0.95) : null,
      bestWork95: v?.evaluationsAt95 ?? null,
      status: s.ended ? s.ended.reason : s.startHash ? 'running' : 'not started',
    };
  });
}

const num = (x: number | null, digits = 3) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(digits));
const work = (x: number | null) => (x === null || !Number.isFinite(x) ? '-' : Math.round(x).toLocaleString('en-US'));

/** The table `crinn optimize` and `crinn runs show` print: baseline vs best per stage. */
export function renderSummary(st: RunState): string {
  const rows = summarizeStages(st).map((s) => [
    s.stage, String(s.evaluations), String(s.failures), s.startText, s.bestText, s.gain === null ? '-' : `${num(s.gain)}x`,
    formatQps(s.baselineAuc), formatQps(s.bestAuc), formatQps(s.baselineQps95), formatQps(s.bestQps95), work(s.baselineWork95), work(s.bestWork95),
    s.bestHash ? s.bestHash.slice(0, 12) : '-', s.status,
  ]);
  const t = totals(st);
  // Each stage's reward is its module's own gain on the earlier stages' best (the evaluator runs
  // that context on both sides), so the run's gain is their product.
  const gains = summarizeStages(st).map((s) => s.bestReward).filter((r): r is number => r !== null);
  const overall = gains.length ? gains.reduce((a, b) => a * b, 1) : null;
  // The first stage starts from the all-baseline pipeline: its reward is a self-vs-self measurement.
  const self = summarizeStages(st)[0]?.startReward ?? null;
  return [
    formatTable(
      ['stage', 'evals', 'failed', 'start', 'best', 'gain', 'AUC base', 'AUC best', 'QPS@.95 base', 'QPS@.95 best', 'work@.95 base', 'work@.95 best', 'best variant', 'stop'],
      rows,
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
    ),
    '',
    `run ${st.runId}: ${t.evaluations} evaluations (${t.failures} failed${t.pending ? `, ${t.pending} in flight` : ''}) in ${st.activeSeconds.toFixed(0)} s; ` +
      `reward = AUC / baseline AUC from paired rounds, [95% interval]; ${st.config.spread !== undefined ? `gains below the spread ${st.config.spread} (--spread) are noise` : 'a gain counts when its interval lies above the best so far'}` +
      (overall !== null ? `; overall ${num(overall)}x the baseline (product of the stages' best rewards)` : '') +
      (self !== null ? `\nbaseline vs itself (first stage's start): ${summarizeStages(st)[0].startText}; its interval should hold 1` : ''),
    ...(renderAttribution(st) ? [renderAttribution(st)] : []),
  ].join('\n');
}

/**
 * Which policy produced each part of a stage's gain: the best variant's lineage back to the
 * stage's start, each step's reward ratio (child / parent; both rewards are measured against the
 * same baseline) credited to the child's origin, multiplied per origin. With --policy mixed this
 * separates what the LLM's code added from what autotune's knobs added on top of it.
 */
export function gainByOrigin(st: RunState, stage: ModuleName): { origin: string; gain: number; steps: number }[] {
  const s = st.stages.find((x) => x.module === stage);
  const best = s && bestOf(s);
  if (!s || !best) return [];
  const rewardOf = (h: string) => s.proposals.find((p) => p.hash === h && p.verdict)?.verdict?.reward ?? null;
  const out = new Map<string, { gain: number; steps: number }>();
  for (const p of lineage(st, best.hash)) {
    const parent = p.parents[0];
    const r = rewardOf(p.hash);
    const pr = parent ? rewardOf(parent) : null;
    if (!parent || r === null || pr === null || !(pr > 0)) continue;
    const e = out.get(p.origin) ?? { gain: 1, steps: 0 };
    out.set(p.origin, { gain: e.gain * (r / pr), steps: e.steps + 1 });
  }
  return [...out.entries()].map(([origin, e]) => ({ origin, ...e })).sort((a, b) => b.gain - a.gain);
}

/** One line per stage with a gain: its credit per policy (gainByOrigin). */
export function renderAttribution(st: RunState): string {
  const lines: string[] = [];
  for (const s of st.stages) {
    const g = gainByOrigin(st, s.module);
    if (g.length === 0) continue;
    lines.push(`${s.module}: gain by policy ${g.map((x) => `${x.origin} ${num(x.gain)}x (${x.steps} step${x.steps === 1 ? '' : 's'})`).join(', ')}`);
  }
  return lines.join('\n');
}

/** The top variants of each stage by reward. */
export function renderLeaderboard(st: RunState, top = 10): string {
  const out: string[] = [];
  for (const s of st.stages) {
    const ranked = evaluated(s).sort((a, b) => (b.verdict!.reward ?? -Infinity) - (a.verdict!.reward ?? -Infinity)).slice(0, top);
    if (ranked.length === 0) continue;
    out.push(`stage ${s.module}`);
    out.push(formatTable(
      ['#', 'variant', 'origin', 'reward', 'AUC', 'QPS@.95', 'work@.95', 'parent', 'knobs / failure'],
      ranked.map((p, i) => [
        String(i + 1), p.hash.slice(0, 12), p.origin, rewardText(p.verdict), formatQps(p.verdict!.variantAuc), formatQps(p.verdict!.qpsAt95), work(p.verdict!.evaluationsAt95),
        p.parents[0]?.slice(0, 12) ?? '-',
        p.verdict!.status === 'ok' ? knobText(p) : `${p.verdict!.stage}: ${p.verdict!.reason}`.slice(0, 80),
      ]),
      ['r', 'l', 'l', 'r', 'r', 'r', 'r', 'l', 'l'],
    ));
    out.push('');
  }
  return out.join('\n');
}

function knobText(p: Proposal): string {
  return Object.entries(p.knobValues).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(3)}`).join(' ');
}

/** The chain of parents from a variant back to its baseline, plus the earlier stages it ran on. */
export function lineage(st: RunState, hash: string): Proposal[] {
  const chain: Proposal[] = [];
  const seen = new Set<string>();
  let h: string | undefined = hash;
  while (h && !seen.has(h)) {
    seen.add(h);
    const p = st.variants.get(h);
    if (!p) break;
    chain.push(p);
    h = p.parents[0];
  }
  return chain;
}

export function renderLineage(st: RunState): string {
  const lines: string[] = [];
  for (const s of st.stages) {
    const best = bestOf(s);
    if (!best) continue;
    lines.push(`${s.module}: best ${best.hash.slice(0, 12)} (reward ${num(best.verdict!.reward)})`);
    for (const p of lineage(st, best.hash)) {
      const r = s.proposals.find((x) => x.hash === p.hash && x.verdict)?.verdict?.reward ?? null;
      lines.push(`  <- ${p.hash.slice(0, 12)} ${p.origin.padEnd(8)} reward ${num(r)}  ${knobText(p)}`);
    }
    const ctx = Object.entries(best.context);
    if (ctx.length) lines.push(`  on top of: ${ctx.map(([m, h]) => `${m} ${h.slice(0, 12)}`).join(', ')}`);
  }
  return lines.join('\n');
}

export interface RunListing {
  dir: string;
  runId: string;
  dataset: string;
  stages: string;
  evaluations: number;
  failures: number;
  best: number | null;
  status: string;
  error?: string;
}

/**
 * Every run folder (one holding a journal) directly under `runsDir`, newest first. A folder the
 * user named (`flag`) must exist: a typo must not read as "no runs"; the default one may be missing.
 */
export function listRuns(runsDir: string, flag?: string): RunListing[] {
  const st = statSync(runsDir, { throwIfNoEntry: false });
  if (!st) {
    if (flag) throw new UserError(`${flag}: ${runsDir} does not exist`);
    return [];
  }
  if (!st.isDirectory()) throw new UserError(`${flag ?? 'runs folder'}: ${runsDir} is not a folder`);
  const dirs = readdirSync(runsDir).map((d) => path.join(runsDir, d)).filter((d) => existsSync(path.join(d, JOURNAL_FILE)));
  dirs.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return dirs.map((dir) => {
    try {
      const st = loadRun(dir);
      const t = totals(st);
      const gains = summarizeStages(st).map((s) => s.bestReward).filter((r): r is number => r !== null);
      return {
        dir, runId: st.runId, dataset: st.config.dataset, stages: st.config.stages.join(','), evaluations: t.evaluations, failures: t.failures,
        best: gains.length ? gains.reduce((a, b) => a * b, 1) : null, status: st.ended ? 'done' : 'stopped (resumable)',
      };
    } catch (err) {
      return { dir, runId: path.basename(dir), dataset: '-', stages: '-', evaluations: 0, failures: 0, best: null, status: 'unreadable', error: (err as Error).message };
    }
  });
}

export function renderRunList(runs: readonly RunListing[]): string {
  if (runs.length === 0) return 'no runs';
  return formatTable(
    ['run', 'dataset', 'stages', 'evals', 'failed', 'best reward', 'status'],
    runs.map((r) => [r.runId, r.dataset, r.stages, String(r.evaluations), String(r.failures), num(r.best), r.error ? `${r.status}: ${r.error}` : r.status]),
    ['l', 'l', 'l', 'r', 'r', 'r', 'l'],
  );
}
