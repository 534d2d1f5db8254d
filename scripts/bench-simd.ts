/**
 * Graph-build time with the SIMD kernels assembled from src/graph/simd-kernels.wat ("new") against
 * the hand-assembled module it replaced ("old", scripts/bench-simd/old-kernels.ts), swapped in by
 * a resolve hook (scripts/bench-simd/hook.ts) that the "new" children load too, as a no-op, so
 * both pay its cost. A benchmark, not a test.
 *
 *   node scripts/bench-simd.ts [--datasets siftsmall-5k,glove-50-5k] [--threads 1,2] [--reps 5] [--blocks 41]
 *
 * Two parts:
 * 1. Kernels: both modules instantiated in this process over one arena, the dataset's distance
 *    kernel timed in alternating blocks (each block scores every base vector against 50
 *    queries): ns per distance, median over blocks, and whether old and new outputs are
 *    bit-identical.
 * 2. Builds: each buildGraph runs in a fresh child process (so neither variant inherits the
 *    other's JIT state), old and new alternate within every rep, and which goes first alternates
 *    between reps. Reported, as medians over reps: wall seconds, CPU seconds (all threads) and
 *    the wall seconds of the kernel-heavy phases (NN-descent kNN + prune; the rest is worker
 *    start-up, ordering, entry points); and the graphs' hashes (threads = 1 builds are
 *    deterministic: old and new must agree there).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from '../src/bench/stats.ts';

const SELF = fileURLToPath(import.meta.url);
const HOOK = fileURLToPath(new URL('./bench-simd/hook.ts', import.meta.url));

interface ChildResult {
  variant: string;
  seconds: number;
  cpu: number;
  knn: number;
  prune: number;
  graph: string;
}

async function child(dataset: string, threads: number): Promise<void> {
  const kernels = await import('../src/graph/simd-kernels.ts');
  const { loadDataset } = await import('../src/data/resolve.ts');
  const { buildGraph } = await import('../src/graph/build.ts');
  const ds = await loadDataset(dataset);
  const cpu0 = process.cpuUsage();
  const r = await buildGraph(ds.base, ds.metric, { threads }, { quiet: true });
  const cpu = process.cpuUsage(cpu0);
  const out: ChildResult = {
    variant: 'kernelModuleBytes' in kernels ? 'old' : 'new',
    seconds: r.stats.seconds,
    cpu: (cpu.user + cpu.system) / 1e6,
    knn: r.stats.phases.knn ?? 0,
    prune: r.stats.phases.prune ?? 0,
    graph: createHash('sha256').update(r.graph.neighbors).digest('hex').slice(0, 12),
  };
  console.log(JSON.stringify(out));
}

function run(variant: 'old' | 'new', dataset: string, threads: number): ChildResult {
  const args = ['--import', HOOK, SELF, '--child', dataset, String(threads)];
  const p = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, BENCH_SIMD_KERNELS: variant } });
  if (p.status !== 0) throw new Error(`${variant} ${dataset} t=${threads}: exit ${p.status}\n${p.stderr}`);
  const r = JSON.parse(p.stdout.trim().split('\n').at(-1)!) as ChildResult;
  if (r.variant !== variant) throw new Error(`asked for the ${variant} kernels, the child ran the ${r.variant} ones`);
  return r;
}

type Dist = (q: number, base: number, stride: number, ids: number, count: number, out: number, dimBytes: number) => void;

/** ns per distance of the dataset's kernel, old vs new, median over `blocks` alternating blocks. */
async function kernelBench(dataset: string, blocks: number): Promise<string[]> {
  const { loadDataset } = await import('../src/data/resolve.ts');
  const { createArena, attachArena } = await import('../src/graph/arena.ts');
  const oldMod = await import('./bench-simd/old-kernels.ts');
  const newMod = await import('../src/graph/simd-kernels.ts');
  const ds = await loadDataset(dataset);
  const init = createArena(ds.base.data, ds.base.n, ds.base.dim, ds.metric === 'l2', 1);
  const a = attachArena(init, 0);
  const { n, stride, kernel, iotaPtr, pages } = init.layout;
  const fns: Record<'old' | 'new', Dist> = {
    old: oldMod.instantiateKernels(init.memory, pages)[kernel],
    new: newMod.instantiateKernels(init.memory, pages)[kernel],
  };
  const queries = 50;
  const block = (f: Dist): Float32Array => {
    for (let q = 0; q < queries; q++) f(q * stride, 0, stride, iotaPtr, n, a.outPtr, stride);
    return a.out.slice(0, n);
  };
  const same = Buffer.from(block(fns.old).buffer).equals(Buffer.from(block(fns.new).buffer));
  const ns: Record<'old' | 'new', number[]> = { old: [], new: [] };
  for (let b = 0; b < blocks; b++) {
    for (const v of b % 2 === 0 ? (['old', 'new'] as const) : (['new', 'old'] as const)) {
      const t0 = process.hrtime.bigint();
      block(fns[v]);
      ns[v].push(Number(process.hrtime.bigint() - t0) / (queries * n));
    }
  }
  const mo = median(ns.old), mn = median(ns.new);
  return [`${dataset} (${kernel}, ${ds.base.dim}-d)`, mo.toFixed(2), mn.toFixed(2), (mn / mo).toFixed(3), same ? 'bit-identical' : 'DIFFER'];
}

function table(rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((x, c) => x.padEnd(widths[c])).join('  ').trimEnd());
  console.log('');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      datasets: { type: 'string', default: 'siftsmall-5k,glove-50-5k' },
      threads: { type: 'string', default: '1,2' },
      reps: { type: 'string', default: '5' },
      blocks: { type: 'string', default: '41' },
    },
  });
  const reps = Math.max(1, Number(values.reps));
  const { kernelModuleBytes } = await import('./bench-simd/old-kernels.ts');
  const { SIMD_KERNELS_WASM } = await import('../src/graph/simd-kernels.wasm.ts');
  const same = Buffer.from(kernelModuleBytes(65536)).equals(Buffer.from(SIMD_KERNELS_WASM));
  console.log(`node ${process.version}, ${os.availableParallelism()} CPU threads; ${reps} reps, old/new alternating`);
  console.log(`module bytes: old (declaring 65536 pages) ${same ? '==' : '!='} new (${SIMD_KERNELS_WASM.length} B)\n`);
  const kRows = [['kernel', 'old ns/dist', 'new ns/dist', 'new/old', 'outputs']];
  for (const dataset of values.datasets.split(',')) kRows.push(await kernelBench(dataset, Number(values.blocks)));
  table(kRows);
  const rows: string[][] = [['dataset', 'threads', 'old s', 'new s', 'new/old', 'old cpu s', 'new cpu s', 'old knn+prune', 'new knn+prune', 'old runs', 'new runs', 'graphs']];
  for (const dataset of values.datasets.split(',')) {
    for (const threads of values.threads.split(',').map(Number)) {
      const res: Record<'old' | 'new', ChildResult[]> = { old: [], new: [] };
      for (let rep = 0; rep < reps; rep++) {
        const order = rep % 2 === 0 ? (['old', 'new'] as const) : (['new', 'old'] as const);
        for (const v of order) res[v].push(run(v, dataset, threads));
      }
      const mo = median(res.old.map((r) => r.seconds));
      const mn = median(res.new.map((r) => r.seconds));
      const co = median(res.old.map((r) => r.cpu));
      const cn = median(res.new.map((r) => r.cpu));
      const ko = median(res.old.map((r) => r.knn + r.prune));
      const kn = median(res.new.map((r) => r.knn + r.prune));
      const hashes = new Set([...res.old, ...res.new].map((r) => r.graph));
      const fmt = (rs: ChildResult[]) => rs.map((r) => r.seconds.toFixed(2)).join(' ');
      rows.push([dataset, String(threads), mo.toFixed(3), mn.toFixed(3), (mn / mo).toFixed(3), co.toFixed(3), cn.toFixed(3), ko.toFixed(3), kn.toFixed(3), fmt(res.old), fmt(res.new),
        hashes.size === 1 ? 'identical' : `${hashes.size} distinct`]);
      console.error(rows.at(-1)!.join('  '));
    }
  }
  console.log('build seconds, medians: buildGraph wall, CPU (all threads), and the kernel-heavy phases (kNN + prune, wall):');
  table(rows);
}

if (process.argv[2] === '--child') await child(process.argv[3], Number(process.argv[4]));
else await main();
