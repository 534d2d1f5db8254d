/**
 * The autotune policy: a knob sampler that learns from results, with no LLM. The first proposals
 * of a stage are a seeded Latin hypercube over the manifest's knob table (unit cube; log knobs on
 * a log scale); after that a small TPE (tree-structured Parzen estimator, Bergstra et al. 2011):
 * the evaluated points are split into the best fifth and the rest, one Parzen density per knob
 * is fitted to each, and of candidates drawn around the good points the one maximising
 * l(x)/g(x) is proposed. Failed evaluations count among the bad points.
 *
 * Every proposal satisfies the module manifest's constraints (constraintSchema in
 * src/bundle/module-manifest.ts, evaluated by constraints.ts without a GPU): an invalid hypercube
 * point is repaired to a valid one near it, invalid TPE candidates are skipped, and when no
 * unevaluated valid setting is found the stage is reported exhausted with the reason (`propose`)
 * instead of spending an evaluation on a setting the kernel refuses at compile.
 *
 * Proposals are a pure function of (knobs, constraints, seed, index, history), so a resumed run
 * proposes exactly what the uninterrupted one would have.
 */
import { uniformStream } from '../graph/rng.ts';
import { violations, type ConstraintContext, type ConstraintSource } from './constraints.ts';
import { MODULE_NAMES, type Knob } from '../bundle/module-manifest.ts';
import { baselineManifest } from '../bundle/baseline.ts';


export interface Observation {
  knobValues: Record<string, number>;
  /** null: the evaluation failed. */
  reward: number | null;
}

export interface AutotuneOptions {
  seed: number;
  /** Proposal number within the stage (0-based, the starting point not counted). */
  index: number;
  /** Latin hypercube points before TPE takes over. */
  initial?: number;
  /** Fraction of the evaluated points that count as good (default 0.2). */
  gamma?: number;
  /** Candidates drawn per TPE proposal. */
  candidates?: number;
  /**
   * The manifest whose constraints every proposal satisfies. Default (undefined): the shipped
   * baseline manifest whose knob names are exactly those of `knobs` (a variant keeps its module's
   * knob names, modules.ts loadVariant), so the loop's proposals are checked without passing it;
   * null: no constraints.
   */
  manifest?: ConstraintSource | null;
  /** The adapter's workgroup-memory limit (default: the rule's, else the WebGPU core 16384) and the searched graph's degree. */
  constraintContext?: ConstraintContext;
}

const baselineByKnobs = new Map<string, ConstraintSource | null>();

/** The shipped baseline manifest declaring exactly these knob names, or null. */
export function baselineFor(knobs: readonly Knob[]): ConstraintSource | null {
  const names = knobs.map((k) => k.name).sort().join(',');
  if (!baselineByKnobs.has(names)) {
    const m = MODULE_NAMES.map((mod) => baselineManifest(mod)).find((b) => b.knobs.map((k) => k.name).sort().join(',') === names);
    baselineByKnobs.set(names, m ?? null);
  }
  return baselineByKnobs.get(names)!;
}

/** Seeded uniforms in [0, 1): the project's one mulberry32 (graph/rng.ts). */
export const rng = uniformStream;

function mix(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) h = Math.imul(h ^ (x >>> 0), 0x01000193) ^ (h >>> 13);
  return h >>> 0;
}

const isLog = (k: Knob) => k.scale === 'log' && k.min > 0;
const isPow2 = (x: number) => Number.isInteger(x) && x > 0 && (x & (x - 1)) === 0;
/**
 * An integer log-scale knob whose min, default and max are all powers of two (team size,
 * workgroup size, seeds) takes powers of two only: the kernels' divisibility rules (teamSize must
 * divide workgroupSize, a manifest constraint) then hold for most points instead of few, so
 * fewer candidates are discarded.
 */
export const powerOfTwoKnob = (k: Knob) => k.integer && isLog(k) && isPow2(k.min) && isPow2(k.max) && isPow2(k.default);

export function toUnit(k: Knob, v: number): number {
  if (k.max === k.min) return 0.5;
  const u = isLog(k) ? (Math.log(v) - Math.log(k.min)) / (Math.log(k.max) - Math.log(k.min)) : (v - k.min) / (k.max - k.min);
  return Math.min(1, Math.max(0, u));
}

export function fromUnit(k: Knob, u: number): number {
  const c = Math.min(1, Math.max(0, u));
  let v = isLog(k) ? Math.exp(Math.log(k.min) + c * (Math.log(k.max) - Math.log(k.min))) : k.min + c * (k.max - k.min);
  if (powerOfTwoKnob(k)) v = 2 ** Math.round(Math.log2(v));
  else if (k.integer) v = Math.round(v);
  return Math.min(k.max, Math.max(k.min, v));
}

export function defaults(knobs: readonly Knob[]): Record<string, number> {
  return Object.fromEntries(knobs.map((k) => [k.name, k.default]));
}

function key(knobs: readonly Knob[], x: Record<string, number>): string {
  return knobs.map((k) => x[k.name]).join(',');
}

/** n points of a Latin hypercube in [0,1]^d: each knob's range cut in n strata, one point per stratum. */
export function latinHypercube(n: number, d: number, rand: () => number): number[][] {
  const pts = Array.from({ length: n }, () => new Array<number>(d).fill(0));
  for (let j = 0; j < d; j++) {
    const perm = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const r = Math.floor(rand() * (i + 1));
      [perm[i], perm[r]] = [perm[r], perm[i]];
    }
    for (let i = 0; i < n; i++) pts[i][j] = (perm[i] + rand()) / n;
  }
  return pts;
}

function gauss(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** Log density of a 1-D Parzen mixture on [0,1] (Gaussians at the points, plus a uniform prior). */
function parzenLog(u: number, centres: number[], bw: number): number {
  const w = 1 / (centres.length + 1);
  let p = w; // uniform prior component
  for (const c of centres) p += (w * Math.exp(-0.5 * ((u - c) / bw) ** 2)) / (bw * Math.sqrt(2 * Math.PI));
  return Math.log(p);
}

/** Kernel width in unit space: narrows as a set grows (0.25 wide for one point, ~0.16 for ten). */
function bandwidth(n: number): number {
  return Math.max(0.05, 0.25 * n ** -0.3);
}

/** How many distinct settings the knob table has (Infinity with any continuous knob). */
export function gridSize(knobs: readonly Knob[]): number {
  return knobs.reduce((n, k) => n * (!k.integer ? Infinity : powerOfTwoKnob(k) ? Math.log2(k.max / k.min) + 1 : Math.floor(k.max) - Math.ceil(k.min) + 1), 1);
}

/** Every setting of an integer knob table, when there are at most `max` of them (else null). */
function enumerateGrid(knobs: readonly Knob[], max: number): Record<string, number>[] | null {
  if (gridSize(knobs) > max) return null;
  const axes = knobs.map((k) => {
    if (powerOfTwoKnob(k)) return Array.from({ length: Math.log2(k.max / k.min) + 1 }, (_, i) => k.min * 2 ** i);
    return Array.from({ length: Math.floor(k.max) - Math.ceil(k.min) + 1 }, (_, i) => Math.ceil(k.min) + i);
  });
  let out: Record<string, number>[] = [{}];
  knobs.forEach((k, j) => {
    out = out.flatMap((x) => axes[j].map((v) => ({ ...x, [k.name]: v })));
  });
  return out;
}

/** Small integer tables are enumerated to tell "every valid setting evaluated" exactly. */
const ENUMERATE_MAX = 4096;

/**
 * The next knob values to evaluate, or why there are none: every setting of a small integer table
 * evaluated, or no unevaluated setting satisfying the constraints found. `history` are this
 * stage's evaluated points (start included).
 */
export function propose(knobs: readonly Knob[], history: readonly Observation[], o: AutotuneOptions): { values: Record<string, number> } | { exhausted: string } {
  const d = knobs.length;
  if (d === 0) return { exhausted: 'the module has no knobs' };
  const initial = o.initial ?? Math.max(4, Math.min(8, d + 1));
  const seen = new Set(history.map((h) => key(knobs, h.knobValues)));
  const size = gridSize(knobs);
  if (seen.size >= size) return { exhausted: `every one of the ${size} settings has been evaluated` };
  const source = o.manifest === undefined ? baselineFor(knobs) : o.manifest;
  const rules = source?.constraints && source.constraints.length > 0 ? { ...source, knobs } : null;
  const valid = (x: Record<string, number>) => rules === null || violations(rules, x, o.constraintContext).length === 0;
  const fresh = (x: Record<string, number>) => !seen.has(key(knobs, x)) && valid(x);
  const grid = rules ? enumerateGrid(knobs, ENUMERATE_MAX) : null;
  const left = grid?.filter(fresh);
  if (grid && left!.length === 0) {
    const nValid = grid.filter(valid).length;
    return { exhausted: nValid === 0 ? `none of the ${grid.length} settings satisfies the manifest's constraints` : `every one of the ${nValid} settings satisfying the manifest's constraints (of ${grid.length}) has been evaluated` };
  }
  const rand = rng(mix(o.seed, o.index, 0x9e3779b9));
  const asValues = (u: number[]) => Object.fromEntries(knobs.map((k, j) => [k.name, fromUnit(k, u[j])]));

  if (o.index < initial) {
    // Same hypercube for every index of a stage (seeded by o.seed alone), one point each.
    const lhs = latinHypercube(initial, d, rng(mix(o.seed, 0x51ed27)));
    const x = asValues(lhs[o.index]);
    if (fresh(x)) return { values: x };
    if (!seen.has(key(knobs, x))) {
      // Outside the constraints: repair it to a valid point nearby (widening jitter), keeping the hypercube's spread.
      for (let t = 0; t < 64; t++) {
        const r = 0.05 + (0.5 * t) / 64;
        const y = asValues(lhs[o.index].map((m) => Math.min(1, Math.max(0, m + r * gauss(rand)))));
        if (fresh(y)) return { values: y };
      }
    }
  }

  const scored = history.map((h) => ({ u: knobs.map((k) => toUnit(k, h.knobValues[k.name] ?? k.default)), r: h.reward ?? -Infinity }));
  scored.sort((a, b) => b.r - a.r);
  const nGood = Math.max(1, Math.ceil((o.gamma ?? 0.2) * scored.filter((s) => s.r > -Infinity).length));
  const good = scored.slice(0, nGood);
  const bad = scored.slice(nGood);
  const bwL = bandwidth(good.length);
  const bwG = bandwidth(Math.max(1, bad.length));
  const nCand = o.candidates ?? 32;
  let best: { x: Record<string, number>; score: number } | undefined;
  for (let c = 0; c < nCand; c++) {
    const centre = good[Math.floor(rand() * good.length)]?.u ?? knobs.map(() => rand());
    const u = centre.map((m) => Math.min(1, Math.max(0, m + bwL * gauss(rand))));
    const x = asValues(u);
    if (!fresh(x)) continue;
    // Score the rounded point, so integer knobs are judged where they will really be evaluated.
    let score = 0;
    knobs.forEach((k, j) => {
      const uj = toUnit(k, x[k.name]);
      score += parzenLog(uj, good.map((g) => g.u[j]), bwL) - parzenLog(uj, bad.map((b) => b.u[j]), bwG);
    });
    if (!best || score > best.score) best = { x, score };
  }
  if (best) return { values: best.x };
  // Every candidate was already evaluated or invalid (a small or tightly constrained grid): uniform draws.
  const draws = rules ? 256 : 64;
  for (let t = 0; t < draws; t++) {
    const x = asValues(knobs.map(() => rand()));
    if (fresh(x)) return { values: x };
  }
  if (left && left.length > 0) return { values: left[Math.floor(rand() * left.length)] };
  if (rules) return { exhausted: `no unevaluated setting satisfying the manifest's constraints found in ${nCand} candidates and ${draws} uniform draws` };
  return { values: asValues(knobs.map(() => rand())) };
}

/**
 * The next knob values to evaluate (always satisfying the manifest's constraints), or null when
 * there are none (`propose` says why).
 */
export function proposeNext(knobs: readonly Knob[], history: readonly Observation[], o: AutotuneOptions): Record<string, number> | null {
  const r = propose(knobs, history, o);
  return 'values' in r ? r.values : null;
}

/** Uniform random proposals: the baseline autotune must beat. */
export function proposeRandom(knobs: readonly Knob[], o: { seed: number; index: number }): Record<string, number> {
  const rand = rng(mix(o.seed, o.index, 0x7f4a7c15));
  return Object.fromEntries(knobs.map((k) => [k.name, fromUnit(k, rand())]));
}

/**
 * Early stop: the last `patience` evaluations raised the best reward by less than `spread` (the
 * evaluator's self-vs-self spread), so further gains would not be distinguishable from noise.
 */
export function converged(rewards: readonly (number | null)[], spread: number, patience: number): boolean {
  if (rewards.length <= patience) return false;
  const best = (xs: readonly (number | null)[]) => xs.reduce<number>((m, r) => (r !== null && r > m ? r : m), -Infinity);
  const before = best(rewards.slice(0, rewards.length - patience));
  const after = best(rewards);
  if (before === -Infinity) return after === -Infinity && rewards.length > 2 * patience;
  return after - before < spread;
}
