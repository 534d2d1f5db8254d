/**
 * The arena: the base vectors (zero-padded to a multiple of 4 floats) in one shared wasm memory,
 * then an iota table (0..n-1, for scans over every vector), optionally the kNN lists, and one
 * scratch block per thread (id lists in, distances out, spare vectors, NN-descent's slot array
 * and membership matrix). Every thread attaches its own kernel instance to the same memory.
 */
import { UserError } from '../errors.ts';
import { instantiateKernels, MAX_PAGES, WASM_PAGE, type DistKernel, type JoinRowKernel, type ScanKernel, type WasmMemory } from './simd-kernels.ts';

// The WebAssembly.Memory constructor, typed here: the project's lib settings (no DOM) omit it.
const WasmMemoryCtor = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory } })
  .WebAssembly.Memory;

/** Ids / distances one kernel call can take from a thread's scratch. */
export const SCRATCH_INTS = 16384;

export interface ArenaLayout {
  n: number;
  dim: number;
  /** dim rounded up to a multiple of 4. */
  dim4: number;
  /** Bytes per stored vector (dim4 * 4). */
  stride: number;
  kernel: 'l2' | 'negdot';
  iotaPtr: number;
  /** NN-descent's kNN lists (n * listInts i32), or 0 bytes. */
  listPtr: number;
  listInts: number;
  /** Per-thread extras inside the scratch block: a u16 per node (slot) and a u8 matrix (known). */
  slotBytes: number;
  knownBytes: number;
  scratchPtr: number;
  scratchBytes: number;
  threads: number;
  pages: number;
}

export interface ArenaInit {
  memory: WasmMemory;
  layout: ArenaLayout;
}

/** One thread's handle on the arena. */
export interface Arena {
  layout: ArenaLayout;
  f32: Float32Array;
  i32: Int32Array;
  /** The metric's kernel (squared L2, or -dot for ip and angular). */
  dist: DistKernel;
  /** Both kernels, for geometry that is metric-independent (projections, spreading seeds). */
  l2: DistKernel;
  negdot: DistKernel;
  /** Byte addresses of this thread's scratch: ids in, distances out, two spare vectors. */
  idsPtr: number;
  outPtr: number;
  qPtr: number;
  ids: Int32Array;
  out: Float32Array;
  q: Float32Array;
  scanKnown: ScanKernel;
  detours: DistKernel;
  /** The local-join row kernel for this metric. */
  joinRow: JoinRowKernel;
  slotPtr: number;
  knownPtr: number;
  /** n entries when the arena was made with lists, else empty. */
  slot: Uint16Array;
  known: Uint8Array;
  /** The kNN lists region (n * listInts), empty when absent. */
  lists: Int32Array;
}

export interface ArenaExtras {
  /** i32 per node reserved for kNN lists (NN-descent's K). */
  listInts?: number;
  /** Bytes of the per-thread u8 matrix. */
  knownBytes?: number;
}

/** Copy the base into a fresh shared memory laid out for `threads` threads. */
export function createArena(data: Float32Array, n: number, dim: number, l2: boolean, threads: number, extras: ArenaExtras = {}): ArenaInit {
  const dim4 = (dim + 3) & ~3;
  const stride = dim4 * 4;
  const iotaPtr = n * stride;
  const listInts = extras.listInts ?? 0;
  const listPtr = iotaPtr + ((n * 4 + 15) & ~15);
  const scratchPtr = listPtr + ((n * listInts * 4 + 15) & ~15);
  const slotBytes = listInts ? (n * 2 + 15) & ~15 : 0;
  const knownBytes = ((extras.knownBytes ?? 0) + 15) & ~15;
  const scratchBytes = SCRATCH_INTS * 8 + 2 * stride + slotBytes + knownBytes;
  const total = scratchPtr + threads * scratchBytes;
  const pages = Math.ceil(total / WASM_PAGE);
  if (pages > MAX_PAGES) {
    throw new UserError(`graph build: ${n} x ${dim} vectors need ${(total / 2 ** 30).toFixed(2)} GiB of kernel memory; the limit is 4 GiB`);
  }
  const memory = new WasmMemoryCtor({ initial: pages, maximum: pages, shared: true });
  const f32 = new Float32Array(memory.buffer);
  if (dim4 === dim) {
    f32.set(data.subarray(0, n * dim));
  } else {
    for (let i = 0; i < n; i++) f32.set(data.subarray(i * dim, (i + 1) * dim), i * dim4);
  }
  const iota = new Int32Array(memory.buffer, iotaPtr, n);
  for (let i = 0; i < n; i++) iota[i] = i;
  return {
    memory,
    layout: { n, dim, dim4, stride, kernel: l2 ? 'l2' : 'negdot', iotaPtr, listPtr, listInts, slotBytes, knownBytes, scratchPtr, scratchBytes, threads, pages },
  };
}

export function attachArena(init: ArenaInit, thread: number): Arena {
  const { memory, layout } = init;
  const k = instantiateKernels(memory, layout.pages);
  const base = layout.scratchPtr + thread * layout.scratchBytes;
  const idsPtr = base;
  const outPtr = base + SCRATCH_INTS * 4;
  const qPtr = base + SCRATCH_INTS * 8;
  const slotPtr = qPtr + 2 * layout.stride;
  const knownPtr = slotPtr + layout.slotBytes;
  return {
    layout,
    f32: new Float32Array(memory.buffer),
    i32: new Int32Array(memory.buffer),
    dist: layout.kernel === 'l2' ? k.l2 : k.negdot,
    l2: k.l2,
    negdot: k.negdot,
    idsPtr,
    outPtr,
    qPtr,
    ids: new Int32Array(memory.buffer, idsPtr, SCRATCH_INTS),
    out: new Float32Array(memory.buffer, outPtr, SCRATCH_INTS),
    q: new Float32Array(memory.buffer, qPtr, 2 * layout.dim4),
    scanKnown: k.scanKnown,
    detours: k.detours,
    joinRow: layout.kernel === 'l2' ? k.joinRowL2 : k.joinRowDot,
    slotPtr,
    knownPtr,
    slot: new Uint16Array(memory.buffer, slotPtr, layout.slotBytes ? layout.n : 0),
    known: new Uint8Array(memory.buffer, knownPtr, layout.knownBytes),
    lists: new Int32Array(memory.buffer, layout.listPtr, layout.n * layout.listInts),
  };
}
