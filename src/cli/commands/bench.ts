/** `crinn bench` and `crinn bench compare`: thin wrappers over src/bench. */
import { access, constants, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../../errors.ts';
import { loadDataset } from '../../data/resolve.ts';
import { withTempFile } from '../../data/vecs.ts';
import { runBench } from '../../bench/run.ts';
import { benchProgress } from '../../bench/progress.ts';
import { renderTable } from '../../bench/table.ts';
import { renderReportHtml } from '../../bench/report-html.ts';
import { compareResults } from '../../bench/compare.ts';
import { peerNames, systemNames, type SystemOptions } from '../../bench/systems.ts';
import { globals, openFromOptions, positiveInt, print } from '../context.ts';
import type { CrinnSystemOptions } from '../../bench/peers/crinn.ts';

interface BenchOpts {
  dataset?: string;
  peers?: string;
  systems?: string;
  k: string;
  reps: string;
  seed: string;
  queries?: string;
  m?: string;
  efConstruction?: string;
  json?: string;
  html?: string;
  reference?: string;
  cacheDir?: string;
  seeds?: string;
  storage?: string;
}

/** The exact TypeScript scan is only a default where one batch takes seconds, not hours. */
const BRUTEFORCE_DEFAULT_MAX_FLOPS = 2e10;

function splitList(value: string, flag: string, allowed: readonly string[]): string[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UserError(`${flag}: expected a comma-separated list; allowed: ${allowed.join(', ')}`);
  for (const n of names) {
    if (!allowed.includes(n)) throw new UserError(`${flag}: unknown ${flag === '--peers' ? 'peer' : 'system'} '${n}'; allowed: ${allowed.join(', ')}`);
  }
  return names;
}

/** Writes via a temp file and rename, so a failed run leaves no partial output. */
async function writeAtomic(file: string, text: string): Promise<void> {
  await withTempFile(file, (tmp) => writeFile(tmp, text));
}

/** Fails before a long run, not after it, when an output file cannot be written. */
async function checkWritable(file: string | undefined, flag: string): Promise<void> {
  if (file === undefined || file === '-') return;
  const dir = path.dirname(path.resolve(file));
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new UserError(`${flag}: cannot write ${file}, folder ${dir} does not exist`);
  await access(dir, constants.W_OK).catch(() => {
    throw new UserError(`${flag}: cannot write ${file}, folder ${dir} is not writable`);
  });
}

function crinnOptions(o: { seeds?: string; storage?: string }): CrinnSystemOptions {
  if (o.storage !== undefined && o.storage !== 'f16' && o.storage !== 'f32') throw new UserError(`--storage: unknown '${o.storage}'; allowed: f16, f32`);
  const seeds = o.seeds === undefined ? 0 : o.seeds === '0' ? 0 : positiveInt(o.seeds, '--seeds');
  return { storage: o.storage as CrinnSystemOptions['storage'], search: seeds ? { numSeeds: seeds } : {} };
}

export function registerBenchCommands(program: Command): void {
  const bench = program
    .command('bench')
    .description('sweep search effort for each system, report QPS over recall and the AUC reward')
    .option('--dataset <name|path>', 'dataset name or file (see `crinn dataset list`)')
    .option('--peers <list>', `comparison systems, comma-separated: ${peerNames().join(', ')} (default: all; bruteforce only on small sets)`)
    .option('--systems <list>', "the project's own systems, comma-separated (default: every registered one)")
    .option('--k <k>', 'neighbours per query (recall@k)', '10')
    .option('--reps <n>', 'timed repetitions per point, after one warm-up (>= 3)', '3')
    .option('--seed <n>', 'seed of the measurement order and of builds', '1')
    .option('--queries <n>', 'use only the first n queries')
    .option('--m <M>', 'graph degree of the HNSW peers (default 16)')
    .option('--ef-construction <n>', 'build candidate list of the HNSW peers (default 200)')
    .option('--seeds <n>', 'seeds per query of the crinn search (SearchParams.numSeeds; 0 = auto); raise it on strongly clustered data')
    .option('--storage <type>', 'vector storage of the crinn index: f16 (default) or f32')
    .option('--json <file>', "write the result JSON ('-' for stdout)")
    .option('--html <file>', 'write a self-contained HTML report')
    .option('--reference <system>', 'system the ratio column is taken against')
    .option('--cache-dir <dir>', 'ground-truth cache (default $CRINN_CACHE_DIR or ~/.cache/crinn)')
    .action(async (o: BenchOpts, cmd: Command) => {
      const g = globals(cmd);
      if (!o.dataset) throw new UserError('bench: --dataset is required (a name from `crinn dataset list` or a file path)');
      const k = positiveInt(o.k, '--k');
      const reps = positiveInt(o.reps, '--reps');
      if (reps < 3) throw new UserError(`--reps: at least 3 timed repetitions are required, got ${reps}`);
      if (!/^\d+$/.test(o.seed)) throw new UserError(`--seed: expected a non-negative integer, got '${o.seed}'`);
      const seed = Number(o.seed);
      const ownNames = systemNames().filter((n) => !peerNames().includes(n));
      const own = o.systems !== undefined ? splitList(o.systems, '--systems', systemNames()) : ownNames;
      let peers = o.peers !== undefined ? splitList(o.peers, '--peers', peerNames()) : peerNames();
      const hnsw: SystemOptions = {};
      if (o.m !== undefined) hnsw.M = positiveInt(o.m, '--m');
      if (o.efConstruction !== undefined) hnsw.efConstruction = positiveInt(o.efConstruction, '--ef-construction');

      await checkWritable(o.json, '--json');
      await checkWritable(o.html, '--html');
      const dataset = await loadDataset(o.dataset, { dataDir: g.dataDir, cacheDir: o.cacheDir, queries: o.queries === undefined ? undefined : positiveInt(o.queries, '--queries') });
      if (k > dataset.base.n) throw new UserError(`--k: ${k} is larger than the base of ${dataset.name} (${dataset.base.n} vectors)`);
      if (o.peers === undefined && 2 * dataset.base.n * dataset.queries.n * dataset.base.dim > BRUTEFORCE_DEFAULT_MAX_FLOPS) {
        peers = peers.filter((p) => p !== 'bruteforce');
      }
      const names = [...new Set([...own, ...peers])];
      if (o.reference !== undefined && !names.includes(o.reference)) throw new UserError(`--reference: '${o.reference}' is not among the systems run: ${names.join(', ')}`);

      const progress = benchProgress({ quiet: g.quiet });
      let result;
      try {
        result = await runBench({
          dataset,
          systems: names,
          systemOptions: { usearch: hnsw, hnswlib: hnsw, crinn: crinnOptions(o) },
          k,
          reps,
          seed,
          cacheDir: o.cacheDir,
          onProgress: progress.onProgress,
          ctxProvider: () => openFromOptions(g),
        });
      } finally {
        progress.stop();
      }
      const table = renderTable(result, o.reference);
      const json = `${JSON.stringify(result, null, 2)}\n`;
      if (o.json === '-') {
        process.stdout.write(json);
        if (!g.quiet) process.stderr.write(`${table}\n`);
      } else {
        print(table);
        if (o.json) await writeAtomic(o.json, json);
      }
      if (o.html) await writeAtomic(o.html, renderReportHtml([result]));
    });

  bench
    .command('compare')
    .description('one table and one HTML report from several bench result files')
    .argument('<files...>', 'bench result JSON files')
    .option('--html <file>', 'write a self-contained HTML report')
    .option('--reference <label>', "row the ratio column is taken against ('system @ adapter')")
    .action(async (files: string[], o: { html?: string; reference?: string }) => {
      await checkWritable(o.html, '--html');
      const cmp = await compareResults(files, { reference: o.reference });
      print(cmp.table);
      if (o.html) await writeAtomic(o.html, cmp.html);
    });
}
