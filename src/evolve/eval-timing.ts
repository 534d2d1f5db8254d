/**
 * Stage timing (docs/ARCHITECTURE.md "The reward"): each side's efforts planned by the bench's
 * interleaved sweep driver on shared fresh batches, then paired rounds on the efforts that shape
 * each AUC until the reward's interval is within `precision` or a cap is hit. Every query is used
 * once per side (the feed hands out fresh batches).
 */
import { UserError } from '../errors.ts';
import { MAX_ITOPK } from '../search/params.ts';
import { auc, DEFAULT_WINDOW } from '../bench/reward.ts';
import { SweepPlanner, shuffle, sweepInterleaved } from '../bench/sweep.ts';
import { MIN_INTERVAL_ROUNDS, formatInterval, pairedRatioInterval, relativePrecision, type RatioInterval } from '../bench/interval.ts';
import type { QueryBatch, QueryPool } from './query-pool.ts';
import type { PoolTruth } from './pool-truth.ts';
import { BaselineFault, StageFail } from './eval-system.ts';
import { planQps, rejectNoisy, relevantEfforts, sideCurve } from './eval-curves.ts';
import type { EvalSide } from './eval-side.ts';
import type { Resolved } from './eval-options.ts';

/** Fresh query batches from the pool, each handed out once; their truth computed as they are taken (pool-truth.ts). */
export class QueryFeed {
  readonly pool: QueryPool;
  private next: number;
  private readonly perCall: number;
  private readonly truth: PoolTruth | undefined;

  constructor(pool: QueryPool, start: number, perCall: number, truth?: PoolTruth) {
    this.pool = pool;
    this.next = start;
    this.perCall = perCall;
    this.truth = truth;
  }

  /** Whether `calls` more batches fit in the pool. */
  holds(calls: number): boolean {
    return this.next + calls * this.perCall <= this.pool.size;
  }

  async take(): Promise<QueryBatch> {
    if (this.truth) await this.pool.prepare(this.next + this.perCall, this.truth);
    const b = this.pool.batch(this.next, this.perCall);
    this.next += this.perCall;
    return b;
  }
}

export interface TimingResult {
  /** The reward's interval over the paired rounds; null when no round ran (the variant never reached the window). */
  iv: RatioInterval | null;
  /** The rounds stopped because the query pool ran out. */
  exhausted: boolean;
  /** The variant's planned curve reached the window (it has efforts to pair). */
  variantReachesWindow: boolean;
}

type Sides = readonly [baseline: EvalSide, variant: EvalSide];

export async function timeSides(sides: Sides, feed: QueryFeed, o: Resolved, rng: () => number, log: (line: string) => void, dsName: string): Promise<TimingResult> {
  const module = sides[1].mod.module;
  log(`${module}: planning the sweeps (${o.queriesPerCall} fresh queries per call)`);
  await planSweeps(sides, feed, o, rng, dsName);
  const variant = sides[1];
  for (const s of sides) rejectNoisy(s, o.queriesPerCall);
  checkAgreement(variant);
  const relevant = sides.map((s) => relevantEfforts(sideCurve(s, planQps)));
  if (relevant[0].length === 0) throw new BaselineFault(`baseline ${module}: its curve never reaches recall ${DEFAULT_WINDOW.lo} on ${dsName}`);
  for (const [i, side] of sides.entries()) for (const e of relevant[i]) await side.count(e);
  if (relevant[1].length === 0) return { iv: null, exhausted: false, variantReachesWindow: false };
  log(`${module}: paired rounds (efforts baseline ${relevant[0].join(',')}; variant ${relevant[1].join(',')})`);
  let rounds = 0;
  let exhausted = false;
  for (;;) {
    if (!feed.holds(Math.max(relevant[0].length, relevant[1].length))) {
      exhausted = true;
      break;
    }
    await pairedRound(sides, relevant, rounds++, feed, rng);
    for (const s of sides) rejectNoisy(s, o.queriesPerCall);
    const iv = roundsInterval(sides, rounds);
    if (iv) log(`${module}: round ${rounds}: reward ${formatInterval(iv)}`);
    // Narrow enough: no more rounds needed. (Never "stop once it excludes 1": looking after every
    // round for a side to come out on would make a 95% interval miss far more often than 5%.)
    if (iv && rounds >= Math.max(o.reps, MIN_INTERVAL_ROUNDS) && relativePrecision(iv) <= o.precision) break;
    if (rounds >= o.maxRounds) break;
  }
  checkAgreement(variant);
  // The rounds pool a point's recall over many batches, so a point can cross the window's edge (a
  // planning batch put effort 5 above 0.95, thirty rounds 0.939), leaving the work at 0.95 with no
  // counted point above it: count what the final curves need too (untimed, on the probe).
  for (const s of sides) for (const e of relevantEfforts(sideCurve(s, planQps))) if (!s.evaluations.has(e)) await s.count(e);
  return { iv: roundsInterval(sides, rounds), exhausted, variantReachesWindow: true };
}

/** More than half the variant's efforts rejected as noisy: its answers vary beyond sampling noise. */
function checkAgreement(variant: EvalSide): void {
  if (variant.rejected.size * 2 > variant.points.size) {
    throw new StageFail('timing', `repetitions disagree beyond sampling noise at ${variant.rejected.size} of ${variant.points.size} efforts (${[...variant.rejected].join(', ')})`);
  }
}

/**
 * The planners' sweeps through the interleaved driver: each step, both systems' next efforts are
 * warmed (untimed, in random order) and then timed on one shared fresh batch, in random order.
 */
async function planSweeps(sides: Sides, feed: QueryFeed, o: Resolved, rng: () => number, dsName: string): Promise<void> {
  const lanes = sides.map((side) => ({ side, planner: new SweepPlanner(o.efforts, { maxPoints: o.maxPoints, minEffort: 1, maxEffort: MAX_ITOPK, integer: true }) }));
  await sweepInterleaved(lanes, {
    rng,
    prepare: async (step) => {
      if (!feed.holds(1)) throw new UserError(`evaluate: ${dsName} holds ${feed.pool.size} distinct queries, too few for the sweep at ${o.queriesPerCall} per call; lower queriesPerCall or maxPoints`);
      for (const x of shuffle([...step], rng)) await x.lane.side.warm(x.effort);
      return await feed.take();
    },
    measure: async ({ lane: { side }, effort }, batch) => {
      const m = await side.timed(effort, batch);
      side.points.set(effort, { effort, recalls: [m.recall], perQuery: [...m.perQuery], planQps: m.qps, roundQps: new Map() });
      return { recall: m.recall, qps: m.qps };
    },
  });
}

/**
 * Paired round `r`: slot i pairs the baseline's i-th and the variant's i-th relevant effort on one
 * fresh batch, run back to back in random order; slots in random order.
 */
async function pairedRound(sides: Sides, relevant: number[][], r: number, feed: QueryFeed, rng: () => number): Promise<void> {
  const slots = Math.max(...relevant.map((x) => x.length));
  for (const i of shuffle(Array.from({ length: slots }, (_, j) => j), rng)) {
    const b = await feed.take();
    const pair = sides.map((side, s) => ({ side, effort: relevant[s][i] })).filter((x) => x.effort !== undefined);
    for (const x of shuffle(pair, rng)) {
      const m = await x.side.timed(x.effort, b);
      const p = x.side.points.get(x.effort)!;
      p.recalls.push(m.recall);
      p.perQuery.push(...m.perQuery);
      p.roundQps.set(r, m.qps);
    }
  }
}

/** The interval of the per-round AUC ratios (recall pooled over every batch; each round's own QPS). */
function roundsInterval(sides: Sides, rounds: number): RatioInterval | null {
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const [b, v] = sides.map((s) => auc(sideCurve(s, (p) => p.roundQps.get(r))));
    if (!(b > 0)) return null;
    // A round where the variant's points all fell out of the window: a ratio of 0 has no log.
    ratios.push(Math.max(v / b, 1e-6));
  }
  return ratios.length ? pairedRatioInterval(ratios) : null;
}
