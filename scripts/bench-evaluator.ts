// The evaluator's calibration (a benchmark, not a test): unmodified `variant init` folders of each
// module evaluated against the baseline N times, quiet or beside a documented background load
// (one CPU-bound process at nice 19). Self-vs-self, a trustworthy evaluator's 95% interval holds
// 1.0 in about 19 of 20 evaluations; the rest it should say inconclusive rather than claim a gain.
// Usage: node scripts/bench-evaluator.ts [--modules search,refine,graph] [--runs 10] [--dataset siftsmall-5k]
//        [--load] [--out FILE.json]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initVariant } from '../src/evolve/variant-init.ts';
import { evaluateVariant } from '../src/evolve/evaluate.ts';
import { loadDataset } from '../src/data/resolve.ts';
import { MODULE_NAMES, type ModuleName } from '../src/bundle/module-manifest.ts';
import { formatTable } from '../src/bench/table.ts';

const { values } = parseArgs({
  options: {
    modules: { type: 'string', default: 'search,refine,graph' },
    runs: { type: 'string', default: '10' },
    dataset: { type: 'string', default: 'siftsmall-5k' },
    load: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const modules = values.modules!.split(',') as ModuleName[];
for (const m of modules) if (!MODULE_NAMES.includes(m)) throw new Error(`--modules: unknown module '${m}'; allowed: ${MODULE_NAMES.join(', ')}`);
const runs = Number(values.runs);
const ds = await loadDataset(values.dataset!);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'crinn-bench-evaluator-'));
// The documented background load: one CPU-bound process at the lowest priority.
const hog = values.load ? spawn('nice', ['-n', '19', process.execPath, '-e', 'for(;;){}'], { stdio: 'ignore' }) : undefined;
const rows: string[][] = [];
const results: Record<string, unknown>[] = [];
try {
  for (const module of modules) {
    const dir = path.join(tmp, module);
    initVariant(module, dir);
    let holds = 0;
    let inconclusive = 0;
    for (let i = 0; i < runs; i++) {
      const v = await evaluateVariant({ variantDir: dir, dataset: ds, seed: 1000 + i });
      const iv = v.interval;
      const held = iv ? iv.lo <= 1 && 1 <= iv.hi : false;
      if (held) holds++;
      if (v.conclusive === false) inconclusive++;
      results.push({ module, run: i, status: v.status, reward: v.reward, interval: iv, conclusive: v.conclusive, seconds: v.seconds, reason: v.reason });
      rows.push([module, String(i + 1), v.status, v.reward?.toFixed(3) ?? '-', iv ? `[${iv.lo.toFixed(3)}, ${iv.hi.toFixed(3)}]` : '-', String(iv?.rounds ?? '-'), held ? 'yes' : 'no', v.conclusive === false ? 'inconclusive' : 'conclusive', v.seconds.toFixed(1)]);
      process.stderr.write(`${module} ${i + 1}/${runs}: ${v.status} ${v.reward?.toFixed(3)} [${iv?.lo.toFixed(3)}, ${iv?.hi.toFixed(3)}] ${v.seconds.toFixed(1)} s\n`);
    }
    rows.push([module, 'all', '', '', '', '', `${holds}/${runs}`, `${inconclusive} inconclusive`, '']);
  }
} finally {
  hog?.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`evaluator self-vs-self on ${ds.name}${values.load ? ' beside one CPU-bound process at nice 19' : ''} (${os.cpus().length} cores)`);
console.log(formatTable(['module', 'run', 'status', 'reward', '95% interval', 'rounds', 'holds 1', 'verdict', 'seconds'], rows, ['l', 'r', 'l', 'r', 'l', 'r', 'l', 'l', 'r']));
if (values.out) writeFileSync(values.out, `${JSON.stringify({ dataset: ds.name, load: values.load, results }, null, 2)}\n`);
