/** `crinn export RUN [--out DIR]`: a run's best variants as a tuned-kernel bundle (src/evolve/export.ts). */
import path from 'node:path';
import type { Command } from 'commander';
import { bundleName, exportRun } from '../../evolve/export.ts';
import { type BundleManifest } from '../../bundle/format.ts';
import { loadRun } from '../../evolve/runs.ts';
import { bestOf, laneNames } from '../../evolve/run-state.ts';
import { loadDataset } from '../../data/resolve.ts';
import { datasetFingerprint } from '../../data/fingerprint.ts';
import { UserError } from '../../errors.ts';
import { globals, openFromOptions, print } from '../context.ts';
import { resolveRun } from './optimize.ts';
import { planDir } from '../../data/output-paths.ts';

/** The adapter's description and limits, when the adapter this process opens is the one the run measured. */
async function describe(measured: string, g: ReturnType<typeof globals>): Promise<BundleManifest['adapter'] | undefined> {
  const ctx = await openFromOptions(g);
  try {
    const a = ctx.adapter;
    if (a.name !== measured) {
      if (!g.quiet) process.stderr.write(`crinn: the run was measured on '${measured}', this process opened '${a.name}': the bundle records the name only (pass --adapter to match)\n`);
      return undefined;
    }
    return { name: a.name, backend: a.backend, vendor: a.vendor, architecture: a.architecture, description: a.description, type: a.type, features: a.features, limits: { ...a.limits } };
  } finally {
    ctx.destroy?.();
  }
}

async function fingerprintOf(dataset: string, g: ReturnType<typeof globals>): Promise<string | null> {
  try {
    return datasetFingerprint(await loadDataset(dataset, { dataDir: g.dataDir }));
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    if (!g.quiet) process.stderr.write(`crinn: dataset '${dataset}' could not be loaded for its fingerprint (${err.message}); recorded as null\n`);
    return null;
  }
}

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description("write a run's best variants as a tuned-kernel bundle (format: kernels/README.md)")
    .argument('<run>', 'run folder or run name')
    .option('--out <dir>', 'bundle folder to create (default kernels/<adapter>--<dataset>); for a farm run, the folder that gets one bundle per adapter (default kernels/)')
    .option('--no-describe', 'do not open the GPU for the adapter description and limits (the name from the verdicts only)')
    .action(async (run: string, o: { out?: string; describe: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const runDir = resolveRun(run);
      const lanes = laneNames(loadRun(runDir).config);
      if (lanes[0] !== undefined) {
        // A farm run: one bundle per adapter, under --out (default kernels/), each named for its adapter.
        const root = o.out ?? 'kernels';
        const fingerprint = await fingerprintOf(loadRun(runDir).config.dataset, g);
        for (const lane of lanes as string[]) {
          const st = loadRun(runDir, lane);
          if (!st.stages.some((s) => bestOf(s))) {
            if (!g.quiet) process.stderr.write(`crinn: adapter '${lane}': no successful evaluation yet; no bundle\n`);
            continue;
          }
          const out = path.join(root, bundleName(lane, st.config.dataset));
          planDir(out, o.out !== undefined ? '--out' : 'bundle folder');
          const r = exportRun(runDir, { out, lane, adapter: { name: lane }, datasetFingerprint: fingerprint });
          print(`bundle: ${r.dir}`);
          print(`  reward ${r.manifest.reward?.toFixed(3) ?? '-'} on ${r.manifest.adapter.name}, dataset ${r.manifest.dataset.name}; modules ${Object.keys(r.manifest.modules).join(', ')}; content ${r.manifest.contentHash.slice(0, 12)}`);
        }
        return;
      }
      const st = loadRun(runDir);
      const last = st.stages.map(bestOf).filter((b) => b !== undefined).at(-1);
      if (!last) throw new UserError(`${runDir}: no stage has a successful evaluation yet; nothing to export`);
      const adapterName = last.verdict!.adapter || 'unknown';
      const out = o.out ?? path.join('kernels', bundleName(adapterName, st.config.dataset));
      planDir(out, o.out !== undefined ? '--out' : 'bundle folder');
      const fingerprint = await fingerprintOf(st.config.dataset, g);
      const adapter = o.describe ? await describe(adapterName, g) : undefined;
      const r = exportRun(runDir, { out, adapter, datasetFingerprint: fingerprint });
      print(`bundle: ${r.dir}`);
      print(`  reward ${r.manifest.reward?.toFixed(3) ?? '-'} on ${r.manifest.adapter.name}, dataset ${r.manifest.dataset.name}; modules ${Object.keys(r.manifest.modules).join(', ')}; content ${r.manifest.contentHash.slice(0, 12)}`);
    });
}
