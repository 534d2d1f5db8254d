/**
 * Which kernel role each file of an exported bundle fills: the one rule the library
 * (search/bundle.ts), the browser loader (browser/crinn-browser.ts) and the evaluator
 * (beam-core.ts withKernelFiles) apply. A module's files fill only that module's roles (search: the
 * beam kernel and the row loaders; refine: refine), by base name and the module folder of its path;
 * other files (graph/prune.ts) none.
 * Node-free.
 */
import { kernelRoleOf, moduleKernelRoles, type KernelRole } from './beam-core.ts';

/** Role -> bundle path (e.g. beam -> 'search/beam_search.wgsl') from a bundle manifest's `modules`. */
export function bundleKernelPaths(modules: Readonly<Record<string, { files?: unknown } | undefined>>): Record<KernelRole, string> {
  const out: Record<KernelRole, string> = {};
  for (const entry of Object.values(modules)) {
    for (const f of Array.isArray(entry?.files) ? entry.files : []) {
      if (typeof f !== 'string') continue;
      const role = kernelRoleOf(f);
      // The module is the path's folder ('search/base_f16.wgsl'), as the exporter writes it.
      const mod = f.slice(0, f.indexOf('/'));
      if (role && (mod === 'search' || mod === 'refine') && moduleKernelRoles(mod).includes(role)) out[role] = f;
    }
  }
  return out;
}
