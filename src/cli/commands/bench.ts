/** `crinn bench` and `crinn bench compare`: thin wrappers over src/bench. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UserError } from '../../errors.ts';
import { loadDataset } from '../../data/resolve.ts';
import { withTempFile } from '../../data/vecs.ts';
import { runBench, runBenchBatches } from '../../bench/run.ts';
import { parseSelectivities, runFilteredBench } from '../../bench/filtered.ts';
import { renderFilteredSummary } from '../../bench/table.ts';
import { parseBatchList, renderBatchTable } from '../../bench/batches.ts';
import { memoryLines } from '../../bench/memory.ts';
import { benchProgress } from '../../bench/progress.ts';
import { renderTable } from '../../bench/table.ts';
import { renderReportHtml } from '../../bench/report-html.ts';
import { compareResults } from '../../bench/compare.ts';
import { peerNames, registerSystem, systemEntry, systemNames } from '../../bench/systems.ts';
import { type SystemOptions } from '../../bench/bench-system.ts';
import { globals, nonNegativeInt, openFromOptions, positiveInt, print } from '../context.ts';
import type { CrinnSystemOptions } from '../../bench/peers/crinn.ts';
import { assertDistancesFit, assertStorageFits, fitsStorage } from '../../data/validate.ts';
import { codecFor, type VectorStorage } from '../../data/codecs/registry.ts';
import type { VectorSet } from '../../data/types.ts';
import { checkOutputs, type NamedPath } from '../../data/output-paths.ts';
import { watchOutputs } from '../signals.ts';
import { runBrowserBenchCommand } from './bench-browser.ts';
import { findChromium } from '../../bench/browser-chromium.ts';
import { checkKernelDir } from '../../search/bundle.ts';
import type { BenchResult } from '../../bench/schema.ts';

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
  browser?: boolean;
  browserPath?: string;
  bundle?: string;
  kernel?: string;
  filterSelectivity?: string;
  batch?: string;
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

function crinnOptions(o: { seeds?: string; storage?: string }): CrinnSystemOptions {
  if (o.storage !== undefined) codecFor(o.storage, '--storage');
  const seeds = o.seeds === undefined ? 0 : o.seeds === '0' ? 0 : positiveInt(o.seeds, '--seeds');
  return { storage: o.storage as CrinnSystemOptions['storage'], search: seeds ? { numSeeds: seeds } : {} };
}

/**
 * The default f16 storage turns values above 65504 into Infinity; such data runs in f32 with a
 * note, and an explicit --storage whose codec cannot hold the data (f16) is refused.
 */
export function storageFor(requested: string | undefined, base: VectorSet, label: string, quiet?: boolean): VectorStorage | undefined {
  if (requested !== undefined) {
    const codec = codecFor(requested, '--storage');
    assertStorageFits(base, codec, label);
    return codec.name;
  }
  const byDefault = codecFor('f16');
  const f = fitsStorage(base, byDefault);
  if (f.ok) return undefined;
  if (!quiet) process.stderr.write(`crinn: ${label} holds |value| up to ${f.maxAbs.toExponential(3)}, beyond ${byDefault.name}'s ${byDefault.maxAbs}: the crinn index stores f32 instead of the default ${byDefault.name}\n`);
  return 'f32';
}

/**
 * `--storage a,b,...`: the codecs to run, each as its own crinn row (crinn-a, crinn-b) in one
 * interleaved run; one name keeps the single `crinn` row. Every name is checked first.
 */
function storageList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(',').map((x) => x.trim()).filter(Boolean);
  if (names.length === 0) throw new UserError('--storage: expected a codec name or a comma-separated list of them');
  for (const n of names) codecFor(n, '--storage');
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UserError(`--storage: '${dup}' is listed twice`);
  return names;
}

/** The bundle crinn-kernel ran, for the text report: name, content hash, where it was tuned; or that none matched. */
function kernelLines(result: BenchResult): string[] {
  return result.systems.filter((s) => s.name === 'crinn-kernel').flatMap((s) => {
    if (typeof s.params.bundle === 'string') return [`crinn-kernel: bundle ${String(s.params.bundle)} (content ${String(s.params.bundleHash).slice(0, 12)}, tuned on ${String(s.params.bundleAdapter)}) from ${String(s.params.bundleDir)}`];
    if (s.params.bundle === null) return [`crinn-kernel: no bundle in ${String(s.params.bundleDir)} for this adapter; it ran the baseline kernels`];
    return [];
  });
}

function kernelTitle(result: BenchResult): string | undefined {
  const s = result.systems.find((x) => x.name === 'crinn-kernel' && typeof x.params.bundle === 'string');
  return s ? `crinn-webgpu bench: ${result.dataset.name}, kernel bundle ${String(s.params.bundle)} (${String(s.params.bundleHash).slice(0, 12)})` : undefined;
}

/** Files of a loaded dataset's `source` ("a.fvecs + b.fvecs", "x.fvecs (last ...)") that exist. */
function sourceFiles(source: string): NamedPath[] {
  return source.split(' + ').map((s) => s.replace(/ \(.*\)$/, '')).filter((f) => existsSync(f)).map((f) => ({ path: f, flag: '--dataset' }));
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
    .option('--storage <list>', 'vector storage of the crinn index: f16 (default), f32, int8 or binary; a comma-separated list runs one crinn row per codec (crinn-f16, crinn-int8, ...) in one interleaved run')
    .option('--json <file>', "write the result JSON ('-' for stdout)")
    .option('--html <file>', 'write a self-contained HTML report')
    .option('--reference <system>', 'system the ratio column is taken against')
    .option('--cache-dir <dir>', 'ground-truth cache (default $CRINN_CACHE_DIR or ~/.cache/crinn)')
    .option('--browser', "run the crinn search inside headless Chromium's WebGPU adapter (peers are not run)")
    .option('--browser-path <path>', 'Chromium binary for --browser (default /usr/bin/chromium or $CRINN_CHROMIUM)')
    .option('--bundle <dir>', 'kernel bundle folder (manifest.json + WGSL) for --browser (default: the shipped shaders/)')
    .option('--batch <list>', 'queries per search call, comma-separated (e.g. 1,100,1000,10000): one sweep per size over the same builds; latency percentiles per call (default: all queries in one call)')
    .option('--kernel <dir>', 'also run crinn-kernel: crinn with the tuned-kernel bundle for this adapter from DIR (a bundle or a folder of bundles such as kernels/); with --browser, DIR is one bundle folder, run in the browser as it is')
    .option('--filter-selectivity <list>', 'filtered search: seeded Zipf labels on the base and, per listed fraction (e.g. 0.5,0.1,0.01,0.001), one filter per query passing about that share; one curve per selectivity (--json writes an array of results)')
    .action(async (o: BenchOpts, cmd: Command) => {
      const g = globals(cmd);
      if (!o.dataset) throw new UserError('bench: --dataset is required (a name from `crinn dataset list` or a file path)');
      const k = positiveInt(o.k, '--k');
      const reps = positiveInt(o.reps, '--reps');
      if (reps < 3) throw new UserError(`--reps: at least 3 timed repetitions are required, got ${reps}`);
      const seed = nonNegativeInt(o.seed, '--seed');
      const selectivities = o.filterSelectivity === undefined ? undefined : parseSelectivities(o.filterSelectivity);
      if (selectivities && o.browser) throw new UserError('--filter-selectivity: not with --browser (the page searches unfiltered)');
      const batches = o.batch === undefined ? undefined : parseBatchList(o.batch);
      if (batches && o.browser) throw new UserError('--batch: not with --browser (the page answers all the queries in one call)');
      if (selectivities && batches) throw new UserError('--batch: not with --filter-selectivity (one of them per run)');
      // crinn-kernel runs only with a bundle; --kernel adds it beside the baseline crinn, so the ratio shows.
      const ownNames = systemNames().filter((n) => !peerNames().includes(n) && n !== 'crinn-kernel');
      const own = o.systems !== undefined ? splitList(o.systems, '--systems', systemNames()) : ownNames;
      if (o.kernel !== undefined) {
        // Every bundle there is validated (schema, content hash) before any work: a broken one fails here.
        const found = checkKernelDir(o.kernel);
        // The browser's adapter is known only once its page is up, so --browser runs one named bundle (whatever adapter it was tuned on).
        if (o.browser && o.bundle !== undefined) throw new UserError('--kernel: not with --bundle (--browser --kernel DIR runs the baseline crinn and crinn-kernel with DIR in one sweep; --bundle runs one bundle alone)');
        if (o.browser && (found.length !== 1 || !existsSync(path.join(o.kernel, 'manifest.json')))) throw new UserError(`--kernel: with --browser, name one bundle folder (${o.kernel} holds ${found.length} bundles); e.g. --kernel kernels/<adapter>--<dataset>`);
        if (!own.includes('crinn-kernel')) own.push('crinn-kernel');
      } else if (own.includes('crinn-kernel')) {
        throw new UserError('--systems: crinn-kernel needs a bundle: add --kernel DIR');
      }
      // The browser binary is checked before the dataset loads and the index is built.
      if (o.browser) findChromium(o.browserPath);
      else if (o.browserPath !== undefined) throw new UserError('--browser-path: only with --browser');
      let peers = o.peers !== undefined ? splitList(o.peers, '--peers', peerNames()) : peerNames();
      const hnsw: SystemOptions = {};
      if (o.m !== undefined) hnsw.M = positiveInt(o.m, '--m');
      if (o.efConstruction !== undefined) hnsw.efConstruction = positiveInt(o.efConstruction, '--ef-construction');

      const outputs = [o.json === undefined ? undefined : { path: o.json, flag: '--json' }, o.html === undefined ? undefined : { path: o.html, flag: '--html' }];
      await checkOutputs(outputs, [existsSync(o.dataset) ? { path: o.dataset, flag: '--dataset' } : undefined]);
      watchOutputs([o.json, o.html]);
      const dataset = await loadDataset(o.dataset, { dataDir: g.dataDir, cacheDir: o.cacheDir, queries: o.queries === undefined ? undefined : positiveInt(o.queries, '--queries') });
      // Loading is harmless; writing is not: check the files a named dataset resolved to as well.
      await checkOutputs(outputs, sourceFiles(dataset.source));
      assertDistancesFit(dataset.base, dataset.metric, `${dataset.name} (base)`);
      assertDistancesFit(dataset.queries, dataset.metric, `${dataset.name} (queries)`);
      const storages = storageList(o.storage);
      const perCodec = storages !== undefined && storages.length > 1 && own.includes('crinn');
      if (perCodec && o.kernel !== undefined) throw new UserError('--storage: a list of codecs runs without --kernel (the bundle fixes its own storage)');
      const codecRows: Record<string, CrinnSystemOptions> = {};
      if (perCodec) {
        // One crinn row per codec, registered under its own name, in the place of crinn.
        own.splice(own.indexOf('crinn'), 1, ...storages.map((c) => `crinn-${c}`));
        for (const c of storages) {
          registerSystem(`crinn-${c}`, { ...systemEntry('crinn'), description: `crinn with ${c} storage` });
          codecRows[`crinn-${c}`] = { ...crinnOptions({ ...o, storage: storageFor(c, dataset.base, dataset.name, g.quiet) }), name: `crinn-${c}` };
        }
      }
      const storage = perCodec ? undefined : own.includes('crinn') || own.includes('crinn-kernel') ? storageFor(storages?.[0], dataset.base, dataset.name, g.quiet) : o.storage;
      if (k > dataset.base.n) throw new UserError(`--k: ${k} is larger than the base of ${dataset.name} (${dataset.base.n} vectors)`);
      if (o.peers === undefined && 2 * dataset.base.n * dataset.queries.n * dataset.base.dim > BRUTEFORCE_DEFAULT_MAX_FLOPS) {
        peers = peers.filter((p) => p !== 'bruteforce');
      }
      const names = [...new Set([...own, ...peers])];
      if (o.reference !== undefined && !names.includes(o.reference)) throw new UserError(`--reference: '${o.reference}' is not among the systems run: ${names.join(', ')}`);

      const progress = benchProgress({ quiet: g.quiet });
      if (selectivities) {
        let results: BenchResult[];
        try {
          results = await runFilteredBench({
            dataset,
            systems: names,
            systemOptions: { usearch: hnsw, hnswlib: hnsw, crinn: crinnOptions({ ...o, storage }), ...codecRows },
            k,
            reps,
            seed,
            cacheDir: o.cacheDir,
            onProgress: progress.onProgress,
            ctxProvider: () => openFromOptions(g),
            selectivities,
          });
        } finally {
          progress.stop();
        }
        const text = [...results.map((r) => renderTable(r, o.reference)), renderFilteredSummary(results)].join('\n\n');
        const json = `${JSON.stringify(results, null, 2)}\n`;
        if (o.json === '-') {
          process.stdout.write(json);
          if (!g.quiet) process.stderr.write(`${text}\n`);
        } else {
          print(text);
          if (o.json) await writeAtomic(o.json, json);
        }
        if (o.html) await writeAtomic(o.html, renderReportHtml(results, `crinn-webgpu bench: ${dataset.name}, filtered at ${selectivities.join(', ')}`));
        return;
      }
      let result;
      let results: BenchResult[] = [];
      // One run's systems and settings, whether it sweeps once or once per batch size.
      const run = {
        dataset,
        systems: names,
        systemOptions: {
          usearch: hnsw,
          hnswlib: hnsw,
          crinn: { ...crinnOptions({ ...o, storage }), onMessage: (line: string) => g.quiet || process.stderr.write(`crinn: ${line}\n`) },
          ...codecRows,
          // The bundle's storage is part of what was tuned: --storage sets the crinn row only (f32 forced by the data applies to both).
          'crinn-kernel': { ...crinnOptions({ ...o, storage: o.storage === undefined ? storage : undefined }), kernels: o.kernel, onMessage: (line: string) => g.quiet || process.stderr.write(`crinn: ${line}\n`) } as CrinnSystemOptions,
        },
        k,
        reps,
        seed,
        cacheDir: o.cacheDir,
        onProgress: progress.onProgress,
        ctxProvider: () => openFromOptions(g),
      };
      try {
        if (batches) results = await runBenchBatches({ ...run, batches });
        result = batches ? results[0] : o.browser ? await runBrowserBenchCommand(o, { dataset, k, reps, seed, storage, progress: progress.onProgress, open: () => openFromOptions(g), kernel: o.kernel, kernelStorage: o.storage === undefined ? storage : undefined }) : await runBench(run);
      } finally {
        progress.stop();
      }
      const table = batches
        ? [...results.map((r) => `batch ${r.batch} (${Math.ceil(r.dataset.nq / r.batch!)} calls of <= ${r.batch} queries)\n${renderTable(r, o.reference)}`), `batch sizes: ${dataset.name}, ${dataset.queries.n} queries\n${renderBatchTable(results)}`, [...memoryLines(results.at(-1)!), ...kernelLines(result)].join('\n')].join('\n\n')
        : [renderTable(result, o.reference), ...memoryLines(result), ...kernelLines(result)].join('\n');
      // With --batch the JSON is the array of per-batch results.
      const json = `${JSON.stringify(batches ? results : result, null, 2)}\n`;
      if (o.json === '-') {
        process.stdout.write(json);
        if (!g.quiet) process.stderr.write(`${table}\n`);
      } else {
        print(table);
        if (o.json) await writeAtomic(o.json, json);
      }
      if (o.html) await writeAtomic(o.html, renderReportHtml(batches ? results : [result], kernelTitle(result)));
    });

  bench
    .command('compare')
    .description('one table and one HTML report from several bench result files')
    .argument('<files...>', 'bench result JSON files')
    .option('--html <file>', 'write a self-contained HTML report')
    .option('--reference <label>', "row the ratio column is taken against ('system @ adapter')")
    .action(async (files: string[], o: { html?: string; reference?: string }) => {
      await checkOutputs([o.html === undefined ? undefined : { path: o.html, flag: '--html' }], files.map((f) => ({ path: f, flag: 'result file' })));
      watchOutputs([o.html]);
      const cmp = await compareResults(files, { reference: o.reference });
      print(cmp.table);
      if (o.html) await writeAtomic(o.html, cmp.html);
    });
}
