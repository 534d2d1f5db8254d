/**
 * Labels of base vectors (filtered search): each vector carries a small set of u32 label ids,
 * stored compressed-row (CSR): row i's labels are `ids[offsets[i] .. offsets[i + 1])`, ascending
 * and distinct. Read from a text file (one line per vector) or a `.u32` per-vector bitset file;
 * stored in the index file as an optional section (src/graph/index-format.ts). Node-free (the
 * browser loader decodes index files); reading a file is labels-file.ts.
 */
import { UserError } from '../errors.ts';

export interface LabelSets {
  /** Vectors labelled (= the base size). */
  n: number;
  /** n + 1 entries: row i's labels are ids[offsets[i] .. offsets[i + 1]). */
  offsets: Uint32Array;
  /** Every row's label ids, each row ascending and distinct. */
  ids: Uint32Array;
}

/** Label ids are < 2^31 so a filter's payload and every kernel can hold them as plain u32. */
export const MAX_LABEL_ID = 0x7fffffff;

/** Row i's labels (a view, no copy). */
export function labelsOf(l: LabelSets, i: number): Uint32Array {
  return l.ids.subarray(l.offsets[i], l.offsets[i + 1]);
}

/** Label sets from one array per vector (any order, repeats allowed); `where` names the source in errors. */
export function labelSetsFromRows(rows: readonly (readonly number[])[], where = 'labels'): LabelSets {
  const offsets = new Uint32Array(rows.length + 1);
  let total = 0;
  const clean = rows.map((r, i) => {
    for (const v of r) {
      if (!Number.isInteger(v) || v < 0 || v > MAX_LABEL_ID) throw new UserError(`${where}: vector ${i}: label ${v} is not an integer in 0..${MAX_LABEL_ID}`);
    }
    const s = [...new Set(r)].sort((a, b) => a - b);
    total += s.length;
    offsets[i + 1] = total;
    return s;
  });
  const ids = new Uint32Array(total);
  clean.forEach((s, i) => ids.set(s, offsets[i]));
  return { n: rows.length, offsets, ids };
}

/** What is wrong with label sets for a base of n vectors (undefined: nothing). */
export function checkLabelSets(l: LabelSets, n: number): string | undefined {
  if (l.n !== n || l.offsets.length !== n + 1) return `labels: ${l.n} rows (${l.offsets.length} offsets), expected ${n} (n + 1 offsets)`;
  if (l.offsets[0] !== 0 || l.offsets[n] !== l.ids.length) return `labels: offsets must run from 0 to ${l.ids.length}, got ${l.offsets[0]}..${l.offsets[n]}`;
  for (let i = 0; i < n; i++) {
    const a = l.offsets[i];
    const b = l.offsets[i + 1];
    if (b < a) return `labels: vector ${i}: offsets decrease (${a} > ${b})`;
    for (let j = a; j < b; j++) {
      if (l.ids[j] > MAX_LABEL_ID) return `labels: vector ${i}: label ${l.ids[j]} exceeds ${MAX_LABEL_ID}`;
      if (j > a && l.ids[j] <= l.ids[j - 1]) return `labels: vector ${i}: labels must ascend without repeats, got ${l.ids[j - 1]} then ${l.ids[j]}`;
    }
  }
  return undefined;
}

/** Vectors per label (label id -> count), for reports and synthetic filter picking. */
export function labelCounts(l: LabelSets): Map<number, number> {
  const m = new Map<number, number>();
  for (const v of l.ids) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

/**
 * Parses a labels file for a base of `n` vectors. Two formats, chosen by the file name:
 * - `*.u32`: a per-vector bitset, little-endian u32 words, W words per vector (W = size / 4n, a
 *   whole number >= 1): bit b of word w set means label 32w + b.
 * - anything else: UTF-8 text, line i = the labels of vector i as non-negative integers separated
 *   by spaces, tabs or commas (an empty line: no labels), exactly n lines.
 */
export function parseLabels(bytes: Uint8Array, n: number, path: string): LabelSets {
  if (path.endsWith('.u32')) {
    if (n === 0 || bytes.length === 0 || bytes.length % (4 * n) !== 0) {
      throw new UserError(`${path}: a .u32 label bitset holds a whole number of u32 words per vector; ${bytes.length} bytes is not a positive multiple of 4 x ${n} vectors`);
    }
    const W = bytes.length / (4 * n);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const rows: number[][] = [];
    for (let i = 0; i < n; i++) {
      const r: number[] = [];
      for (let w = 0; w < W; w++) {
        let x = view.getUint32((i * W + w) * 4, true);
        while (x !== 0) {
          const b = 31 - Math.clz32(x & -x);
          r.push(32 * w + b);
          x &= x - 1;
        }
      }
      rows.push(r);
    }
    return labelSetsFromRows(rows, path);
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length !== n) throw new UserError(`${path}: ${lines.length} lines of labels but the base has ${n} vectors (one line per vector, label ids separated by spaces or commas; or a .u32 bitset file)`);
  const rows = lines.map((line, i) => {
    const toks = line.replace(/\r$/, '').split(/[\s,]+/).filter((t) => t !== '');
    return toks.map((t) => {
      const v = /^\d+$/.test(t) ? Number(t) : NaN;
      if (!(v <= MAX_LABEL_ID)) throw new UserError(`${path}:${i + 1}: '${t}' is not a label id (an integer in 0..${MAX_LABEL_ID})`);
      return v;
    });
  });
  return labelSetsFromRows(rows, path);
}
