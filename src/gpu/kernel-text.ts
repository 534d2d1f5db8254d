/**
 * Node-free helpers that specialise WGSL text and lay out rows for it: shared by the Node engine
 * (shader.ts, exact-knn.ts, gpu-search.ts) and the browser loader (src/browser/).
 */

/** Rewrites a `const NAME: u32 = ...u;` line: WGSL array lengths must be compile-time constants. */
export function withConst(source: string, name: string, value: number): string {
  const re = new RegExp(`const ${name}: u32 = \\d+u;`);
  if (!re.test(source)) throw new Error(`shader has no 'const ${name}: u32 = ...u;' line to specialise`);
  return source.replace(re, `const ${name}: u32 = ${value}u;`);
}

/** Rows zero-padded to `dim4 * 4` floats (kernels read vec4s). */
export function padRows(set: { data: Float32Array; n: number; dim: number }, dim4 = Math.ceil(set.dim / 4)): { data: Float32Array; dim4: number } {
  if (dim4 * 4 === set.dim) return { data: set.data, dim4 };
  const out = new Float32Array(set.n * dim4 * 4);
  for (let i = 0; i < set.n; i++) out.set(set.data.subarray(i * set.dim, (i + 1) * set.dim), i * dim4 * 4);
  return { data: out, dim4 };
}

/** The select kernel's list length K is an array length, so it is substituted into the source. */
export function selectKernelFrom(topkSource: string, K: number): Kernel {
  return { name: 'topk_select', cacheKey: `K${K}`, source: withConst(topkSource, 'K', K), constants: { WG: 64 }, bindings: TOPK_BINDINGS };
}

/** What a binding of group 0 is: the host decides, so a kernel cannot promote an input to writable. */
export type BindingKind = 'uniform' | 'read-only-storage' | 'storage';

/**
 * A kernel: name, the cache key of its compile-time specialisation only (never per-dispatch
 * values, which go in uniforms), the WGSL source, and `override` constant values.
 */
export interface Kernel {
  name: string;
  cacheKey: string;
  source: string;
  entryPoint?: string;
  constants?: Record<string, number>;
  /**
   * Group 0's bindings in order, when the host fixes them: the pipeline then gets an explicit
   * layout (every binding must be supplied at bind time) instead of 'auto'.
   */
  bindings?: readonly BindingKind[];
}

// topk_select.wgsl: params; dist_in, ids_in; dist_out, ids_out.
export const TOPK_BINDINGS: readonly BindingKind[] = ['uniform', 'read-only-storage', 'read-only-storage', 'storage', 'storage'];

/**
 * The pipeline layout of a kernel that declares its bindings (else 'auto'). With an explicit layout,
 * WGSL that declares a read-only binding `read_write` fails pipeline creation instead of getting a
 * writable view of a persistent index buffer.
 */
export function pipelineLayout(device: GPUDevice, kernel: Kernel): GPUPipelineLayout | 'auto' {
  if (!kernel.bindings) return 'auto';
  const label = `${kernel.name}[${kernel.cacheKey}]`;
  const bgl = device.createBindGroupLayout({
    label: `${label}:bindings`,
    entries: kernel.bindings.map((type, binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } })),
  });
  return device.createPipelineLayout({ label: `${label}:layout`, bindGroupLayouts: [bgl] });
}

/**
 * A kernel's pipeline-cache key: `digest` is a hash of the full source (two sources of the same
 * length are different kernels), plus its specialisation and declared bindings.
 */
export function pipelineKey(kernel: Kernel, digest: string): string {
  return `${kernel.name}|${kernel.cacheKey}|${JSON.stringify(kernel.constants ?? {})}|${(kernel.bindings ?? ['auto']).join(',')}|${digest}`;
}

/** List lengths are rounded up so a handful of specialisations serve every k. */
export function selectListLength(k: number): number {
  return k <= 16 ? 16 : 1 << Math.ceil(Math.log2(k));
}
