/**
 * Seeded synthetic labels and filters for filtered benchmarks: each vector draws `perVector`
 * labels from a Zipf law over a vocabulary (a few labels common, most rare, as tags and
 * categories are), and a target selectivity picks per-query any-of filters whose passing sets
 * come close to it (one rare enough label, or a union of several for the broad targets).
 */
import { UserError } from '../errors.ts';
import { labelSetsFromRows, type LabelSets } from './labels.ts';
import { Postings, type AnyOfFilter } from './filter.ts';
import { makeRng } from './synthetic.ts';

export interface ZipfLabelSpec {
  /** Distinct labels (ids 0..vocabulary-1, id 0 the most common). */
  vocabulary: number;
  /** Draws per vector (repeats collapse, so some vectors carry fewer). */
  perVector: number;
  /** Zipf exponent s: P(label r) ~ 1 / (r + 1)^s. */
  exponent: number;
  seed: number;
}

export const DEFAULT_ZIPF_LABELS: ZipfLabelSpec = { vocabulary: 1000, perVector: 3, exponent: 1, seed: 7 };

export function zipfLabels(n: number, spec: Partial<ZipfLabelSpec> = {}): LabelSets {
  const s = { ...DEFAULT_ZIPF_LABELS, ...spec };
  if (!(Number.isInteger(s.vocabulary) && s.vocabulary >= 1 && Number.isInteger(s.perVector) && s.perVector >= 1 && s.exponent >= 0)) {
    throw new UserError(`synthetic labels: vocabulary and perVector must be positive integers and exponent >= 0, got ${s.vocabulary}, ${s.perVector}, ${s.exponent}`);
  }
  const cdf = new Float64Array(s.vocabulary);
  let acc = 0;
  for (let r = 0; r < s.vocabulary; r++) cdf[r] = acc += 1 / Math.pow(r + 1, s.exponent);
  const rng = makeRng(s.seed);
  const draw = (): number => {
    const u = rng.next() * acc;
    let lo = 0;
    let hi = s.vocabulary - 1;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (cdf[m] < u) lo = m + 1;
      else hi = m;
    }
    return lo;
  };
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) rows.push(Array.from({ length: s.perVector }, draw));
  return labelSetsFromRows(rows, 'synthetic labels');
}

export interface SelectivityFilters {
  /** One any-of filter per query (queries share a pool of distinct filters). */
  filters: AnyOfFilter[];
  /** Mean fraction of the base the queries' filters pass. */
  selectivity: number;
  /** Fewest vectors any query's filter passes. */
  minPassing: number;
}

/**
 * Per-query any-of filters of about `target` selectivity, each passing at least `minPassing`
 * vectors (k: every query has a full filtered top-k). A pool of up to `pool` distinct filters,
 * drawn at random per query. Single labels within a factor sqrt(2) of the target when there are
 * such; else unions of randomly chosen labels grown until they pass >= 0.9 x the target.
 */
export function selectivityFilters(labels: LabelSets, nq: number, target: number, opts: { seed?: number; minPassing?: number; pool?: number } = {}): SelectivityFilters {
  if (!(target > 0 && target <= 1)) throw new UserError(`filter selectivity: ${target} is not in (0, 1]`);
  const rng = makeRng(opts.seed ?? 11);
  const n = labels.n;
  const minPassing = opts.minPassing ?? 1;
  const T = Math.max(minPassing, target * n);
  if (T > n) throw new UserError(`filter selectivity ${target}: needs ${Math.ceil(T)} passing vectors but the base has ${n}`);
  const postings = new Postings(labels);
  const counts = [...postings.counts()].filter(([, c]) => c >= minPassing);
  const near = counts.filter(([, c]) => c >= T / Math.SQRT2 && c <= T * Math.SQRT2).map(([v]) => v);
  const poolSize = Math.max(1, Math.min(nq, opts.pool ?? 64));
  const pool: { f: AnyOfFilter; passing: number }[] = [];
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rng.next() * a.length)];
  if (near.length > 0) {
    for (let i = 0; i < poolSize; i++) {
      const v = pick(near);
      pool.push({ f: { anyOf: [v] }, passing: postings.of(v).length });
    }
  } else {
    const small = counts.filter(([, c]) => c <= T * 1.1).map(([v]) => v);
    if (small.length === 0) throw new UserError(`filter selectivity ${target}: no label passes between ${minPassing} and ${Math.round(T * 1.1)} vectors; use another label vocabulary`);
    const mark = new Uint8Array(n);
    for (let i = 0; i < poolSize; i++) {
      mark.fill(0);
      const order = small.slice();
      for (let j = order.length - 1; j > 0; j--) {
        const r = Math.floor(rng.next() * (j + 1));
        [order[j], order[r]] = [order[r], order[j]];
      }
      const chosen: number[] = [];
      let union = 0;
      for (const v of order) {
        const list = postings.of(v);
        if (union + list.length > T * 1.1 && union > 0) continue;
        chosen.push(v);
        for (const id of list) if (!mark[id]) (mark[id] = 1), union++;
        if (union >= 0.9 * T) break;
      }
      pool.push({ f: { anyOf: chosen.sort((a, b) => a - b) }, passing: union });
    }
  }
  const filters: AnyOfFilter[] = [];
  let sum = 0;
  let minP = Infinity;
  for (let q = 0; q < nq; q++) {
    const e = pick(pool);
    filters.push(e.f);
    sum += e.passing;
    minP = Math.min(minP, e.passing);
  }
  return { filters, selectivity: nq ? sum / nq / n : 0, minPassing: nq ? minP : 0 };
}
