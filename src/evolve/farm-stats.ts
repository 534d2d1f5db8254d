/**
 * A farm run's throughput and results from its journal alone (`crinn runs report`): per worker,
 * the evaluations it answered and how fast (per minute of its own evaluation time, and per minute
 * of the run); per adapter lane, each stage's best reward. Verdicts record their worker
 * (journal.ts); a run on this machine has no lanes and no farm table.
 */
import { bestOf, laneNames, ok } from './run-state.ts';
import { loadRun } from './runs.ts';
import { formatTable } from '../bench/table.ts';
import { rewardText } from './reward-text.ts';

export interface WorkerStat {
  worker: string;
  adapter: string;
  evaluations: number;
  /** Seconds its verdicts report (the evaluations' own time). */
  busySeconds: number;
  /** Evaluations per minute of its own evaluation time. */
  perBusyMinute: number;
  /** Evaluations per minute of the run's active time. */
  perRunMinute: number;
}

export interface AdapterStat {
  adapter: string;
  evaluations: number;
  failures: number;
  /** Each stage's best reward (with its interval) on this adapter. */
  best: { stage: string; text: string; reward: number | null }[];
  overall: number | null;
}

export function farmStats(runDir: string): { workers: WorkerStat[]; adapters: AdapterStat[]; activeSeconds: number } | null {
  const lanes = laneNames(loadRun(runDir).config);
  if (lanes[0] === undefined) return null;
  const workers = new Map<string, WorkerStat>();
  const adapters: AdapterStat[] = [];
  let activeSeconds = 0;
  for (const lane of lanes as string[]) {
    const st = loadRun(runDir, lane);
    activeSeconds = st.activeSeconds;
    let evaluations = 0;
    let failures = 0;
    for (const s of st.stages) {
      for (const p of s.proposals) {
        if (!p.verdict) continue;
        evaluations++;
        if (p.verdict.status === 'failed') failures++;
        const key = `${p.worker ?? '(none)'}\n${lane}`;
        const w = workers.get(key) ?? { worker: p.worker ?? '(none)', adapter: lane, evaluations: 0, busySeconds: 0, perBusyMinute: 0, perRunMinute: 0 };
        w.evaluations++;
        w.busySeconds += p.verdict.seconds;
        workers.set(key, w);
      }
    }
    const best = st.stages.map((s) => {
      const b = bestOf(s);
      return { stage: s.module, text: b && ok(b) ? rewardText(b.verdict) : '-', reward: b && ok(b) ? b.verdict.reward : null };
    });
    const rewards = best.map((b) => b.reward).filter((r): r is number => r !== null);
    adapters.push({ adapter: lane, evaluations, failures, best, overall: rewards.length ? rewards.reduce((a, b) => a * b, 1) : null });
  }
  for (const w of workers.values()) {
    w.perBusyMinute = w.busySeconds > 0 ? (60 * w.evaluations) / w.busySeconds : 0;
    w.perRunMinute = activeSeconds > 0 ? (60 * w.evaluations) / activeSeconds : 0;
  }
  return { workers: [...workers.values()].sort((a, b) => a.adapter.localeCompare(b.adapter) || a.worker.localeCompare(b.worker)), adapters, activeSeconds };
}

export function renderFarmStats(f: NonNullable<ReturnType<typeof farmStats>>): string {
  const total = f.workers.reduce((n, w) => n + w.evaluations, 0);
  const lines = [
    `farm: ${total} evaluations in ${f.activeSeconds.toFixed(0)} s (${f.activeSeconds > 0 ? ((60 * total) / f.activeSeconds).toFixed(2) : '-'} per minute)`,
    formatTable(['worker', 'adapter', 'evals', 'busy s', 'evals/busy min', 'evals/run min'],
      f.workers.map((w) => [w.worker, w.adapter, String(w.evaluations), w.busySeconds.toFixed(0), w.perBusyMinute.toFixed(2), w.perRunMinute.toFixed(2)]), ['l', 'l', 'r', 'r', 'r', 'r']),
    '',
    formatTable(['adapter', 'evals', 'failed', ...f.adapters[0].best.map((b) => `best ${b.stage}`), 'overall'],
      f.adapters.map((a) => [a.adapter, String(a.evaluations), String(a.failures), ...a.best.map((b) => b.text), a.overall === null ? '-' : `${a.overall.toFixed(3)}x`]),
      ['l', 'r', 'r', ...f.adapters[0].best.map(() => 'r' as const), 'r']),
  ];
  return lines.join('\n');
}
