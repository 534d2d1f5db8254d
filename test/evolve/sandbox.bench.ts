/**
 * Sandbox costs (not a test): start time with and without Dawn opening a device, and the per-call
 * overhead for a 100x128 f32 query batch (ids 100x10 back), against the same op run in-process.
 * Run: node_modules/.bin/node test/evolve/sandbox.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../../src/evolve/sandbox.ts';
import { isolationMethod, projectReadPaths } from '../../src/evolve/sandbox-isolation.ts';
import { randomSet } from '../gpu/helpers.ts';
import { median } from '../../src/bench/stats.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'crinn-sandbox-bench-'));
const opts = (entry: string) => ({ entry: join(FIXTURES, entry), readPaths: [FIXTURES, ...projectReadPaths()], scratch });
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];
const f = (x: number) => x.toFixed(2);

console.log(`isolation: ${isolationMethod()}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
const starts: number[] = [];
for (let i = 0; i < 5; i++) {
  const sb = await Sandbox.start(opts('echo.ts'));
  starts.push(sb.startMs);
  await sb.close();
}
console.log(`start, no GPU: median ${f(median(starts))} ms of ${starts.map(f).join(', ')}`);

const gpuStarts: number[] = [];
let sb!: Sandbox;
for (let i = 0; i < 3; i++) {
  if (sb) await sb.close();
  sb = await Sandbox.start(opts('gpu-knn.ts'));
  gpuStarts.push(sb.startMs);
}
console.log(`start, Dawn device + pipeline compiled: median ${f(median(gpuStarts))} ms of ${gpuStarts.map(f).join(', ')}`);

const base = randomSet(2000, 128, 1);
const queries = randomSet(100, 128, 2);
await sb.call('setBase', { data: base.data, n: base.n, dim: base.dim });
const touch: number[] = [];
for (let i = 0; i < 200; i++) {
  const o = await sb.call('touch', { queries: queries.data, dim: 128 });
  if (!o.ok) throw new Error(o.failure.message);
  touch.push(o.ms);
}
console.log(`round trip, 100x128 f32 in, 100x10 i32 out, no work: median ${f(median(touch))} ms, p90 ${f(p90(touch))} ms`);

const inSandbox: number[] = [];
for (let i = 0; i < 10; i++) {
  const o = await sb.call('search', { queries: queries.data });
  if (!o.ok) throw new Error(o.failure.message);
  inSandbox.push(o.ms);
}
await sb.close();
const { ops } = await import('./fixtures/gpu-knn.ts');
ops.setBase({ data: base.data, n: base.n, dim: base.dim });
const inProcess: number[] = [];
for (let i = 0; i < 10; i++) {
  const t0 = performance.now();
  await ops.search({ queries: queries.data });
  inProcess.push(performance.now() - t0);
}
console.log(`GPU top-10 search of the batch: sandboxed median ${f(median(inSandbox.slice(1)))} ms, in-process median ${f(median(inProcess.slice(1)))} ms`);
rmSync(scratch, { recursive: true, force: true });
process.exit(0);
