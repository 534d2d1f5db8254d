/**
 * Tuned-kernel bundles: the best variant of each module of a run, as a folder users ship
 * (kernels/README.md documents the format; a module's files equal to the shipped baseline's are
 * left out; its schema and reader are src/bundle/format.ts). The
 * folder is built beside its destination and renamed into place, so an interrupted export leaves
 * nothing half-written.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ModuleName } from '../bundle/module-manifest.ts';
import { BUNDLE_FORMAT, BUNDLE_VERSION, bundleContentHash, bundleManifestSchema, type BundleManifest } from '../bundle/format.ts';
import { getVariant } from './store.ts';
import { loadBaseline } from './modules.ts';
import { baselineFilesHash } from '../bundle/baseline.ts';
import { bestOf, ok, type RunState } from './run-state.ts';
import { lineage, loadRun } from './runs.ts';
import { UserError } from '../errors.ts';

export interface ExportOptions {
  /** Bundle folder to create (must not exist, or be empty). */
  out: string;
  /** Adapter description (src/gpu/adapters.ts AdapterDescription) when the exporter could open it. */
  adapter?: BundleManifest['adapter'];
  datasetFingerprint?: string | null;
  name?: string;
  /** A farm run's adapter lane to export (default its first). */
  lane?: string;
}

/** Slug for a default bundle name: 'nvidia-h200 (vulkan)' + 'siftsmall-5k' -> 'nvidia-h200-vulkan--siftsmall-5k'. */
export function bundleName(adapter: string, dataset: string): string {
  const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'unknown';
  return `${slug(adapter)}--${slug(path.basename(dataset).replace(/\.[^.]*$/, ''))}`;
}

/** The exported variant of each module: the stage's best, else none (the module keeps its baseline). */
function chosen(st: RunState): { module: ModuleName; hash: string }[] {
  const out: { module: ModuleName; hash: string }[] = [];
  for (const s of st.stages) {
    const b = bestOf(s);
    if (b) out.push({ module: s.module, hash: b.hash });
  }
  return out;
}

export function exportRun(runDir: string, o: ExportOptions): { dir: string; manifest: BundleManifest } {
  const st = loadRun(runDir, o.lane);
  const picks = chosen(st);
  if (picks.length === 0) throw new UserError(`${runDir}: no stage has a successful evaluation yet; nothing to export`);
  const lastStage = st.stages.filter((s) => bestOf(s)).at(-1)!;
  const final = bestOf(lastStage)!.verdict!;
  const adapterName = final.adapter || 'unknown';
  const out = path.resolve(o.out);
  if (existsSync(out) && (!statSync(out).isDirectory() || readdirSync(out).length > 0)) throw new UserError(`--out: ${o.out} exists and is not an empty folder`);
  mkdirSync(path.dirname(out), { recursive: true });
  const tmp = mkdtempSync(path.join(path.dirname(out), `.${path.basename(out)}.tmp-`));
  try {
    const modules: BundleManifest['modules'] = {};
    const params: Record<string, Record<string, number>> = {};
    for (const { module, hash } of picks) {
      const v = getVariant(runDir, hash);
      const stage = st.stages.find((s) => s.module === module)!;
      const best = bestOf(stage)!;
      // Only what differs from the shipped baseline: every loader fills a missing file from it
      // (search/bundle.ts, the browser's bundleSources), so a knob-only variant ships no WGSL.
      const shipped = loadBaseline(module).sources;
      const files = v.files.filter((f) => shipped[f.path] !== f.content.toString('utf8')).map((f) => {
        const rel = `${module}/${f.path}`;
        mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
        writeFileSync(path.join(tmp, rel), f.content);
        return rel;
      });
      params[module] = v.variant.knobValues;
      modules[module] = {
        hash, origin: v.variant.origin, files, baselineFiles: baselineFilesHash(module), knobValues: v.variant.knobValues,
        reward: best.verdict!.reward, rewardInterval: best.verdict!.interval ?? null, curve: best.verdict!.variantCurve,
        lineage: lineage(st, hash).map((p) => {
          const ev = stage.proposals.find((x) => x.hash === p.hash && x.verdict);
          return { hash: p.hash, origin: p.origin, reward: ev && ok(ev) ? ev.verdict.reward : null };
        }),
        manifest: v.variant.manifest,
      };
    }
    writeFileSync(path.join(tmp, 'params.json'), `${JSON.stringify(params, null, 2)}\n`);
    const manifest: BundleManifest = bundleManifestSchema.parse({
      format: BUNDLE_FORMAT,
      version: BUNDLE_VERSION,
      name: o.name ?? path.basename(out),
      createdAt: new Date().toISOString(),
      run: { id: st.runId, policy: st.config.policy, seed: st.config.seed, stages: st.config.stages, evaluations: st.stages.reduce((n, s) => n + s.proposals.filter((p) => p.verdict).length, 0) },
      adapter: o.adapter ?? { name: adapterName },
      dataset: { name: final.dataset || st.config.dataset, fingerprint: o.datasetFingerprint ?? null },
      reward: final.reward, rewardInterval: final.interval ?? null, overallReward: Object.values(modules).reduce<number | null>((g, m) => (g === null || m!.reward === null ? null : g * m!.reward), 1), auc: final.variantAuc, baselineAuc: final.baselineAuc,
      qpsAt90: final.qpsAt90, qpsAt95: final.qpsAt95, qpsAt99: final.qpsAt99, evaluationsAt95: final.evaluationsAt95,
      curve: final.variantCurve, baselineCurve: final.baselineCurve,
      modules,
      params: 'params.json',
      contentHash: bundleContentHash(tmp),
    });
    writeFileSync(path.join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    if (existsSync(out)) rmdirSync(out);
    renameSync(tmp, out);
    return { dir: out, manifest };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
