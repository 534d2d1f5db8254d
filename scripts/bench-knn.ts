/**
 * Exact-kNN throughput: this project's GpuBruteForce vs usearch's exact search (SIMD, all cores)
 * vs a plain TypeScript loop, on siftsmall and synthetic-100k at k = 10 and 100. A benchmark, not a
 * test: prints queries/s and GFLOP/s (2 * nq * n * dim flops per batch) as the median of >= 5
 * timed calls after a warm-up, the ratio ours/usearch, and how many of our ids the TS loop
 * disagrees with (distance-aware, so equal-distance ties do not count).
 *
 *   node scripts/bench-knn.ts [--datasets siftsmall,synthetic-100k] [--ks 10,100] [--reps 5]
 *                             [--max-queries 200] [--loop-queries 20] [--adapter TEXT] [--backend vulkan]
 *
 * Datasets come from $CRINN_DATA_DIR, else ../shared/datasets beside the checkout.
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { GpuBruteForce } from '../src/data/exact-knn.ts';
import { loadDataset } from '../src/data/resolve.ts';
import type { Dataset, VectorSet } from '../src/data/types.ts';
import { openGpu, type GpuContext } from '../src/gpu/device.ts';
import { parseBackend } from '../src/gpu/adapters.ts';
import { measureMedian } from '../src/bench/stats.ts';
import { recallAtK } from '../src/bench/recall.ts';
import { formatTable } from '../src/bench/table.ts';
import { bruteForceSearch } from '../src/bench/peers/bruteforce.ts';
import { loadUsearch, usearchMetric, wholeBuffer, matchesToIds, type UsearchModule } from '../src/bench/peers/usearch.ts';
import { packageVersion } from '../src/bench/bench-system.ts';
import { oneLine } from '../src/errors.ts';

const { values: args } = parseArgs({
  options: {
    datasets: { type: 'string', default: 'siftsmall,synthetic-100k' },
    ks: { type: 'string', default: '10,100' },
    reps: { type: 'string', default: '5' },
    'loop-queries': { type: 'string', default: '20' },
    'max-queries': { type: 'string', default: '200' },
    adapter: { type: 'string' },
    backend: { type: 'string' },
  },
});
const reps = Math.max(5, Number(args.reps));
const ks = args.ks.split(',').map(Number);
const loopQueries = Math.max(1, Number(args['loop-queries']));
// A 2-core software adapter does ~1 GFLOP/s: 1000 queries on 100k x 128 would take minutes per call.
const maxQueries = Math.max(1, Number(args['max-queries']));
const dataDir = process.env.CRINN_DATA_DIR ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared/datasets');

function rows(set: VectorSet, count: number): VectorSet {
  const n = Math.min(count, set.n);
  return { data: set.data.slice(0, n * set.dim), n, dim: set.dim };
}

interface Row {
  dataset: string;
  k: number;
  system: string;
  nq: number;
  seconds: number;
  qps: number;
  gflops: number;
  note: string;
}

async function timed(fn: () => unknown): Promise<number> {
  return (await measureMedian(fn, { reps, warmup: 1 })).median;
}

function row(ds: Dataset, k: number, system: string, nq: number, seconds: number, note = ''): Row {
  const flops = 2 * nq * ds.base.n * ds.base.dim;
  return { dataset: ds.name, k, system, nq, seconds, qps: nq / seconds, gflops: flops / seconds / 1e9, note };
}

/** Our ids that the TS loop's distances do not support (distance-aware mismatches) and plain id differences. */
function compare(ds: Dataset, sub: VectorSet, k: number, ours: Int32Array, loop: { ids: Int32Array; distances?: Float32Array }): { mismatches: number; idDiffs: number } {
  const kth = new Float32Array(sub.n);
  for (let q = 0; q < sub.n; q++) kth[q] = loop.distances![q * k + k - 1];
  const { perQuery } = recallAtK({ ids: ours, nq: sub.n, k }, ds.base, sub, ds.metric, kth, k);
  let mismatches = 0;
  for (const r of perQuery) mismatches += Math.round((1 - r) * k);
  let idDiffs = 0;
  for (let i = 0; i < sub.n * k; i++) if (ours[i] !== loop.ids[i]) idDiffs++;
  return { mismatches, idDiffs };
}

async function benchDataset(name: string, ctx: GpuContext, usearch: UsearchModule | undefined, out: Row[], checks: string[]): Promise<void> {
  const ds = await loadDataset(name, { dataDir, queries: maxQueries });
  const { base, queries } = ds;
  process.stderr.write(`${name}: n=${base.n} dim=${base.dim} nq=${queries.n} ${ds.metric}\n`);
  const bf = new GpuBruteForce(ctx, base, ds.metric);
  try {
    for (const k of ks) {
      let ours: Int32Array | undefined;
      const tGpu = await timed(async () => {
        ours = (await bf.search(queries, k)).ids;
      });
      out.push(row(ds, k, 'ours (GpuBruteForce)', queries.n, tGpu));

      let theirs: Int32Array | undefined;
      if (usearch) {
        const b = wholeBuffer(base.data);
        const q = wholeBuffer(queries.data);
        const threads = os.availableParallelism();
        const t = await timed(() => {
          theirs = matchesToIds(usearch.exactSearch(b, q, base.dim, k, usearchMetric(ds.metric), threads), queries.n, k);
        });
        out.push(row(ds, k, `usearch exactSearch (${threads} threads)`, queries.n, t));
      }

      const sub = rows(queries, Math.min(queries.n, loopQueries));
      let loop: ReturnType<typeof bruteForceSearch> | undefined;
      const tLoop = await timed(() => {
        loop = bruteForceSearch(base, sub, k, ds.metric);
      });
      out.push(row(ds, k, 'TypeScript loop (1 thread)', sub.n, tLoop, sub.n < queries.n ? `first ${sub.n} queries` : ''));
      const c = compare(ds, sub, k, ours!.subarray(0, sub.n * k), loop!);
      checks.push(`${name} k=${k}: ours vs TS loop on ${sub.n} queries: ${c.mismatches} distance-aware mismatches (${c.idDiffs} id positions differ, ties included)`);
      if (theirs) {
        const u = compare(ds, sub, k, theirs.subarray(0, sub.n * k), loop!);
        checks.push(`${name} k=${k}: usearch vs TS loop on ${sub.n} queries: ${u.mismatches} distance-aware mismatches`);
      }
    }
  } finally {
    bf.destroy();
  }
}

function render(out: Row[]): string {
  const body = out.map((r) => {
    const us = out.find((x) => x.dataset === r.dataset && x.k === r.k && x.system.startsWith('usearch'));
    const ratio = r.system.startsWith('ours') && us ? (r.qps / us.qps).toFixed(2) : '';
    return [r.dataset, String(r.k), r.system, String(r.nq), r.seconds.toFixed(4), Math.round(r.qps).toLocaleString('en-US'), r.gflops.toFixed(2), ratio, r.note];
  });
  return formatTable(['dataset', 'k', 'system', 'nq', 'median s', 'queries/s', 'GFLOP/s', 'ours/usearch', 'note'], body, ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'l']);
}

const loadAtStart = os.loadavg()[0].toFixed(2);
const ctx = await openGpu({ adapter: args.adapter, backend: args.backend ? parseBackend(args.backend) : undefined });
let code = 0;
try {
  let usearch: UsearchModule | undefined;
  try {
    usearch = await loadUsearch();
  } catch (err) {
    process.stderr.write(`${oneLine(err)}; skipping the usearch rows\n`);
  }
  const out: Row[] = [];
  const checks: string[] = [];
  for (const name of args.datasets.split(',')) await benchDataset(name, ctx, usearch, out, checks);
  console.log(`exact kNN on ${ctx.adapter.name} [${ctx.adapter.description}], ${os.availableParallelism()} CPU threads (${os.cpus()[0]?.model ?? 'unknown CPU'}), usearch ${packageVersion('usearch') ?? 'absent'}, node ${process.version}; median of ${reps} reps after a warm-up; load average at start ${loadAtStart}, at end ${os.loadavg()[0].toFixed(2)} (other processes skew CPU-side numbers)\n`);
  console.log(render(out));
  console.log('');
  for (const c of checks) console.log(c);
} catch (err) {
  process.stderr.write(`bench-knn: ${oneLine(err)}\n`);
  code = 1;
} finally {
  ctx.destroy();
}
// Dawn keeps native threads alive; exit explicitly.
process.stdout.write('', () => process.exit(code));
