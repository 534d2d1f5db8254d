/**
 * The index's large read-only arrays (the base rows, the graph) and their accessors, owned by the
 * harness (never by a kernel or row loader, so a variant cannot rebind them). Row loaders
 * (shaders/base_*.wgsl, a codec's `rowLoader`) and the refine kernel read the GPU rows only through
 * `base_at(i)`: the i-th 16-byte group of the packed rows, as raw bits (a loader bitcasts or
 * unpacks); the beam kernel reads the graph only through `graph_at(i)`. One accessor is what lets
 * an array live in one binding or, where one binding cannot hold it, in several: chunks of 2^shift
 * elements (whole 16-byte groups), chunk 0 at the array's own binding, the others at bindings past
 * the kernel's last one. The chunk count is a compile-time value of the kernel (its cache key says it).
 */
import { UserError } from '../errors.ts';

/** How one array is split over bindings. */
export interface ChunkLayout {
  /** Elements in the array. */
  elements: number;
  /** Bytes per element (16 for the base's vec4<u32>, 4 for the graph's u32). */
  elementBytes: number;
  /** Chunks (bindings); 1 = the array in one binding. */
  chunks: number;
  /** log2 of the elements per chunk (only meaningful when chunks > 1). */
  shift: number;
}

/** The device limits a layout is planned against (GpuContext.limits or the browser's). */
export interface BindingLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxStorageBuffersPerShaderStage: number;
}

/**
 * Splits `elements` of `elementBytes` over as few bindings as the device needs: one when it fits
 * one binding, else chunks of the largest power of two of elements one binding (and one buffer)
 * holds. `what` names the array in errors.
 */
export function chunkLayout(what: string, elements: number, elementBytes: number, limits: BindingLimits): ChunkLayout {
  const perBinding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (elements >= 2 ** 32) throw new UserError(`${what}: ${elements} elements of ${elementBytes} bytes exceed the 2^32 a u32 index addresses`);
  if (elements * elementBytes <= perBinding) return { elements, elementBytes, chunks: 1, shift: 0 };
  const maxElems = Math.floor(perBinding / elementBytes);
  if (maxElems < 1) throw new UserError(`${what}: one ${elementBytes}-byte element exceeds this adapter's maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}`);
  // Whole 16-byte groups per chunk, and a power of two so the accessor splits an index with a shift and a mask.
  const shift = Math.floor(Math.log2(maxElems));
  if (2 ** shift * elementBytes < 16) throw new UserError(`${what}: this adapter's maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize} is below one 16-byte group`);
  return { elements, elementBytes, chunks: Math.ceil(elements / 2 ** shift), shift };
}

/** Element range [start, end) of chunk c. */
export function chunkRange(layout: ChunkLayout, c: number): [number, number] {
  if (layout.chunks === 1) return [0, layout.elements];
  const size = 2 ** layout.shift;
  return [c * size, Math.min(layout.elements, (c + 1) * size)];
}

/**
 * Checks that the storage bindings a kernel needs (its own plus the extra chunks) fit the device,
 * with both numbers in the error: the index cannot be held at all on this device otherwise.
 */
export function checkStorageBindings(kernel: string, own: number, layouts: readonly ChunkLayout[], limits: BindingLimits, sizes: string, hint?: () => string): void {
  const extra = layouts.reduce((s, l) => s + l.chunks - 1, 0);
  const need = own + extra;
  if (need > limits.maxStorageBuffersPerShaderStage) {
    throw new UserError(`${kernel}: the index needs ${need} storage bindings (${own} of the kernel, ${extra} more to split ${sizes} at this adapter's maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}) but this adapter's maxStorageBuffersPerShaderStage is ${limits.maxStorageBuffersPerShaderStage}: this device cannot hold the index${hint?.() ?? ''}`);
  }
}

/**
 * A chunked array's declarations and accessor `fnName(i) -> elemType`: every chunk of `layout`, or
 * where a refine pass binds a window, chunks [window, window + 1 + extraBindings.length); the first
 * at `binding`, the others at `extraBindings`. `i` is the array-wide index either way.
 */
function chunkedWgsl(name: string, fnName: string, elemType: string, binding: number, layout: ChunkLayout, extraBindings: readonly number[], window: number | null = null): string {
  if (layout.chunks === 1) {
    return [`@group(0) @binding(${binding}) var<storage, read> ${name}: array<${elemType}>;`, `fn ${fnName}(i: u32) -> ${elemType} { return ${name}[i]; }`].join('\n');
  }
  const count = extraBindings.length + 1;
  const first = window ?? 0;
  if (window === null && count !== layout.chunks) throw new Error(`${name}: ${layout.chunks} chunks but ${count} bindings`);
  if (first + count > layout.chunks) throw new Error(`${name}: chunks [${first}, ${first + count}) of ${layout.chunks}`);
  const bindings = [binding, ...extraBindings];
  const decls = bindings.map((b, c) => `@group(0) @binding(${b}) var<storage, read> ${name}_${c}: array<${elemType}>;`);
  const mask = (2 ** layout.shift - 1) >>> 0;
  const cases = bindings.map((_, c) => (c === bindings.length - 1 ? `    default: { return ${name}_${c}[j]; }` : `    case ${c}u: { return ${name}_${c}[j]; }`));
  const chunk = first === 0 ? `i >> ${layout.shift}u` : `(i >> ${layout.shift}u) - ${first}u`;
  return [
    ...decls,
    `// ${layout.chunks} chunks of 2^${layout.shift} elements: the binding limit is below the array's size.${first > 0 || count < layout.chunks ? ` Bound here: chunks ${first}..${first + count - 1}.` : ''}`,
    `fn ${fnName}(i: u32) -> ${elemType} {`,
    `  let j = i & ${mask}u;`,
    ...(count === 1 ? [`  return ${name}_0[j];`] : [`  switch (${chunk}) {`, ...cases, '  }']),
    '}',
  ].join('\n');
}

/**
 * One pass of a rerank whose f32 rows need more bindings than one kernel has: it binds chunks
 * [firstChunk, endChunk) and scores the rows [lo, hi) those chunks hold whole.
 */
export interface RowWindow {
  firstChunk: number;
  endChunk: number;
  lo: number;
  hi: number;
}

/**
 * Splits `rows` rows of `rowElements` elements each, laid out as `layout`, into windows of at most
 * `maxChunks` bindings: one window of every chunk when they fit. A row that straddles two chunks
 * belongs to the window holding both, so consecutive windows can share a chunk.
 */
export function rowWindows(layout: ChunkLayout, rows: number, rowElements: number, maxChunks: number): RowWindow[] {
  if (layout.chunks <= maxChunks) return [{ firstChunk: 0, endChunk: layout.chunks, lo: 0, hi: rows }];
  const size = 2 ** layout.shift;
  const out: RowWindow[] = [];
  let lo = 0;
  while (lo < rows) {
    const firstChunk = Math.floor((lo * rowElements) / size);
    const endChunk = Math.min(layout.chunks, firstChunk + maxChunks);
    // Rows whose last element lies before endChunk's first.
    const hi = endChunk === layout.chunks ? rows : Math.min(rows, Math.floor((endChunk * size) / rowElements));
    if (hi <= lo) throw new UserError(`a row of ${rowElements * layout.elementBytes} bytes spans more than the ${maxChunks} bindings of ${size * layout.elementBytes} bytes one kernel can hold`);
    out.push({ firstChunk, endChunk, lo, hi });
    lo = hi;
  }
  return out;
}

/**
 * The base rows at binding 2 (extra chunks at `extraBindings`) and `base_at(i) -> vec4<u32>`;
 * `firstChunk` set where a refine pass binds a window of the chunks (rowWindows).
 */
export function baseBindingWgsl(layout: ChunkLayout = { elements: 0, elementBytes: 16, chunks: 1, shift: 0 }, extraBindings: readonly number[] = [], firstChunk: number | null = null): string {
  return chunkedWgsl('base', 'base_at', 'vec4<u32>', 2, layout, extraBindings, firstChunk);
}

/** The graph at binding 3 (extra chunks at `extraBindings`) and `graph_at(i) -> u32` (beam_search.wgsl). */
export function graphBindingWgsl(layout: ChunkLayout = { elements: 0, elementBytes: 4, chunks: 1, shift: 0 }, extraBindings: readonly number[] = []): string {
  return chunkedWgsl('graph', 'graph_at', 'u32', 3, layout, extraBindings);
}
