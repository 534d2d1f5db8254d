/**
 * Isolation between calls: a system's child runs only during its own calls. Sandbox.pause() stops
 * the child's whole process group (SIGSTOP) and resume() continues it; the evaluator pauses each
 * child after every call and resumes it before the next, so work a variant defers (a timer, late
 * GPU submissions) cannot run while the other system is being timed. Checked from outside, in
 * /proc: every process of an idle child's group is in state T (stopped). With the pause/resume
 * around the evaluator's calls removed, the idle children are never stopped and the evaluator
 * test here fails.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sandbox, type CallOutcome } from '../../src/evolve/sandbox.ts';
import { projectReadPaths } from '../../src/evolve/sandbox-isolation.ts';
import { editedVariant, evalContext, evaluateSmall } from './eval-helpers.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const TICKING_HOST = fileURLToPath(new URL('./fixtures/variants/ticking-host.ts', import.meta.url));
// Both sides tick and are slow in their timed calls: each has idle stretches while the other is timed.
const TICKING_BASELINE = fileURLToPath(new URL('./fixtures/variants/ticking-baseline-host.ts', import.meta.url));
const LONG = 900_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ctx = evalContext('crinn-isolation-test-');
afterEach(() => {
  vi.restoreAllMocks();
});

/** State letter and process group of a live process; undefined once it is gone (or a zombie). */
function procStat(pid: number): { state: string; pgrp: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return f[0] === 'Z' || f[0] === 'X' ? undefined : { state: f[0], pgrp: Number(f[2]) };
  } catch {
    return undefined;
  }
}

/** The live processes of a process group (a sandbox child's group: its wrapper, Node, anything they started). */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    if (procStat(Number(d))?.pgrp === pgid) out.push(Number(d));
  }
  return out;
}

/** 'stopped' when every live member is in state T, 'running' when none is, 'mixed' between; undefined when all are gone. */
function groupState(pids: number[]): 'stopped' | 'running' | 'mixed' | undefined {
  const states = pids.map((p) => procStat(p)?.state).filter((s): s is string => s !== undefined);
  if (states.length === 0) return undefined;
  const stopped = states.filter((s) => s === 'T').length;
  return stopped === states.length ? 'stopped' : stopped === 0 ? 'running' : 'mixed';
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (cond()) return true;
    await sleep(5);
  }
  return cond();
}

describe('Sandbox.pause / resume', () => {
  it('pause() stops every process of the child\'s group, so its timer does not tick; resume() continues it; close() ends a paused child', async () => {
    const scratch = join(ctx.tmp, 'ticker-scratch');
    mkdirSync(scratch);
    const sb = await Sandbox.start({ entry: join(FIXTURES, 'ticker.ts'), readPaths: [FIXTURES, ...projectReadPaths()], scratch, memMiB: 512, timeouts: { startMs: 60_000, callMs: 30_000 } });
    const members = groupMembers(sb.pid);
    try {
      expect(members.length).toBeGreaterThan(0);
      const ticks = async () => {
        const r: CallOutcome<number> = await sb.call<number>('ticks');
        if (!r.ok) throw new Error(`ticks: ${r.failure.reason}: ${r.failure.message}`);
        return r.value;
      };
      const a = await ticks();
      sb.pause();
      expect(await waitFor(() => groupState(members) === 'stopped', 5_000), `group states ${members.map((p) => procStat(p)?.state)}`).toBe(true);
      await sleep(400); // ~200 ticks of a running child
      expect(groupState(members)).toBe('stopped');
      sb.resume();
      expect(await waitFor(() => groupState(members) === 'running', 5_000)).toBe(true);
      const b = await ticks();
      // Only the ticks between the reply and the stop, and the one overdue at the continue.
      expect(b - a, `ticks while paused for 400 ms`).toBeLessThan(40);
      await sleep(200);
      expect((await ticks()) - b, 'ticks in 200 ms after resume()').toBeGreaterThan(20);
      sb.pause();
      expect(await waitFor(() => groupState(members) === 'stopped', 5_000)).toBe(true);
    } finally {
      await sb.close();
    }
    // close() continued it first: it left (was not killed only after the grace period, and no process stays behind).
    expect(groupMembers(sb.pid)).toEqual([]);
  }, 120_000);
});

describe('evaluateVariant', () => {
  it('keeps each system\'s child stopped whenever it has no call in flight (an idle variant cannot run in the baseline\'s timed window)', async () => {
    type Rec = { name: 'baseline' | 'variant'; members: number[]; calls: [number, number][]; samples: { t: number; s: ReturnType<typeof groupState> }[] };
    const recs: Rec[] = [];
    // Timing-stage searches: the timed ones must drain the queue before and after, inside the call.
    const timed: { drain?: boolean }[] = [];
    const realStart = Sandbox.start.bind(Sandbox);
    vi.spyOn(Sandbox, 'start').mockImplementation(async (o) => {
      const sb = await realStart(o);
      const rec: Rec = { name: o.entry === TICKING_HOST ? 'variant' : 'baseline', members: groupMembers(sb.pid), calls: [], samples: [] };
      // Each call's span as the parent sees it: from the request to the settled reply.
      const call = sb.call.bind(sb);
      sb.call = ((op: string, payload?: unknown, co?: { timeoutMs?: number; stage?: string }) => {
        if (op === 'search' && co?.stage === 'timing' && !(payload as { countEvaluations?: boolean }).countEvaluations) timed.push(payload as { drain?: boolean });
        const span: [number, number] = [performance.now(), Infinity];
        rec.calls.push(span);
        return call(op, payload, co).finally(() => {
          span[1] = performance.now();
        });
      }) as typeof sb.call;
      recs.push(rec);
      return sb;
    });
    const sampler = setInterval(() => {
      const t = performance.now();
      for (const r of recs) r.samples.push({ t, s: groupState(r.members) });
    }, 4);
    let verdict;
    try {
      verdict = await evaluateSmall(editedVariant(ctx.tmp, 'search', 'beam_search.wgsl'), ctx.ds, { childEntry: TICKING_HOST, baselineEntry: TICKING_BASELINE });
    } finally {
      clearInterval(sampler);
    }
    expect(verdict.status, verdict.reason).toBe('ok');
    expect(recs.map((r) => r.name).sort()).toEqual(['baseline', 'variant']);
    // The untimed warm-up probes (probe queries) do not drain; every timed batch does.
    expect(timed.filter((p) => p.drain === true).length).toBeGreaterThan(20);
    // A sample is idle when no call of that system is within GUARD ms of it (a signal takes effect
    // when the kernel next schedules the child), between the system's first call and its last.
    const GUARD = 30;
    for (const r of recs) {
      expect(r.members.length, `${r.name}: its process group`).toBeGreaterThan(0);
      const first = r.calls[0][0];
      const last = Math.max(...r.calls.map((c) => c[1]));
      const idle = r.samples.filter(({ t, s }) => s !== undefined && t > first && t < last - GUARD && !r.calls.some(([a, b]) => t > a - GUARD && t < b + GUARD));
      const stopped = idle.filter((x) => x.s === 'stopped').length;
      const tally = `${r.name}: ${stopped} of ${idle.length} idle samples stopped (${r.calls.length} calls, ${r.samples.length} samples)`;
      expect(idle.length, tally).toBeGreaterThanOrEqual(10);
      expect(stopped / idle.length, tally).toBeGreaterThanOrEqual(0.9);
      // And it runs during its calls: not stopped for the whole of them.
      const busy = r.samples.filter(({ t, s }) => s !== undefined && r.calls.some(([a, b]) => t > a + GUARD && t < b - GUARD));
      if (busy.length >= 5) expect(busy.filter((x) => x.s === 'running').length / busy.length, `${r.name}: running during its own calls`).toBeGreaterThan(0.5);
    }
  }, LONG);
});
