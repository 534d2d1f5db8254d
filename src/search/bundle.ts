/**
 * Tuned-kernel bundles on the Node side (format: kernels/README.md): read one, validated with its
 * content hash, or pick the one for this adapter from a folder of bundles.
 *
 * Match rule: a bundle matches when its manifest's adapter name equals the current adapter's name
 * exactly (names carry the backend: "llvmpipe-llvm-15-0-6-256-bits (vulkan)") and, where the
 * manifest records a backend, that equals too. Among matches: one tuned on the dataset with the
 * given fingerprint first, then the newest (createdAt), then by name. No match: no bundle, and a
 * one-line message saying why (the caller falls back to the baseline kernels).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { readBundle, type BundleManifest } from '../bundle/format.ts';
import { baselineFilesHash, baselineManifest, REPO_ROOT } from '../bundle/baseline.ts';
import type { ModuleName } from '../bundle/module-manifest.ts';
import { UserError } from '../errors.ts';
import type { SearchKernelSources } from './beam-core.ts';
import { bundleKernelPaths } from './bundle-kernels.ts';
import type { KernelBundle } from './kernel-params.ts';

export type { KernelBundle } from './kernel-params.ts';

/** The bundles this package ships (its kernels/ folder): `AnnEngine.open(ctx, index, { kernels: SHIPPED_KERNELS })`. */
export const SHIPPED_KERNELS = path.join(REPO_ROOT, 'kernels');

/** What a bundle is matched against: a GpuContext's adapter description has these fields. */
export interface AdapterIdentity {
  name: string;
  backend?: string;
}

export interface PickOptions {
  /** Dataset fingerprint (src/data/fingerprint.ts) to prefer among the adapter's bundles. */
  fingerprint?: string;
  /** One-line notes: why nothing matched, or a bundle tuned on another dataset was taken. */
  onMessage?: (line: string) => void;
}

export function adapterMatches(recorded: BundleManifest['adapter'], adapter: AdapterIdentity): boolean {
  return recorded.name === adapter.name && (recorded.backend === undefined || adapter.backend === undefined || recorded.backend === adapter.backend);
}

/** Reads and validates one bundle folder (schema and content hash); a broken one is a one-line UserError naming the file. */
export function loadKernelBundle(dir: string, onMessage?: (line: string) => void): KernelBundle {
  const m = readBundle(dir);
  const sources: Partial<SearchKernelSources> = {};
  for (const [role, f] of Object.entries(bundleKernelPaths(m.modules))) sources[role] = readFileSync(path.join(dir, f), 'utf8');
  const paramsFile = path.join(dir, m.params);
  let knobs: Record<string, Record<string, number>>;
  try {
    knobs = JSON.parse(readFileSync(paramsFile, 'utf8')) as Record<string, Record<string, number>>;
  } catch (err) {
    throw new UserError(`${paramsFile}: not valid JSON (${(err as Error).message})`);
  }
  for (const [mod, values] of Object.entries(knobs)) {
    for (const [knob, v] of Object.entries(values ?? {})) if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`${paramsFile}: ${mod}.${knob}: expected a number, got ${JSON.stringify(v)}`);
  }
  // Files equal to the exporter's baseline were left out and come from this package's: say so when that baseline differs.
  for (const [mod, entry] of Object.entries(m.modules)) {
    if (!entry?.baselineFiles || !onMessage) continue;
    const own = baselineFilesHash(mod as ModuleName);
    if (entry.baselineFiles !== own) onMessage(`kernel bundle ${m.name}: exported against other ${mod} baseline files (${entry.baselineFiles.slice(0, 12)}, this package ${own.slice(0, 12)}); the files it leaves out come from this package's baseline`);
  }
  // The graph module is host TypeScript: the library applies its knobs, never its code.
  if (m.modules.graph && onMessage && graphFilesChanged(dir, m.modules.graph.files)) {
    onMessage(`kernel bundle ${m.name}: its graph module's code differs from the baseline; only its knob values apply (the library does not run bundled TypeScript)`);
  }
  return { name: m.name, dir: path.resolve(dir), contentHash: m.contentHash, adapter: m.adapter.name, sources, knobs };
}

function graphFilesChanged(dir: string, files: string[]): boolean {
  const shipped = new Map(baselineManifest('graph').files.map((f) => [path.basename(f), f]));
  return files.some((f) => {
    const base = shipped.get(path.basename(f));
    return base === undefined || readFileSync(path.join(REPO_ROOT, base), 'utf8') !== readFileSync(path.join(dir, f), 'utf8');
  });
}

/** `dir` itself when it holds a manifest.json, else its sub-folders that do (kernels/baseline holds none). */
export function bundleDirs(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`${dir}: no such kernel bundle folder`);
  if (existsSync(path.join(dir, 'manifest.json'))) return [dir];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, 'manifest.json')))
    .map((e) => path.join(dir, e.name))
    .sort();
}

/** Validates every bundle under `dir` (readBundle each), so a broken one fails before any work. */
export function checkKernelDir(dir: string): BundleManifest[] {
  return bundleDirs(dir).map((d) => readBundle(d));
}

/**
 * The bundle under `dir` (a bundle folder or a folder of bundles) for this adapter, loaded and
 * validated; undefined, with a message, when none matches (use the baseline kernels).
 */
export function pickKernelBundle(dir: string, adapter: AdapterIdentity, o: PickOptions = {}): KernelBundle | undefined {
  const dirs = bundleDirs(dir);
  if (dirs.length === 0) {
    o.onMessage?.(`no kernel bundle in ${dir}; using the baseline kernels`);
    return undefined;
  }
  const manifests = dirs.map((d) => ({ dir: d, m: readBundle(d) }));
  const matches = manifests.filter((x) => adapterMatches(x.m.adapter, adapter));
  if (matches.length === 0) {
    const seen = [...new Set(manifests.map((x) => x.m.adapter.name))].join('; ');
    o.onMessage?.(`no kernel bundle in ${dir} matches adapter '${adapter.name}' (bundles are for: ${seen}); using the baseline kernels`);
    return undefined;
  }
  const fp = (x: (typeof matches)[number]) => (o.fingerprint !== undefined && x.m.dataset.fingerprint === o.fingerprint ? 0 : 1);
  matches.sort((a, b) => fp(a) - fp(b) || b.m.createdAt.localeCompare(a.m.createdAt) || a.dir.localeCompare(b.dir));
  const pick = matches[0];
  if (o.fingerprint !== undefined && fp(pick) === 1) o.onMessage?.(`kernel bundle ${pick.m.name} was tuned on dataset ${pick.m.dataset.name}, not this one; using it for adapter '${adapter.name}'`);
  return loadKernelBundle(pick.dir, o.onMessage);
}
