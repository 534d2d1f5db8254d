/**
 * Child process for signals.timed.test.ts: starts a large save (an index, or an .fvecs pair) with the
 * CLI's signal cleanup installed, and signals itself as soon as the temp file appears on disk.
 * argv: <kind: index|vecs> <out> <signal>
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { installSignalCleanup, watchOutputs } from '../../src/cli/signals.ts';
import { buildIndex, saveIndex } from '../../src/search/engine.ts';
import { writeNeighborFiles } from '../../src/data/vecs.ts';
import { randomRows } from './helpers.ts';

const [kind, out, sig] = process.argv.slice(2) as ['index' | 'vecs', string, NodeJS.Signals];
installSignalCleanup();
watchOutputs([out]);
const dir = path.dirname(out);
const timer = setInterval(() => {
  if (readdirSync(dir).some((f) => f.includes('.tmp'))) {
    clearInterval(timer);
    process.kill(process.pid, sig);
  }
}, 1);

if (kind === 'index') {
  // A real (small) index, its vectors and graph blown up so the write takes a while.
  const { index } = await buildIndex(randomRows(300, 8, 1), 'l2', { threads: 1 });
  const n = 40_000, dim = 256;
  await saveIndex(out, { ...index, n, dim, vectors: new Float32Array(n * dim), graph: { n, degree: index.graph.degree, neighbors: new Uint32Array(n * index.graph.degree) } });
} else {
  const n = 60_000, k = 100;
  await writeNeighborFiles(out, { data: new Int32Array(n * k), n, dim: k }, out.replace(/\.ivecs$/, '.fvecs'), { data: new Float32Array(n * k), n, dim: k });
}
clearInterval(timer);
process.stdout.write('finished before the signal\n');
