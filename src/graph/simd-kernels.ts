/**
 * Distance and list kernels for the CPU graph build: a small WebAssembly SIMD module, written as
 * WebAssembly text in simd-kernels.wat (read that file for what each kernel computes, its
 * parameters and the memory layout) and assembled by `npm run build:wasm` into
 * simd-kernels.wasm.ts. No assembler runs at load time; test/graph/simd-kernels.test.ts
 * re-assembles the .wat and fails when the committed bytes differ.
 *
 * Why wasm: a 128-d distance costs ~200 ns in plain JS (scalar doubles) and ~15 ns with f32x4
 * SIMD, and the build is almost all distance computations. The module imports one shared memory,
 * so every worker thread runs the same kernels over the same vectors without copies.
 *
 * Exports: `l2` and `negdot` (distances), `scanKnown` (NN-descent's membership matrix),
 * `detours` (CAGRA's detour count) and `joinRowL2` / `joinRowDot` (one row of NN-descent's local
 * join); the arena (arena.ts) lays out the memory they work on.
 *
 * The two distance kernels have the signature
 *   (q, base, stride, ids, count, out, dimBytes): out[k] = dist(q, base + ids[k] * stride)
 * with byte addresses; vectors are padded with zeros to a multiple of 4 floats (the padding
 * changes neither distance). `l2` gives squared L2, `negdot` gives -<q, x>: for ip and angular
 * that ranks exactly like the metric's own distance (-dot, 1 - dot). dist(a, b) is bit-identical
 * wherever it is computed (the kNN lists rely on that to detect duplicates by distance).
 */
import { SIMD_KERNELS_WASM } from './simd-kernels.wasm.ts';

// The WebAssembly globals, typed here: the project's lib settings (no DOM) do not declare them.
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** (q, base, stride, ids, count, out, dimBytes), all byte addresses in the shared memory. */
export type DistKernel = (q: number, base: number, stride: number, ids: number, count: number, out: number, dimBytes: number) => void;

export const WASM_PAGE = 65536;
export const MAX_PAGES = 65536; // 4 GiB: the wasm32 limit

/** See simd-kernels.wat: (lists, rowBytes, cand, nScan, slot, known, kw), byte addresses. */
export type ScanKernel = DistKernel;

export interface Kernels {
  l2: DistKernel;
  negdot: DistKernel;
  scanKnown: ScanKernel;
  /** See simd-kernels.wat: (lists, K, x, rank1, detours, 0, 0), byte addresses except K and x. */
  detours: DistKernel;
  joinRowL2: JoinRowKernel;
  joinRowDot: JoinRowKernel;
}

/** See simd-kernels.wat: (cand, m, i, known, worst, subIds, subIdx, out, offers, stride) -> offers. */
export type JoinRowKernel = (
  cand: number, m: number, i: number, known: number, worst: number, subIds: number, subIdx: number, out: number, offers: number, stride: number,
) => number;

let compiled: object | undefined;

/**
 * Instantiate the kernels over a shared memory of `pages` 64 KiB pages (synchronous: the module is
 * 2.4 KB). The module declares the wasm32 maximum, MAX_PAGES, so one compiled module (kept per
 * thread) fits every arena.
 */
export function instantiateKernels(memory: WasmMemory, pages: number): Kernels {
  if (pages > MAX_PAGES) throw new RangeError(`SIMD kernels: ${pages} pages exceed the wasm32 limit of ${MAX_PAGES}`);
  compiled ??= new WA.Module(SIMD_KERNELS_WASM);
  const inst = new WA.Instance(compiled, { env: { mem: memory } });
  return inst.exports as unknown as Kernels;
}
