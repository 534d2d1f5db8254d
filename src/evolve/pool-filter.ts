/**
 * A filtered evaluation (docs/ARCHITECTURE.md "The evaluator"): a dataset setting, not a new reward.
 * The base carries labels (the dataset's own, else seeded Zipf labels, src/data/synthetic-labels.ts);
 * the parent draws one any-of filter of about the target selectivity for every query of the pool
 * (seeded, each passing at least k rows, so every query has a full filtered top-k and every -1 a
 * search returns costs recall). Truth is the k-th distance among the passing rows (pool-truth.ts);
 * each search call carries its batch's filters; the parent checks that every returned id passes.
 */
import { UserError } from '../errors.ts';
import type { Dataset } from '../data/types.ts';
import type { LabelSets } from '../data/labels.ts';
import { bitmapWords, passesFilter, Postings, type QueryFilter } from '../data/filter.ts';
import { selectivityFilters, zipfLabels, type ZipfLabelSpec } from '../data/synthetic-labels.ts';

/** EvaluateOptions.filter: the target selectivity and, without labels of the dataset's own, the synthetic labels' spec. */
export interface FilterSetting {
  /** Mean fraction of the base each query's filter passes, in (0, 1]. */
  selectivity: number;
  labels?: Partial<ZipfLabelSpec>;
}

/** The filter of every query of the pool, and the passing rows of each distinct filter (cached). */
export class PoolFilters {
  readonly labels: LabelSets;
  /** Measured mean selectivity over the pool's queries. */
  readonly selectivity: number;
  readonly description: string;
  private readonly filters: readonly QueryFilter[];
  private readonly postings: Postings;
  private readonly passingOf = new Map<QueryFilter, Uint32Array>();
  private readonly bitmapOf = new Map<QueryFilter, Uint32Array>();

  constructor(labels: LabelSets, filters: readonly QueryFilter[], selectivity: number, description: string) {
    this.labels = labels;
    this.filters = filters;
    this.selectivity = selectivity;
    this.description = description;
    this.postings = new Postings(labels);
  }

  /** Query i's filter (the pool's index). */
  of(i: number): QueryFilter {
    const f = this.filters[i];
    if (f === undefined) throw new RangeError(`pool filters: no filter for query ${i} (${this.filters.length} drawn)`);
    return f;
  }

  /** The ascending ids `f` passes. */
  passing(f: QueryFilter): Uint32Array {
    let ids = this.passingOf.get(f);
    if (!ids) this.passingOf.set(f, (ids = this.postings.passing(f as Exclude<QueryFilter, { bitmap: Uint32Array }>)!));
    return ids;
  }

  /** `f` as a bitmap over the base's ids (the GPU truth's mask). */
  bitmap(f: QueryFilter): Uint32Array {
    let b = this.bitmapOf.get(f);
    if (!b) {
      b = new Uint32Array(bitmapWords(this.labels.n));
      for (const i of this.passing(f)) b[i >>> 5] |= 1 << (i & 31);
      this.bitmapOf.set(f, b);
    }
    return b;
  }

  passes(f: QueryFilter, id: number): boolean {
    return passesFilter(f, this.labels, id);
  }
}

/** Checks a filter setting at the boundary (a one-line error naming `where`). */
export function checkFilterSetting(s: FilterSetting, where = 'filter'): FilterSetting {
  if (typeof s !== 'object' || s === null || !(typeof s.selectivity === 'number' && s.selectivity > 0 && s.selectivity <= 1)) {
    throw new UserError(`${where}: selectivity must be a fraction in (0, 1], got ${String((s as FilterSetting | null)?.selectivity)}`);
  }
  return s;
}

/** A command line's one selectivity (`crinn evaluate|optimize --filter-selectivity 0.1`). */
export function parseFilterSelectivity(value: string, flag = '--filter-selectivity'): number {
  const t = value.trim();
  const v = /^(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(t) ? Number(t) : NaN;
  if (!(v > 0 && v <= 1)) throw new UserError(`${flag}: expected one fraction in (0, 1], e.g. 0.1; got '${value}'`);
  return v;
}

/**
 * The pool's filters for an evaluation: labels from the dataset (Dataset.filter) or Zipf labels
 * (their own seed: the labels are the dataset's, the same in every evaluation of a run), then
 * `size` filters drawn from the evaluation's seed.
 */
export function poolFiltersFor(ds: Dataset, setting: FilterSetting, k: number, seed: number, size: number): PoolFilters {
  checkFilterSetting(setting);
  const labels = ds.filter?.labels ?? zipfLabels(ds.base.n, setting.labels);
  const drawn = selectivityFilters(labels, size, setting.selectivity, { seed, minPassing: k });
  const source = ds.filter ? 'the dataset\'s labels' : `Zipf labels${setting.labels ? ` ${JSON.stringify(setting.labels)}` : ''}`;
  return new PoolFilters(labels, drawn.filters, drawn.selectivity, `selectivity ${setting.selectivity} (measured ${drawn.selectivity.toPrecision(3)}, fewest passing ${drawn.minPassing}; ${source})`);
}

/**
 * The correctness probe's effort under a filter: a filtered beam finds passing rows among the rows
 * it visits, so the same recall takes more effort as the selectivity falls (siftsmall-5k at 0.1,
 * the baseline: recall 0.84 at itopk 16, 0.95 at 32). The probe checks correctness at a generous
 * effort, so it is raised by 1 / sqrt(selectivity) (16 -> 51 at 0.1), at most the largest itopk.
 */
export function probeEffortUnder(effort: number, filters: PoolFilters | undefined, maxEffort: number): number {
  if (!filters || filters.selectivity >= 1) return effort;
  return Math.min(maxEffort, Math.max(effort, Math.ceil(effort / Math.sqrt(filters.selectivity))));
}

/** A batch's filters as a search call carries them: each distinct filter once, and per query its index. */
export interface FilterPayload {
  distinct: QueryFilter[];
  of: Uint32Array;
}

export function filterPayload(filters: readonly QueryFilter[]): FilterPayload {
  const index = new Map<QueryFilter, number>();
  const distinct: QueryFilter[] = [];
  const of = Uint32Array.from(filters, (f) => {
    let i = index.get(f);
    if (i === undefined) index.set(f, (i = distinct.push(f) - 1));
    return i;
  });
  return { distinct, of };
}
