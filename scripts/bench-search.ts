// Graph-search benchmark (not a test): build time and QPS at recall 0.90 / 0.95 / 0.99 for this
// project's GPU search beside usearch and hnswlib-node, all measured in one process run with
// interleaved sweeps. Usage: node scripts/bench-search.ts [--datasets a,b,c] [--out DIR] [--reps N]
// [--queries N] [--seeds N] (crinn: start nodes of the entry-layer search; 0 = auto)
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/data/resolve.ts';
import { runBench } from '../src/bench/run.ts';
import { openGpu } from '../src/gpu/device.ts';
import { formatTable } from '../src/bench/table.ts';
import type { BenchResult } from '../src/bench/schema.ts';
import type { CrinnSystemOptions } from '../src/bench/peers/crinn.ts';

const { values } = parseArgs({
  options: {
    datasets: { type: 'string', default: 'siftsmall,glove-50-10k,synthetic-100k' },
    out: { type: 'string', default: 'out/bench-search' },
    reps: { type: 'string', default: '3' },
    queries: { type: 'string' },
    seeds: { type: 'string', default: '0' },
  },
});
const dataDir = process.env.CRINN_DATA_DIR ?? path.resolve(import.meta.dirname, '../../shared/datasets');
mkdirSync(values.out!, { recursive: true });
const crinnOptions: CrinnSystemOptions = { search: Number(values.seeds) ? { numSeeds: Number(values.seeds) } : {} };
const rows: string[][] = [];
let adapter = '';
for (const name of values.datasets!.split(',')) {
  const ds = await loadDataset(name, { dataDir, queries: values.queries ? Number(values.queries) : undefined });
  process.stderr.write(`${name}: ${ds.base.n} x ${ds.base.dim} ${ds.metric}, ${ds.queries.n} queries\n`);
  const result: BenchResult = await runBench({
    dataset: ds,
    systems: ['crinn', 'usearch', 'hnswlib'],
    reps: Number(values.reps),
    systemOptions: { crinn: crinnOptions },
    ctxProvider: () => openGpu({}),
    onProgress: (ev) => {
      if (ev.type === 'point') process.stderr.write(`  ${ev.system} effort ${ev.effort}: recall ${ev.recall.toFixed(4)} ${Math.round(ev.qps)} QPS\n`);
    },
  });
  writeFileSync(path.join(values.out!, `${name}.json`), JSON.stringify(result, null, 2));
  adapter = result.adapter?.description ?? adapter;
  const by = Object.fromEntries(result.systems.map((s) => [s.name, s]));
  const fmt = (v: number | null | undefined) => (v == null ? '-' : Math.round(v).toLocaleString('en-US'));
  const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? (a / b).toFixed(3) : '-');
  for (const s of result.systems) {
    rows.push([
      name, s.name, s.build.seconds.toFixed(2), fmt(s.summary.qpsAt90), fmt(s.summary.qpsAt95), fmt(s.summary.qpsAt99), fmt(s.summary.auc),
      s.name === 'crinn' ? ratio(s.summary.qpsAt95, by.usearch?.summary.qpsAt95) : '',
      s.name === 'crinn' ? ratio(s.summary.auc, by.usearch?.summary.auc) : '',
      String(s.inWindow ?? '-'),
      s.summary.evaluationsAt95 == null ? '-' : `${fmt(s.summary.evaluationsAt95)} (${((100 * s.summary.evaluationsAt95) / ds.base.n).toFixed(2)}% of n)`,
      s.name === 'crinn' ? ratio(by.usearch?.build.seconds, s.build.seconds) : '',
      s.error ?? '',
    ]);
  }
}
console.log(`graph search on ${adapter}; ${os.availableParallelism()} CPU threads; QPS = median of batched calls over all queries`);
console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(formatTable(['dataset', 'system', 'build s', 'QPS@0.90', 'QPS@0.95', 'QPS@0.99', 'AUC', 'QPS@0.95 vs usearch', 'AUC vs usearch', 'points in window', 'evals/query@0.95', 'build speed vs usearch', 'error'], rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l']));
