import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { readGloveText } from '../../src/data/glove.ts';
import { expectUserError, tempDir } from './helpers.ts';

const { dir, cleanup } = tempDir('crinn-glove-');
afterAll(cleanup);

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('GloVe text reader', () => {
  it('reads words and vectors, tolerating CRLF, tabs and blank lines', async () => {
    const p = file('ok.txt', 'the 0.1 -0.2 3e-2\r\n, 1 2 3\n\nof\t-1.5 .5 +2\n');
    const { words, vectors } = await readGloveText(p);
    expect(words).toEqual(['the', ',', 'of']);
    expect(vectors).toMatchObject({ n: 3, dim: 3 });
    expect(Array.from(vectors.data)).toEqual([0.1, -0.2, 0.03, 1, 2, 3, -1.5, 0.5, 2].map(Math.fround));
    const head = await readGloveText(p, { limit: 2 });
    expect(head.words).toEqual(['the', ',']);
  });

  it('inconsistent dimensions name file:line and both counts', async () => {
    const p = file('dims.txt', 'a 1 2 3\nb 1 2 3\nc 1 2\n');
    await expectUserError(readGloveText(p), `${p}:3`, "'c'", 'has 2 values', 'expected 3');
  });

  it('NaN and bad tokens name the line and value', async () => {
    const p = file('nan.txt', 'a 1 2\nb 1 NaN\n');
    await expectUserError(readGloveText(p), `${p}:2`, 'value 2', 'non-finite', 'NaN');
    const q = file('bad.txt', 'a 1 2\nb 1 2\nc 0x1f 2\n');
    await expectUserError(readGloveText(q), `${q}:3`, 'value 1', 'not a number', '0x1f');
    const r = file('big.txt', 'a 1 1e39\n');
    await expectUserError(readGloveText(r), `${r}:1`, 'overflows float32');
  });

  it('empty, word-only and missing files', async () => {
    const e = file('empty.txt', '\n\n');
    await expectUserError(readGloveText(e), e, 'no vectors');
    const w = file('word.txt', 'hello\n');
    await expectUserError(readGloveText(w), `${w}:1`, 'only');
    await expectUserError(readGloveText(path.join(dir, 'none.txt')), 'none.txt', 'not found');
  });
});
