/**
 * Effort sweeps, independent of the engine: measure an initial list of search-effort values, then
 * add points until the recall window is covered by at least `minInWindow` of them. The planning is
 * a small state machine (SweepPlanner) so that several systems can be swept interleaved by one
 * driver (sweepInterleaved, used by `crinn bench` and the evaluator): one point each per step in a
 * shuffled order, so machine drift hits all alike.
 */
import { UserError, oneLine } from '../errors.ts';
import { uniformStream } from '../graph/rng.ts';

export interface Measurement {
  recall: number;
  qps: number;
  /** Per-repetition seconds, kept for the result file. */
  seconds?: number[];
  /** Mean distance evaluations per query, when the system can count them. */
  evaluations?: number;
  /** Mean bytes of base rows read per query, when the system can count them. */
  bytesRead?: number;
  /** Per-call latency percentiles in ms, when the queries went in batches (bench/batches.ts). */
  latencyMs?: { p50: number; p95: number; p99: number };
}

export interface SweepPoint {
  effort: number;
  recall: number;
  qps: number;
  seconds: number[];
  evaluations?: number;
  bytesRead?: number;
  latencyMs?: { p50: number; p95: number; p99: number };
}

export interface SweepOptions {
  lo?: number;
  hi?: number;
  /** Stop refining once this many points lie inside [lo, hi]. */
  minInWindow?: number;
  /** Hard cap on measured points, initial list included. */
  maxPoints?: number;
  /** Lowest effort tried (default 1). */
  minEffort?: number;
  /** Highest effort tried (default 4096); set it to what the engine accepts (e.g. its itopk limit). */
  maxEffort?: number;
  /** Efforts are integers (ef, itopk); bisection stops when no new integer fits. */
  integer?: boolean;
}

export interface SweepResult {
  /** Sorted by effort. */
  points: SweepPoint[];
  /** Whether any point reached recall >= lo. */
  reachedWindow: boolean;
  /** Points with lo <= recall <= hi. */
  inWindow: number;
}

type ResolvedOptions = Required<SweepOptions>;

function resolve(opts: SweepOptions): ResolvedOptions {
  const r: ResolvedOptions = {
    lo: opts.lo ?? 0.85,
    hi: opts.hi ?? 0.95,
    minInWindow: opts.minInWindow ?? 3,
    maxPoints: opts.maxPoints ?? 40,
    minEffort: opts.minEffort ?? 1,
    maxEffort: opts.maxEffort ?? 4096,
    integer: opts.integer ?? true,
  };
  if (!(r.lo < r.hi)) throw new UserError(`sweep: window must satisfy lo < hi, got [${r.lo}, ${r.hi}]`);
  if (!(r.minEffort > 0 && r.minEffort <= r.maxEffort)) throw new UserError(`sweep: need 0 < minEffort <= maxEffort, got ${r.minEffort}, ${r.maxEffort}`);
  if (!(r.maxPoints >= 1)) throw new UserError(`sweep: maxPoints must be >= 1, got ${r.maxPoints}`);
  return r;
}

/** Decides the next effort to measure from the points measured so far. */
export class SweepPlanner {
  readonly opts: ResolvedOptions;
  private readonly initial: number[];
  private readonly measured = new Map<number, SweepPoint>();

  constructor(efforts: readonly number[], opts: SweepOptions = {}) {
    this.opts = resolve(opts);
    const clean = efforts.map((e) => {
      if (!Number.isFinite(e)) throw new UserError(`sweep: effort ${e} is not a finite number`);
      return this.clamp(this.opts.integer ? Math.round(e) : e);
    });
    this.initial = [...new Set(clean)].sort((a, b) => a - b);
    if (this.initial.length === 0) this.initial.push(this.opts.minEffort);
  }

  private clamp(e: number): number {
    const { minEffort, maxEffort, integer } = this.opts;
    const lo = integer ? Math.ceil(minEffort) : minEffort;
    const hi = integer ? Math.floor(maxEffort) : maxEffort;
    return Math.min(hi, Math.max(lo, e));
  }

  /** Sorted by effort. */
  points(): SweepPoint[] {
    return [...this.measured.values()].sort((a, b) => a.effort - b.effort);
  }

  record(effort: number, m: Measurement): SweepPoint {
    if (!(Number.isFinite(m.recall) && m.recall >= 0 && m.recall <= 1)) throw new Error(`sweep: effort ${effort} measured recall ${m.recall}, expected a number in [0, 1]`);
    if (!(Number.isFinite(m.qps) && m.qps >= 0)) throw new Error(`sweep: effort ${effort} measured QPS ${m.qps}, expected a finite number >= 0`);
    const p: SweepPoint = { effort, recall: m.recall, qps: m.qps, seconds: m.seconds ? [...m.seconds] : [] };
    if (m.evaluations !== undefined) {
      if (!(Number.isFinite(m.evaluations) && m.evaluations >= 0)) throw new Error(`sweep: effort ${effort} counted ${m.evaluations} evaluations per query, expected a finite number >= 0`);
      p.evaluations = m.evaluations;
    }
    if (m.bytesRead !== undefined && Number.isFinite(m.bytesRead) && m.bytesRead >= 0) p.bytesRead = m.bytesRead;
    if (m.latencyMs) p.latencyMs = { ...m.latencyMs };
    this.measured.set(effort, p);
    return p;
  }

  private inWindow(): number {
    let c = 0;
    for (const p of this.measured.values()) if (p.recall >= this.opts.lo && p.recall <= this.opts.hi) c++;
    return c;
  }

  /** A new effort strictly between a and b (a < b), or null when none is left. */
  private between(a: number, b: number): number | null {
    if (this.opts.integer) {
      if (b - a < 2) return null;
      // Geometric midpoint: effort lists are log-spaced and recall saturates with effort.
      const m = Math.round(Math.sqrt(a * b));
      return Math.min(b - 1, Math.max(a + 1, m));
    }
    const m = Math.sqrt(a * b);
    const eps = 1e-9 * Math.max(1, Math.abs(b));
    return m - a > eps && b - m > eps ? m : null;
  }

  /** The next effort to measure, or null when the sweep is complete. */
  next(): number | null {
    for (const e of this.initial) if (!this.measured.has(e)) return e;
    const { lo, hi, minInWindow, maxPoints } = this.opts;
    const pts = this.points();
    if (pts.length >= maxPoints) return null;
    const emin = this.clamp(-Infinity);
    const emax = this.clamp(Infinity);
    const first = pts[0];
    const last = pts[pts.length - 1];
    const maxRecall = Math.max(...pts.map((p) => p.recall));
    const minRecall = Math.min(...pts.map((p) => p.recall));

    // Below the window's top (or never reaching it): raise effort geometrically.
    if (maxRecall < hi && last.effort < emax) {
      const up = this.clamp(this.opts.integer ? Math.max(last.effort + 1, Math.ceil(last.effort * 2)) : last.effort * 2);
      if (!this.measured.has(up)) return up;
    }
    // Everything above the window's bottom: lower effort so the window's low end has real points.
    if (minRecall > lo && first.effort > emin) {
      const down = this.clamp(this.opts.integer ? Math.min(first.effort - 1, Math.floor(first.effort / 2)) : first.effort / 2);
      if (!this.measured.has(down)) return down;
    }
    if (this.inWindow() >= minInWindow) return null;

    // Bisect the adjacent pair whose recall range overlaps the window most; ties: wider effort gap.
    let best: { effort: number; overlap: number; gap: number } | null = null;
    for (let i = 1; i < pts.length; i++) {
      const a = pts[i - 1];
      const b = pts[i];
      const rlo = Math.min(a.recall, b.recall);
      const rhi = Math.max(a.recall, b.recall);
      if (rhi < lo || rlo > hi) continue;
      const mid = this.between(a.effort, b.effort);
      if (mid === null) continue;
      const overlap = Math.min(rhi, hi) - Math.max(rlo, lo);
      const gap = b.effort / a.effort;
      if (!best || overlap > best.overlap || (overlap === best.overlap && gap > best.gap)) best = { effort: mid, overlap, gap };
    }
    return best ? best.effort : null;
  }

  result(): SweepResult {
    const points = this.points();
    return {
      points,
      reachedWindow: points.some((p) => p.recall >= this.opts.lo),
      inWindow: this.inWindow(),
    };
  }
}

/** One system's sweep in an interleaved run: its planner, and the error that stopped it. */
export interface SweepLane {
  readonly planner: SweepPlanner;
  /** Set when a measurement threw and `onError` kept the run going: this lane measures no more. */
  error?: string;
}

/** One measurement of a step: a lane and the effort its planner chose. */
export interface SweepStep<L extends SweepLane> {
  lane: L;
  effort: number;
}

export interface InterleaveOptions<L extends SweepLane, B> {
  /** Draws every measurement order (values in [0, 1)); seed it for a reproducible run. */
  rng: () => number;
  /**
   * Once per step, after every live lane has chosen its effort and before any is measured: what the
   * step's measurements share (the evaluator: warm-ups in their own order, one fresh query batch).
   * Gets the step in lane order; may draw from `rng`.
   */
  prepare?: (step: readonly SweepStep<L>[]) => Promise<B>;
  measure: (item: SweepStep<L>, shared: B) => Promise<Measurement>;
  onPoint?: (point: SweepPoint, item: SweepStep<L>) => void;
  /**
   * A measurement threw: return to stop that lane (its `error` is set, the others go on), or throw
   * to abort the run. Absent: the error aborts the run.
   */
  onError?: (error: unknown, item: SweepStep<L>) => void;
}

/**
 * The interleaved sweep driver (`crinn bench` and the evaluator's plan): each step, every live lane's
 * planner picks its next effort; the step is prepared once, then measured in an order shuffled by
 * `rng`, each result recorded in its lane's planner. Ends when no planner has an effort left.
 */
export async function sweepInterleaved<L extends SweepLane, B = void>(lanes: readonly L[], o: InterleaveOptions<L, B>): Promise<void> {
  for (;;) {
    const step: SweepStep<L>[] = [];
    for (const lane of lanes) {
      if (lane.error !== undefined) continue;
      const effort = lane.planner.next();
      if (effort !== null) step.push({ lane, effort });
    }
    if (step.length === 0) return;
    const shared = o.prepare ? await o.prepare([...step]) : (undefined as B);
    for (const item of shuffle(step, o.rng)) {
      try {
        const point = item.lane.planner.record(item.effort, await o.measure(item, shared));
        o.onPoint?.(point, item);
      } catch (err) {
        if (!o.onError) throw err;
        item.lane.error = `effort ${item.effort}: ${oneLine(err)}`;
        o.onError(err, item);
      }
    }
  }
}

/** One system's sweep (no interleaving); a failing measurement rejects. */
export async function runSweep(opts: SweepOptions & { efforts: number[]; measure: (effort: number) => Promise<Measurement>; onPoint?: (point: SweepPoint) => void }): Promise<SweepResult> {
  const lane: SweepLane = { planner: new SweepPlanner(opts.efforts, opts) };
  await sweepInterleaved([lane], { rng: () => 0, measure: (x) => opts.measure(x.effort), onPoint: (p) => opts.onPoint?.(p) });
  return lane.planner.result();
}

/** Fisher-Yates in place. */
export function shuffle<T>(xs: T[], rng: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = xs[i];
    xs[i] = xs[j];
    xs[j] = t;
  }
  return xs;
}

/** A small seeded PRNG (mulberry32) for reproducible measurement orders. */
export const seededRng = uniformStream;
