/**
 * Labels for filtered search: the two file formats and their errors, the labels section of the
 * index file (its own checksum; unlabelled files unchanged), the CPU filter oracle's postings, and
 * the synthetic Zipf labels reaching each target selectivity.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { labelSetsFromRows, labelsOf, parseLabels } from '../../src/data/labels.ts';
import { readLabelsFile } from '../../src/data/labels-file.ts';
import { passesFilter, passingIds, Postings, filterBitmap, type QueryFilter } from '../../src/data/filter.ts';
import { selectivityFilters, zipfLabels } from '../../src/data/synthetic-labels.ts';
import { loadIndex, saveIndex, type Index } from '../../src/graph/index-file.ts';
import { layout } from '../../src/graph/index-format.ts';
import { resolveBuildParams } from '../../src/graph/params.ts';

const dir = mkdtempSync(join(tmpdir(), 'crinn-labels-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const enc = (s: string) => new TextEncoder().encode(s);

describe('labels files', () => {
  it('reads text lines (spaces, commas, empty lines) into sorted distinct sets', () => {
    const l = parseLabels(enc('3 1 3\n\n7,2\r\n0\n'), 4, 'l.txt');
    expect([0, 1, 2, 3].map((i) => Array.from(labelsOf(l, i)))).toEqual([[1, 3], [], [2, 7], [0]]);
  });

  it('reads a .u32 bitset per vector (two words each)', () => {
    const words = new Uint32Array([0b101, 0, 0, 1 << 31, 0, 1]);
    const l = parseLabels(new Uint8Array(words.buffer), 3, 'l.u32');
    expect([0, 1, 2].map((i) => Array.from(labelsOf(l, i)))).toEqual([[0, 2], [63], [32]]);
  });

  it('names the file and line of a bad label, and the counts of a wrong-sized file', async () => {
    const bad = (bytes: Uint8Array, n: number, path: string, re: RegExp) => {
      const err = (() => {
        try {
          parseLabels(bytes, n, path);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    };
    bad(enc('1 2\n3 x\n'), 2, 'l.txt', /^l\.txt:2: 'x' is not a label id \(an integer in 0\.\.2147483647\)/);
    bad(enc('1\n-4\n'), 2, 'l.txt', /^l\.txt:2: '-4'/);
    bad(enc('1\n2\n'), 3, 'l.txt', /^l\.txt: 2 lines of labels but the base has 3 vectors/);
    bad(enc('99999999999\n'), 1, 'l.txt', /^l\.txt:1: '99999999999'/);
    bad(new Uint8Array(12), 2, 'l.u32', /^l\.u32: .* 12 bytes is not a positive multiple of 4 x 2 vectors/);
    const p = join(dir, 'missing.txt');
    await expect(readLabelsFile(p, 2)).rejects.toThrow(p);
  });
});

function sampleIndex(labelled: boolean): Index {
  const n = 40;
  const dim = 4;
  const neighbors = Uint32Array.from({ length: n * 2 }, (_, i) => (i * 7) % n);
  return {
    metric: 'l2',
    dim,
    n,
    storage: 'f32',
    vectors: Float32Array.from({ length: n * dim }, (_, i) => i % 13),
    graph: { n, degree: 2, neighbors },
    entryPoints: new Uint32Array([0]),
    entryLayer: { ids: new Uint32Array([0, 1]), degree: 1, neighbors: new Uint32Array([1, 0]) },
    buildParams: resolveBuildParams({ seed: 1 }, n, false),
    ...(labelled ? { labels: labelSetsFromRows(Array.from({ length: n }, (_, i) => (i % 3 === 0 ? [] : [i % 5, 100 + (i % 2)]))) } : {}),
  };
}

describe('index file: the labels section', () => {
  it('round-trips labels; an unlabelled file has no sections and flags 0', async () => {
    const p = join(dir, 'l.crinn');
    const idx = sampleIndex(true);
    await saveIndex(p, idx);
    const back = await loadIndex(p);
    expect(Array.from(back.labels!.offsets)).toEqual(Array.from(idx.labels!.offsets));
    expect(Array.from(back.labels!.ids)).toEqual(Array.from(idx.labels!.ids));
    await saveIndex(join(dir, 'l2.crinn'), back);
    expect(readFileSync(join(dir, 'l2.crinn')).equals(readFileSync(p))).toBe(true);

    const q = join(dir, 'u.crinn');
    const plain = sampleIndex(false);
    await saveIndex(q, plain);
    const bytes = readFileSync(q);
    // Version 3: an empty codec section (8-byte head) before the checksum.
    const L = layout(plain.n, plain.dim, 2, 'f32', 1, Buffer.byteLength(JSON.stringify(plain.buildParams)), 2, 1, { paramBytes: 0, codeBytes: 0 });
    expect(bytes.length).toBe(L.total);
    expect(bytes.readUInt32LE(36)).toBe(0);
    expect((await loadIndex(q)).labels).toBeUndefined();
    // The labelled file is the unlabelled one (but the flag) plus the section.
    expect(readFileSync(p).readUInt32LE(36)).toBe(1);
    expect(readFileSync(p).length).toBeGreaterThan(L.total + 8 + 32);
  });

  it('rejects a corrupted labels section by its own checksum, a truncated one, and unknown flags; skips an unknown tag', async () => {
    const p = join(dir, 'c.crinn');
    await saveIndex(p, sampleIndex(true));
    const good = readFileSync(p);
    const L = layout(40, 4, 2, 'f32', 1, Buffer.byteLength(JSON.stringify(sampleIndex(true).buildParams)), 2, 1);
    const flip = Buffer.from(good);
    flip[L.total + 8 + 20] ^= 1;
    writeFileSync(p, flip);
    await expect(loadIndex(p)).rejects.toThrow(/section 'LABL' checksum mismatch/);
    writeFileSync(p, good.subarray(0, good.length - 5));
    await expect(loadIndex(p)).rejects.toThrow(/section 'LABL' .* claims \d+ bytes/);
    const flags = Buffer.from(good);
    flags.writeUInt32LE(3, 36);
    writeFileSync(p, flags);
    await expect(loadIndex(p)).rejects.toThrow(/unknown header flags 0x3/);
    // A later section kind this build does not know: checked, then skipped.
    const head = Buffer.alloc(8);
    head.write('ZZZZ', 0, 'latin1');
    head.writeUInt32LE(4, 4);
    const payload = Buffer.from([1, 2, 3, 4]);
    writeFileSync(p, Buffer.concat([good, head, payload, createHash('sha256').update(head).update(payload).digest()]));
    expect((await loadIndex(p)).labels?.n).toBe(40);
  });
});

describe('filters on the CPU: postings and synthetic selectivities', () => {
  const labels = zipfLabels(20_000, { seed: 3 });
  const postings = new Postings(labels);

  it('passing sets from postings and bitmaps equal the predicate', () => {
    const filters: QueryFilter[] = [{ anyOf: [0] }, { anyOf: [3, 17, 400] }, { allOf: [0, 1] }, { allOf: [] }, { anyOf: [] }, { allOf: [2, 999_999] }];
    for (const f of filters) {
      const want = Array.from({ length: labels.n }, (_, i) => i).filter((i) => passesFilter(f, labels, i));
      expect(Array.from(passingIds(f, labels.n, postings)!)).toEqual(want);
      const bitmap = filterBitmap(f, labels.n, postings);
      expect(Array.from(passingIds({ bitmap }, labels.n, postings)!)).toEqual(want);
    }
    expect(passingIds({ anyOf: [0] }, labels.n, postings, 10)).toBeNull();
  });

  it('draws filters near each target selectivity, every one passing at least k', () => {
    for (const target of [0.5, 0.1, 0.01, 0.001]) {
      const r = selectivityFilters(labels, 200, target, { seed: 1, minPassing: 10 });
      expect(r.filters).toHaveLength(200);
      expect(r.minPassing).toBeGreaterThanOrEqual(10);
      expect(r.selectivity).toBeGreaterThan(target / 1.5);
      expect(r.selectivity).toBeLessThan(target * 1.5);
    }
    // Seeded: the same draw twice.
    expect(selectivityFilters(labels, 50, 0.01, { seed: 4 }).filters).toEqual(selectivityFilters(labels, 50, 0.01, { seed: 4 }).filters);
  });
});
