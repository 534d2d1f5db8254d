/**
 * Distance kernels for the CPU graph build, as a tiny hand-assembled WebAssembly SIMD module.
 *
 * Why wasm: a 128-d distance costs ~200 ns in plain JS (scalar doubles) and ~15 ns with f32x4
 * SIMD, and the build is almost all distance computations. The module imports one shared memory,
 * so every worker thread runs the same kernels over the same vectors without copies.
 *
 * Both kernels have the signature
 *   (q, base, stride, ids, count, out, dimBytes): out[k] = dist(q, base + ids[k] * stride)
 * with byte addresses; vectors are padded with zeros to a multiple of 4 floats (the padding
 * changes neither distance). `l2` gives squared L2, `negdot` gives -<q, x>: for ip and angular
 * that ranks exactly like the metric's own distance (-dot, 1 - dot).
 * Four vectors are scored per pass so q is loaded once per four; the horizontal sums use the same
 * association order for the 4-wide and the 1-wide paths, so dist(a, b) is bit-identical wherever
 * it is computed (the kNN lists rely on that to detect duplicates by distance).
 */

import { UserError } from '../errors.ts';

// The WebAssembly globals, typed here: the project's lib settings (no DOM) do not declare them.
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const str = (s: string): number[] => [...uleb(s.length), ...Array.from(Buffer.from(s, 'utf8'))];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

// Opcodes used below.
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const i32c = (v: number) => [0x41, ...sleb(v)];
const ADD = 0x6a, MUL = 0x6c, SHL = 0x74, GT_U = 0x4b, LT_U = 0x49, GE_U = 0x4f;
const LOAD32 = (offset: number) => [0x28, 2, ...uleb(offset)];
const F32_STORE = [0x38, 2, 0];
const F32_ADD = 0x92;
const F32_NEG = 0x8c;
const simd = (op: number) => [0xfd, ...uleb(op)];
const V_LOAD = [...simd(0x00), 4, 0];
const V_STORE = [...simd(0x0b), 4, 0];
const V_ZERO = [...simd(0x0c), ...new Array<number>(16).fill(0)];
const F4_ADD = simd(0xe4), F4_SUB = simd(0xe5), F4_MUL = simd(0xe6), F4_NEG = simd(0xe1);
const extract = (lane: number) => [...simd(0x1f), lane];
function shuffle(lanes: number[]): number[] {
  const bytes: number[] = [];
  for (const l of lanes) for (let b = 0; b < 4; b++) bytes.push(l * 4 + b);
  return [...simd(0x0d), ...bytes];
}
const BLOCK = [0x02, 0x40], LOOP = [0x03, 0x40], END = 0x0b;
const br = (d: number) => [0x0c, d], brIf = (d: number) => [0x0d, d];

// Parameters and locals of the kernel.
const Q = 0, BASE = 1, STRIDE = 2, IDS = 3, COUNT = 4, OUT = 5, DIMB = 6;
const K = 7, I = 8, P0 = 9, P1 = 10, P2 = 11, P3 = 12; // i32 locals
const A0 = 13, A1 = 14, A2 = 15, A3 = 16, QV = 17, S01 = 18, S23 = 19; // v128 locals

function kernelBody(l2: boolean): number[] {
  // acc += term(q_chunk, x_chunk): l2 -> (q - x)^2, dot -> q * x. Stack in: nothing.
  const accumulate = (acc: number, p: number): number[] => [
    ...get(acc),
    ...get(QV),
    ...get(p), ...get(I), ADD, ...V_LOAD,
    ...(l2 ? [...F4_SUB, ...set(S01), ...get(S01), ...get(S01)] : []),
    ...F4_MUL,
    ...F4_ADD,
    ...set(acc),
  ];
  // p = base + ids[k + lane] * stride
  const pointer = (p: number, lane: number): number[] => [
    ...get(BASE), ...get(IDS), ...get(K), ...i32c(2), SHL, ADD, ...LOAD32(lane * 4), ...get(STRIDE), MUL, ADD, ...set(p),
  ];
  const loadQ = [...get(Q), ...get(I), ADD, ...V_LOAD, ...set(QV)];
  const innerLoop = (ps: number[], accs: number[]): number[] => [
    ...i32c(0), ...set(I),
    ...LOOP,
    ...loadQ,
    ...ps.flatMap((p, j) => accumulate(accs[j], p)),
    ...get(I), ...i32c(16), ADD, ...set(I),
    ...get(I), ...get(DIMB), LT_U, ...brIf(0),
    END,
  ];
  const pairSum = (a: number, b: number): number[] => [
    ...get(a), ...get(b), ...shuffle([0, 1, 4, 5]),
    ...get(a), ...get(b), ...shuffle([2, 3, 6, 7]),
    ...F4_ADD,
  ];
  const outAddr = [...get(OUT), ...get(K), ...i32c(2), SHL, ADD];
  const body = [
    ...i32c(0), ...set(K),
    // Four at a time.
    ...BLOCK,
    ...LOOP,
    ...get(K), ...i32c(4), ADD, ...get(COUNT), GT_U, ...brIf(1),
    ...pointer(P0, 0), ...pointer(P1, 1), ...pointer(P2, 2), ...pointer(P3, 3),
    ...V_ZERO, ...set(A0), ...V_ZERO, ...set(A1), ...V_ZERO, ...set(A2), ...V_ZERO, ...set(A3),
    ...innerLoop([P0, P1, P2, P3], [A0, A1, A2, A3]),
    // [a0+a2, a1+a3, b0+b2, b1+b3] and the same for c, d; then lane-pair sums give [a, b, c, d].
    ...pairSum(A0, A1), ...set(S01),
    ...pairSum(A2, A3), ...set(S23),
    ...outAddr,
    ...get(S01), ...get(S23), ...shuffle([0, 2, 4, 6]),
    ...get(S01), ...get(S23), ...shuffle([1, 3, 5, 7]),
    ...F4_ADD,
    ...(l2 ? [] : F4_NEG),
    ...V_STORE,
    ...get(K), ...i32c(4), ADD, ...set(K),
    ...br(0),
    END,
    END,
    // The rest one at a time, summed in the same order: (l0 + l2) + (l1 + l3).
    ...BLOCK,
    ...LOOP,
    ...get(K), ...get(COUNT), GE_U, ...brIf(1),
    ...pointer(P0, 0),
    ...V_ZERO, ...set(A0),
    ...innerLoop([P0], [A0]),
    ...outAddr,
    ...get(A0), ...extract(0), ...get(A0), ...extract(2), F32_ADD,
    ...get(A0), ...extract(1), ...get(A0), ...extract(3), F32_ADD,
    F32_ADD,
    ...(l2 ? [] : [F32_NEG]),
    ...F32_STORE,
    ...get(K), ...i32c(1), ADD, ...set(K),
    ...br(0),
    END,
    END,
    END,
  ];
  const locals = vec([[...uleb(6), I32], [...uleb(7), V128]]);
  const code = [...locals, ...body];
  return [...uleb(code.length), ...code];
}

/**
 * NN-descent's membership scan, (lists, rowBytes, cand, nScan, slot, known, kw):
 * for p < nScan, for each entry code of list cand[p]: known[p * kw + slot[code >> 1]] = 1, where
 * lists hold i32 codes (id << 1 | flag), slot is a u16 array (id -> 1 + candidate index, or 0)
 * and known a u8 matrix. Branch-free; it is the hottest loop of the kNN build.
 */
function scanBody(): number[] {
  const LISTS = 0, ROWB = 1, CAND = 2, NSCAN = 3, SLOT = 4, KNOWN = 5, KW = 6;
  const P = 7, ROW = 8, ROW_END = 9, KR = 10;
  const AND = 0x71;
  const LOAD16U = [0x2f, 1, 0];
  const STORE8 = [0x3a, 0, 0];
  const body = [
    ...i32c(0), ...set(P),
    ...BLOCK,
    ...LOOP,
    ...get(P), ...get(NSCAN), GE_U, ...brIf(1),
    // row = lists + cand[p] * rowBytes; kr = known + p * kw
    ...get(LISTS), ...get(CAND), ...get(P), ...i32c(2), SHL, ADD, ...LOAD32(0), ...get(ROWB), MUL, ADD, ...set(ROW),
    ...get(ROW), ...get(ROWB), ADD, ...set(ROW_END),
    ...get(KNOWN), ...get(P), ...get(KW), MUL, ADD, ...set(KR),
    ...LOOP,
    // known[kr + slot[(code & ~1) bytes]] = 1
    ...get(KR),
    ...get(SLOT), ...get(ROW), ...LOAD32(0), ...i32c(-2), AND, ADD, ...LOAD16U,
    ADD, ...i32c(1), ...STORE8,
    ...get(ROW), ...i32c(4), ADD, ...set(ROW),
    ...get(ROW), ...get(ROW_END), LT_U, ...brIf(0),
    END,
    ...get(P), ...i32c(1), ADD, ...set(P),
    ...br(0),
    END,
    END,
    END,
  ];
  const code = [...vec([[...uleb(4), I32]]), ...body];
  return [...uleb(code.length), ...code];
}

/** The module bytes; `maxPages` is the shared memory's declared maximum (64 KiB pages). */
export function kernelModuleBytes(maxPages: number): Uint8Array {
  const kernelType = [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32]]), 0x00];
  const memImport = [...str('env'), ...str('mem'), 0x02, 0x03, ...uleb(0), ...uleb(maxPages)];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([kernelType])),
    ...section(2, vec([memImport])),
    ...section(3, vec([[0], [0], [0]])),
    ...section(7, vec([[...str('l2'), 0x00, 0], [...str('negdot'), 0x00, 1], [...str('scanKnown'), 0x00, 2]])),
    ...section(10, vec([kernelBody(true), kernelBody(false), scanBody()])),
  ];
  return new Uint8Array(bytes);
}

/** (q, base, stride, ids, count, out, dimBytes), all byte addresses in the shared memory. */
export type DistKernel = (q: number, base: number, stride: number, ids: number, count: number, out: number, dimBytes: number) => void;

export const WASM_PAGE = 65536;
export const MAX_PAGES = 65536; // 4 GiB: the wasm32 limit

/** Instantiate the kernels over a shared memory (synchronous: the module is a few hundred bytes). */
/** See scanBody: (lists, rowBytes, cand, nScan, slot, known, kw), byte addresses. */
export type ScanKernel = DistKernel;

export function instantiateKernels(memory: WasmMemory, maxPages: number): { l2: DistKernel; negdot: DistKernel; scanKnown: ScanKernel } {
  const module = new WA.Module(kernelModuleBytes(maxPages));
  const inst = new WA.Instance(module, { env: { mem: memory } });
  return inst.exports as unknown as { l2: DistKernel; negdot: DistKernel; scanKnown: ScanKernel };
}

// ---------------------------------------------------------------------------------------------
// The arena: the base vectors (zero-padded to a multiple of 4 floats) in one shared wasm memory,
// followed by an iota table (0..n-1, for scans over every vector) and one scratch block per
// thread (id lists in, distances out, a spare vector).

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
  const memory = new WA.Memory({ initial: pages, maximum: pages, shared: true });
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
    slotPtr,
    knownPtr,
    slot: new Uint16Array(memory.buffer, slotPtr, layout.slotBytes ? layout.n : 0),
    known: new Uint8Array(memory.buffer, knownPtr, layout.knownBytes),
    lists: new Int32Array(memory.buffer, layout.listPtr, layout.n * layout.listInts),
  };
}

/** Distance between two stored vectors (slow path: one kernel call per pair). */
export function pairDistance(a: Arena, i: number, j: number): number {
  a.ids[0] = j;
  a.dist(i * a.layout.stride, 0, a.layout.stride, a.idsPtr, 1, a.outPtr, a.layout.stride);
  return a.out[0];
}
