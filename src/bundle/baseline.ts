/**
 * The shipped baseline modules: kernels/baseline/MODULE/manifest.json, whose files are paths in
 * this repository. The library's bundle loader compares a bundle's graph code with them
 * (src/search/bundle.ts); the optimisation loop loads and varies them (src/evolve/modules.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import { assertRegularFileSync } from '../data/vecs.ts';
import { moduleManifestSchema, type ModuleManifest, type ModuleName } from './module-manifest.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BASELINE_DIR = join(REPO_ROOT, 'kernels', 'baseline');

/** A zod error's first issue as one line: 'path: message'. */
export function zodLine(err: { issues: { path: PropertyKey[]; message: string }[] }): string {
  const i = err.issues[0];
  return `${i.path.map(String).join('.') || '(root)'}: ${i.message}`;
}

/** A JSON file's value; a FIFO, a device, an unreadable file or bad JSON is a one-line UserError naming it. */
export function readJson(path: string): unknown {
  let text: string;
  // A FIFO would block the read, a device never end: refused before it is opened.
  assertRegularFileSync(path);
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** The shipped baseline's manifest; its files are repository paths. */
export function baselineManifest(module: ModuleName): ModuleManifest {
  const path = join(BASELINE_DIR, module, 'manifest.json');
  const r = moduleManifestSchema.safeParse(readJson(path));
  if (!r.success) throw new UserError(`${path}: ${zodLine(r.error)}`);
  if (r.data.module !== module) throw new UserError(`${path}: module is '${r.data.module}', expected '${module}'`);
  for (const f of r.data.files) if (!existsSync(join(REPO_ROOT, f))) throw new UserError(`${path}: file '${f}' does not exist in the repository`);
  const names = r.data.files.map((f) => basename(f));
  if (new Set(names).size !== names.length) throw new UserError(`${path}: files must have distinct base names`);
  return r.data;
}

/**
 * sha256 over the shipped baseline module's files (base name, NUL, content, NUL; sorted by name):
 * what `crinn export` compared a variant's files against when it left the equal ones out, recorded
 * in the bundle so a loader can tell that its own baseline differs (src/search/bundle.ts).
 */
export function baselineFilesHash(module: ModuleName): string {
  const h = createHash('sha256');
  const files = baselineManifest(module).files.map((f) => ({ name: basename(f), path: join(REPO_ROOT, f) }));
  for (const f of files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) h.update(`${f.name}\0`).update(readFileSync(f.path)).update('\0');
  return h.digest('hex');
}
