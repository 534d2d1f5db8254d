// The hand-assembled kernel module that src/graph/simd-kernels.wat replaced, kept verbatim (as of
// commit d325aa9^) for scripts/bench-simd.ts only: its old-vs-new comparison loads this file in
// place of src/graph/simd-kernels.ts. Not part of the library.

/**
 * Distance kernels for the CPU graph build, as a tiny hand-assembled WebAssembly SIMD module.
 *
 * Why wasm: a 128-d distance costs ~200 ns in plain JS (scalar doubles) and ~15 ns with f32x4
 * SIMD, and the build is almost all distance computations. The module imports one shared memory,
 * so every worker thread runs the same kernels over the same vectors without copies.
 *
 * Exports: `l2` and `negdot` (distances), `scanKnown` (NN-descent's membership matrix) and
 * `detours` (CAGRA's detour count); the arena (arena.ts) lays out the memory they work on.
 *
 * The two distance kernels have the signature
 *   (q, base, stride, ids, count, out, dimBytes): out[k] = dist(q, base + ids[k] * stride)
 * with byte addresses; vectors are padded with zeros to a multiple of 4 floats (the padding
 * changes neither distance). `l2` gives squared L2, `negdot` gives -<q, x>: for ip and angular
 * that ranks exactly like the metric's own distance (-dot, 1 - dot).
 * Four vectors are scored per pass so q is loaded once per four; the horizontal sums use the same
 * association order for the 4-wide and the 1-wide paths, so dist(a, b) is bit-identical wherever
 * it is computed (the kNN lists rely on that to detect duplicates by distance).
 */

// The WebAssembly globals, typed here: the project's lib settings (no DOM) do not declare them.
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
}
interface WasmApi {
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
 * NN-descent's membership scan, (lists, rowBytes, cand, nScan, slot, known, kw): zero
 * known[0 .. nScan * kw), then for p < nScan, for each entry code of list cand[p]:
 * known[p * kw + slot[code >> 1]] = 1, where
 * lists hold i32 codes (id << 1 | flag), slot is a u16 array (id -> 1 + candidate index, or 0)
 * and known a u8 matrix. Branch-free; it is the hottest loop of the kNN build.
 */
function scanBody(): number[] {
  const LISTS = 0, ROWB = 1, CAND = 2, NSCAN = 3, SLOT = 4, KNOWN = 5, KW = 6;
  const P = 7, ROW = 8, ROW_END = 9, KR = 10;
  const AND = 0x71;
  const LOAD16U = [0x2f, 1, 0];
  const STORE8 = [0x3a, 0, 0];
  const MEMORY_FILL = [0xfc, 0x0b, 0x00];
  const body = [
    // known[0 .. nScan * kw) = 0
    ...get(KNOWN), ...i32c(0), ...get(NSCAN), ...get(KW), MUL, ...MEMORY_FILL,
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

/**
 * CAGRA's detour count for one node, (lists, K, x, rank1, detours, -, -): with L = the i32 code
 * lists (id << 1 | flag, K per node), rank1 a u16 array (1 + rank in x's list, 0 if absent) and
 * detours an i32[K + 1] array: for i < K - 1, a = L[x][i], for r < K - 1, j1 = rank1[L[a][r]]:
 * detours[j1 > max(i, r) + 1 ? j1 : 0]++. Branch-free through `select`.
 */
function detourBody(): number[] {
  const LISTS = 0, KK = 1, X = 2, RANK = 3, DET = 4;
  const I = 7, R = 8, AROW = 9, J1 = 10, ADDR = 11, XROW = 12, LIM = 13;
  const SHR_U = 0x76, SUB = 0x6b, SELECT = 0x1b, GT_S = 0x4a, I32_STORE = [0x36, 2, 0];
  const LOAD16U = [0x2f, 1, 0];
  const body = [
    // xrow = lists + x * K * 4
    ...get(LISTS), ...get(X), ...get(KK), MUL, ...i32c(2), SHL, ADD, ...set(XROW),
    ...i32c(0), ...set(I),
    ...BLOCK,
    ...LOOP,
    ...get(I), ...get(KK), ...i32c(1), SUB, GE_U, ...brIf(1),
    // arow = lists + (L[x][i] >> 1) * K * 4
    ...get(LISTS), ...get(XROW), ...get(I), ...i32c(2), SHL, ADD, ...LOAD32(0), ...i32c(1), SHR_U, ...get(KK), MUL, ...i32c(2), SHL, ADD, ...set(AROW),
    ...i32c(0), ...set(R),
    ...LOOP,
    // j1 = rank1[L[a][r] >> 1]
    ...get(RANK), ...get(AROW), ...get(R), ...i32c(2), SHL, ADD, ...LOAD32(0), ...i32c(1), SHR_U, ...i32c(1), SHL, ADD, ...LOAD16U, ...set(J1),
    // lim = max(i, r) + 1
    ...get(I), ...get(R), ...get(I), ...get(R), GT_S, SELECT, ...i32c(1), ADD, ...set(LIM),
    // addr = det + (j1 > lim ? j1 : 0) * 4; *addr += 1
    ...get(DET), ...get(J1), ...i32c(0), ...get(J1), ...get(LIM), GT_S, SELECT, ...i32c(2), SHL, ADD, ...set(ADDR),
    ...get(ADDR), ...get(ADDR), ...LOAD32(0), ...i32c(1), ADD, ...I32_STORE,
    ...get(R), ...i32c(1), ADD, ...set(R),
    ...get(R), ...get(KK), ...i32c(1), SUB, LT_U, ...brIf(0),
    END,
    ...get(I), ...i32c(1), ADD, ...set(I),
    ...br(0),
    END,
    END,
    END,
  ];
  const code = [...vec([[...uleb(7), I32]]), ...body];
  return [...uleb(code.length), ...code];
}

/**
 * One row of NN-descent's local join, (cand, m, i, known, worst, subIds, subIdx, out, offers,
 * stride) -> offer count. Partners jj > i that are not known on both sides are gathered
 * (subIds: their ids, subIdx: their indices), scored by the distance kernel into out, and each
 * pair that beats a side's worst (f32 per candidate) and is unknown to that side is written to
 * offers as (side, other, d) triples of i32, i32, f32. The caller does the list inserts.
 */
function joinRowBody(l2: boolean): number[] {
  const CAND = 0, M = 1, II = 2, KNOWN = 3, WORST = 4, SUBIDS = 5, SUBIDX = 6, OUT = 7, OFFERS = 8, STRIDE = 9;
  const KW = 10, KI = 11, C = 12, JJ = 13, T = 14, NOFF = 15, ADDR = 16, D = 17, WI = 18;
  const AND = 0x71, EQZ = 0x45, F32_LT = 0x5d, RETURN = 0x0f, CALL = 0x10;
  const IF = [0x04, 0x40];
  const LOAD8U = (off: number) => [0x2d, 0, ...uleb(off)];
  const STORE32 = (off: number) => [0x36, 2, ...uleb(off)];
  const F32_LOAD = [0x2a, 2, 0];
  const F32_STORE_AT = (off: number) => [0x38, 2, ...uleb(off)];
  const idx4 = (base: number, i: number) => [...get(base), ...get(i), ...i32c(2), SHL, ADD];
  // known[row * kw + col + 1] with row/col locals
  const knownAt = (row: number, col: number) => [...get(KNOWN), ...get(row), ...get(KW), MUL, ADD, ...get(col), ADD, ...LOAD8U(1)];
  const emit = (side: number, other: number) => [
    ...get(OFFERS), ...get(NOFF), ...i32c(12), MUL, ADD, ...set(ADDR),
    ...get(ADDR), ...get(side), ...STORE32(0),
    ...get(ADDR), ...get(other), ...STORE32(4),
    ...get(ADDR), ...get(D), ...F32_STORE_AT(8),
    ...get(NOFF), ...i32c(1), ADD, ...set(NOFF),
  ];
  const body = [
    ...get(M), ...i32c(1), ADD, ...set(KW),
    ...get(II), ...i32c(1), ADD, ...set(JJ),
    ...i32c(0), ...set(C),
    // Gather the partners not known on both sides.
    ...BLOCK,
    ...LOOP,
    ...get(JJ), ...get(M), GE_U, ...brIf(1),
    ...knownAt(II, JJ), ...knownAt(JJ, II), AND, EQZ,
    ...IF,
    ...idx4(SUBIDS, C), ...idx4(CAND, JJ), ...LOAD32(0), ...STORE32(0),
    ...idx4(SUBIDX, C), ...get(JJ), ...STORE32(0),
    ...get(C), ...i32c(1), ADD, ...set(C),
    END,
    ...get(JJ), ...i32c(1), ADD, ...set(JJ),
    ...br(0),
    END,
    END,
    ...get(C), EQZ, ...IF, ...i32c(0), RETURN, END,
    // Score them: dist(cand[i], subIds[0..c)) -> out.
    ...idx4(CAND, II), ...LOAD32(0), ...get(STRIDE), MUL, ...i32c(0), ...get(STRIDE), ...get(SUBIDS), ...get(C), ...get(OUT), ...get(STRIDE),
    CALL, l2 ? 0 : 1,
    ...idx4(WORST, II), ...F32_LOAD, ...set(WI),
    ...i32c(0), ...set(NOFF),
    ...i32c(0), ...set(T),
    ...BLOCK,
    ...LOOP,
    ...get(T), ...get(C), GE_U, ...brIf(1),
    ...idx4(OUT, T), ...F32_LOAD, ...set(D),
    ...idx4(SUBIDX, T), ...LOAD32(0), ...set(JJ),
    // Offer to i when it beats i's worst and i's list lacks jj.
    ...get(D), ...get(WI), F32_LT, ...knownAt(II, JJ), EQZ, AND,
    ...IF, ...emit(II, JJ), END,
    // Offer to jj likewise.
    ...get(D), ...idx4(WORST, JJ), ...F32_LOAD, F32_LT, ...knownAt(JJ, II), EQZ, AND,
    ...IF, ...emit(JJ, II), END,
    ...get(T), ...i32c(1), ADD, ...set(T),
    ...br(0),
    END,
    END,
    ...get(NOFF),
    END,
  ];
  const F32 = 0x7d;
  const code = [...vec([[...uleb(7), I32], [...uleb(2), F32]]), ...body];
  return [...uleb(code.length), ...code];
}

/** The module bytes; `maxPages` is the shared memory's declared maximum (64 KiB pages). */
export function kernelModuleBytes(maxPages: number): Uint8Array {
  const kernelType = [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32]]), 0x00];
  const joinType = [0x60, ...vec(new Array<number[]>(10).fill([I32])), ...vec([[I32]])];
  const memImport = [...str('env'), ...str('mem'), 0x02, 0x03, ...uleb(0), ...uleb(maxPages)];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([kernelType, joinType])),
    ...section(2, vec([memImport])),
    ...section(3, vec([[0], [0], [0], [0], [1], [1]])),
    ...section(
      7,
      vec([
        [...str('l2'), 0x00, 0],
        [...str('negdot'), 0x00, 1],
        [...str('scanKnown'), 0x00, 2],
        [...str('detours'), 0x00, 3],
        [...str('joinRowL2'), 0x00, 4],
        [...str('joinRowDot'), 0x00, 5],
      ]),
    ),
    ...section(10, vec([kernelBody(true), kernelBody(false), scanBody(), detourBody(), joinRowBody(true), joinRowBody(false)])),
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

export interface Kernels {
  l2: DistKernel;
  negdot: DistKernel;
  scanKnown: ScanKernel;
  /** See detourBody: (lists, K, x, rank1, detours, 0, 0), byte addresses except K and x. */
  detours: DistKernel;
  joinRowL2: JoinRowKernel;
  joinRowDot: JoinRowKernel;
}

/** See joinRowBody: (cand, m, i, known, worst, subIds, subIdx, out, offers, stride) -> offers. */
export type JoinRowKernel = (
  cand: number, m: number, i: number, known: number, worst: number, subIds: number, subIdx: number, out: number, offers: number, stride: number,
) => number;

export function instantiateKernels(memory: WasmMemory, maxPages: number): Kernels {
  const module = new WA.Module(kernelModuleBytes(maxPages));
  const inst = new WA.Instance(module, { env: { mem: memory } });
  return inst.exports as unknown as Kernels;
}
