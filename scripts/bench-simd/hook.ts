// Preloaded with `node --import ./scripts/bench-simd/hook.ts` by scripts/bench-simd.ts, for both
// variants so both pay the same resolve-hook cost (worker start-up resolves through it too).
// With BENCH_SIMD_KERNELS=old, every import of src/graph/simd-kernels.ts, in this process and in
// its graph-build workers (which inherit the --import and the environment), resolves to
// ./old-kernels.ts, the hand-assembled module it replaced; otherwise nothing changes.
import { register } from 'node:module';

const OLD = process.env.BENCH_SIMD_KERNELS === 'old' ? new URL('./old-kernels.ts', import.meta.url).href : null;
const hooks = `
const OLD = ${JSON.stringify(OLD)};
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  return OLD && r.url.endsWith('/src/graph/simd-kernels.ts') ? { ...r, url: OLD } : r;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
