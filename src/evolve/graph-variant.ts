/**
 * A graph module's prune.ts made loadable by the sandbox child. The child may not read its
 * scratch (it must never read what it can write), and the variant folder may be anywhere, so the
 * parent writes the source into a fresh folder the child may read but not write, with its
 * relative imports ('./worker-ops.ts', '../data/metric.ts') turned into absolute file URLs of the
 * project's src/graph/ files, which is where prune.ts lives. The baseline's prune.ts takes the
 * same path, so both sides of an evaluation load their prune code alike.
 *
 *   const { dir, url } = materialisePrune(sources['prune.ts'], scratchRoot, 'variant');
 *   // readPaths: [..., dir]; open payload: { pruneModule: url }
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../bundle/baseline.ts';

/** Where the shipped prune.ts lives: its relative imports resolve from here. */
export const PRUNE_HOME = pathToFileURL(join(REPO_ROOT, 'src', 'graph') + '/').href;

// The specifier of a static import/export (`from '...'`), a side-effect import (`import '...'`)
// or a dynamic import (`import('...')`): only relative `.ts` paths are rewritten.
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"\n]*\.ts)\2/g;

/** `source` with each relative `.ts` import specifier replaced by its absolute file URL under `base`. */
export function rewriteRelativeImports(source: string, base: string = PRUNE_HOME): string {
  return source.replace(SPECIFIER, (_m, lead: string, q: string, spec: string) => `${lead}${q}${new URL(spec, base).href}${q}`);
}

/**
 * Writes `source` (rewritten) as a read-only `prune.mts` in a new folder under `root` (the `.mts`
 * extension makes it an ES module whatever package.json lies above). Returns the folder (for the
 * sandbox's readPaths) and the module's file URL (for buildGraph's pruneModule).
 */
export function materialisePrune(source: string, root: string, label: string): { dir: string; url: string } {
  const dir = mkdtempSync(join(root, `${label}-graph-code-`));
  const file = join(dir, 'prune.mts');
  writeFileSync(file, rewriteRelativeImports(source));
  // The child cannot write it anyway (write access: its scratch only; the mount is read-only).
  chmodSync(file, 0o444);
  return { dir, url: pathToFileURL(file).href };
}
