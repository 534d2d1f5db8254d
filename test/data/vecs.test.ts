import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readBvecs, readFvecs, readIvecs, vecsShape, writeFvecs, writeIvecs } from '../../src/data/vecs.ts';
import { expectUserError, tempDir } from './helpers.ts';

const { dir, cleanup } = tempDir('crinn-vecs-');
afterAll(cleanup);

/** Raw records: each [dim, values...] as int32 header + values encoded by `enc`. */
function records(rows: number[][], bytesPer: number, enc: (b: Buffer, v: number, at: number) => void, dims?: number[]): Buffer {
  const parts = rows.map((r, i) => {
    const b = Buffer.alloc(4 + r.length * bytesPer);
    b.writeInt32LE(dims?.[i] ?? r.length, 0);
    r.forEach((v, j) => enc(b, v, 4 + j * bytesPer));
    return b;
  });
  return Buffer.concat(parts);
}
const f32 = (b: Buffer, v: number, at: number) => b.writeFloatLE(v, at);

function file(name: string, bytes: Buffer): string {
  const p = path.join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

describe('fvecs / ivecs round trip', () => {
  it('writes and reads back bit-exact, including -0, subnormals and extremes', async () => {
    const n = 1000, dim = 37;
    const data = new Float32Array(n * dim);
    for (let i = 0; i < data.length; i++) data[i] = Math.fround(Math.sin(i) * 10 ** ((i % 9) - 4));
    data[0] = -0;
    data[1] = 1e-45;
    data[2] = 3.4028234663852886e38;
    const p = path.join(dir, 'rt.fvecs');
    await writeFvecs(p, { data, n, dim });
    const back = await readFvecs(p);
    expect(back.n).toBe(n);
    expect(back.dim).toBe(dim);
    expect(Buffer.from(back.data.buffer).equals(Buffer.from(data.buffer))).toBe(true);
    expect(await vecsShape(p)).toEqual({ n, dim });
    const head = await readFvecs(p, { limit: 10 });
    expect(head.n).toBe(10);
    expect(Array.from(head.data)).toEqual(Array.from(data.subarray(0, 10 * dim)));
  });

  it('ivecs round trip, and no temp files are left behind', async () => {
    const ids = Int32Array.from({ length: 500 * 100 }, (_, i) => (i * 7919) % 1_000_003 - 5);
    const p = path.join(dir, 'rt.ivecs');
    await writeIvecs(p, { data: ids, n: 500, dim: 100 });
    const back = await readIvecs(p);
    expect(back).toMatchObject({ n: 500, dim: 100 });
    expect(Buffer.from(back.data.buffer).equals(Buffer.from(ids.buffer))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a failed write leaves neither the destination nor a temp file', async () => {
    const p = path.join(dir, 'bad.fvecs');
    await expectUserError(writeFvecs(p, { data: new Float32Array(5), n: 2, dim: 3 }), p, '2 x 3');
    await expectUserError(writeFvecs(path.join(dir, 'no-such-dir', 'x.fvecs'), { data: new Float32Array(3), n: 1, dim: 3 }), 'no-such-dir', 'does not exist');
    expect(readdirSync(dir).filter((f) => f.startsWith('.bad') || f === 'bad.fvecs')).toEqual([]);
  });

  it('reads bvecs as float values', async () => {
    const p = file('b.bvecs', records([[0, 1, 255], [7, 8, 9]], 1, (b, v, at) => b.writeUInt8(v, at)));
    const v = await readBvecs(p);
    expect(v).toMatchObject({ n: 2, dim: 3 });
    expect(Array.from(v.data)).toEqual([0, 1, 255, 7, 8, 9]);
  });
});

describe('vecs validation', () => {
  it('truncated file names the file, the record and the byte counts', async () => {
    const full = records([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], 4, f32);
    const p = file('trunc.fvecs', full.subarray(0, full.length - 6));
    await expectUserError(readFvecs(p), p, 'truncated', 'record 2', '14 of 20 bytes');
  });

  it('inconsistent dimensions name the record and both dims', async () => {
    const p = file('dims.fvecs', records([[1, 2, 3], [4, 5, 6], [7, 8]], 4, f32));
    await expectUserError(readFvecs(p), p, 'record 2', 'dimension 2', 'expected 3');
    const q = file('dims2.fvecs', Buffer.concat([records([[1, 2, 3], [1, 2]], 4, f32), records([[4, 5, 6]], 4, f32)]));
    await expectUserError(readFvecs(q), q, 'record 1 has dimension 2, expected 3');
  });

  it('NaN and Inf values name the row and column', async () => {
    const p = file('nan.fvecs', records([[1, 2], [3, NaN], [5, 6]], 4, f32));
    await expectUserError(readFvecs(p), p, 'row 1', 'NaN', 'column 1');
    const q = file('inf.fvecs', records([[Infinity, 2]], 4, f32));
    await expectUserError(readFvecs(q), q, 'row 0', 'Infinity');
  });

  it('absurd or non-positive dimensions, empty and missing files', async () => {
    const neg = file('neg.fvecs', records([[1]], 4, f32, [-5]));
    await expectUserError(readFvecs(neg), neg, 'dimension -5', 'expected 1..65536');
    const huge = file('huge.fvecs', records([[1]], 4, f32, [1 << 20]));
    await expectUserError(readFvecs(huge), huge, 'dimension 1048576');
    const empty = file('empty.ivecs', Buffer.alloc(0));
    await expectUserError(readIvecs(empty), empty, 'empty file');
    const missing = path.join(dir, 'missing.fvecs');
    await expectUserError(readFvecs(missing), missing, 'file not found');
    await expectUserError(readFvecs(dir), dir, 'directory');
  });

  it('limit must be a positive integer', async () => {
    const p = file('ok.fvecs', records([[1, 2]], 4, f32));
    await expectUserError(readFvecs(p, { limit: 0 }), 'limit', 'positive integer');
  });
});
