/**
 * Filtered benchmarks (`crinn bench --filter-selectivity 0.5,0.1,0.01,0.001`): seeded Zipf labels
 * on the base (src/data/synthetic-labels.ts), then for each target selectivity one filter per
 * query and one ordinary bench run over the filtered dataset (filtered ground truth on the GPU,
 * recall counting passing ids only, the same filters for every system): one curve per
 * selectivity. Each system is built once, with the labels, and serves every selectivity.
 */
import { UserError, oneLine } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import { selectivityFilters, zipfLabels, type ZipfLabelSpec } from '../data/synthetic-labels.ts';
import { runBench, type RunBenchOptions } from './run.ts';
import type { BenchResult } from './schema.ts';
import { PeerUnavailableError, type BenchSystem, type BuildInfo } from './bench-system.ts';
import { createSystem } from './systems.ts';

export interface FilteredBenchOptions extends RunBenchOptions {
  /** Target selectivities, each in (0, 1]. */
  selectivities: readonly number[];
  /** The synthetic labels (vocabulary, draws per vector, exponent; seed defaults to the bench seed). */
  labels?: Partial<ZipfLabelSpec>;
}

export function parseSelectivities(value: string, flag = '--filter-selectivity'): number[] {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new UserError(`${flag}: expected a comma-separated list of fractions in (0, 1], e.g. 0.5,0.1,0.01,0.001`);
  return parts.map((p) => {
    const v = /^(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(p) ? Number(p) : NaN;
    if (!(v > 0 && v <= 1)) throw new UserError(`${flag}: '${p}' is not a fraction in (0, 1]`);
    return v;
  });
}

/** Builds once (the first call's dataset carries the labels), closes only when the caller says. */
function buildOnce(s: BenchSystem): BenchSystem {
  let built: Promise<BuildInfo> | undefined;
  return { ...s, build: (ds) => (built ??= s.build(ds)), close: async () => {} };
}

export async function runFilteredBench(o: FilteredBenchOptions): Promise<BenchResult[]> {
  const ds = o.dataset;
  const k = o.k ?? 10;
  if (o.selectivities.length === 0) throw new UserError('filtered bench: no selectivities');
  for (const s of o.selectivities) if (!(s > 0 && s <= 1)) throw new UserError(`filtered bench: selectivity ${s} is not in (0, 1]`);
  const seed = o.seed ?? 1;
  const labels = zipfLabels(ds.base.n, { seed, ...o.labels });
  // Filters first: an unreachable selectivity fails before any build.
  const drawn = o.selectivities.map((sel) => ({ sel, ...selectivityFilters(labels, ds.queries.n, sel, { seed: seed + 1, minPassing: k }) }));
  // One GPU context for the systems across all runs (runBench destroys the contexts it opens itself).
  let ctx: Promise<GpuContext> | undefined;
  const gpu = () => (ctx ??= (o.ctxProvider ?? (() => Promise.reject(new Error('no GPU provider given (ctxProvider)'))))());
  const owned: BenchSystem[] = [];
  const systems: (string | BenchSystem)[] = [];
  try {
    for (const s of o.systems) {
      if (typeof s !== 'string') {
        systems.push(buildOnce(s));
        continue;
      }
      try {
        const sys = await createSystem(s, { gpu }, { seed, ...o.systemOptions?.[s] });
        owned.push(sys);
        systems.push(buildOnce(sys));
      } catch (err) {
        // Unavailable here: runBench records it (as it does unfiltered) when it creates it again.
        if (!(err instanceof PeerUnavailableError)) throw err;
        o.onProgress?.({ type: 'error', system: s, error: oneLine(err) });
        systems.push(s);
      }
    }
    const results: BenchResult[] = [];
    for (const d of drawn) {
      const description = `selectivity ${d.sel} (measured ${d.selectivity.toPrecision(3)}, fewest passing ${d.minPassing}; Zipf labels seed ${seed})`;
      const dataset = { ...ds, name: `${ds.name} [filter ${d.sel}]`, groundTruth: undefined, filter: { labels, filters: d.filters, description } };
      results.push(await runBench({ ...o, dataset, systems }));
    }
    return results;
  } finally {
    for (const s of owned) await s.close().catch(() => {});
    if (ctx) (await ctx.catch(() => undefined))?.destroy();
  }
}
