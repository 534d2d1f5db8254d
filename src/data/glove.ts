/**
 * GloVe-style text vectors: one entry per line, a word followed by whitespace-separated decimals.
 * The first line fixes the dimension; every later line must match it. Errors name file:line.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { UserError } from '../errors.ts';
import type { VectorSet } from './types.ts';
import { MAX_DIM, checkLimit, openInput } from './vecs.ts';

export interface GloveVectors {
  words: string[];
  vectors: VectorSet;
}

// A decimal as GloVe and numpy print them; rejects hex, empty strings and 'inf' spellings that
// Number() would quietly accept or map to 0.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export async function readGloveText(file: string, opts: { limit?: number } = {}): Promise<GloveVectors> {
  checkLimit(opts.limit);
  // Fail early with a clear message for missing files and directories.
  const { fh } = await openInput(file);
  await fh.close();

  const words: string[] = [];
  let data = new Float32Array(1 << 16);
  let dim = 0;
  let n = 0;
  let lineNo = 0;
  const input = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      lineNo++;
      const tokens = line.trim().split(/\s+/);
      if (tokens.length === 1 && tokens[0] === '') continue; // blank line
      if (dim === 0) {
        dim = tokens.length - 1;
        if (dim < 1) throw new UserError(`${file}:${lineNo}: expected a word followed by numbers, found only '${clip(tokens[0])}'`);
        if (dim > MAX_DIM) throw new UserError(`${file}:${lineNo}: ${dim} values, expected at most ${MAX_DIM}`);
      } else if (tokens.length - 1 !== dim) {
        throw new UserError(`${file}:${lineNo}: word '${clip(tokens[0])}' has ${tokens.length - 1} values, expected ${dim} (as on the first line)`);
      }
      if (data.length < (n + 1) * dim) {
        const grown = new Float32Array(Math.max(data.length * 2, (n + 1) * dim));
        grown.set(data);
        data = grown;
      }
      for (let t = 0; t < dim; t++) {
        const tok = tokens[t + 1];
        const v = Number(tok);
        if (!DECIMAL.test(tok)) {
          const what = /^[+-]?(nan|inf(inity)?)$/i.test(tok) ? 'a non-finite value' : 'not a number';
          throw new UserError(`${file}:${lineNo}: value ${t + 1} of word '${clip(tokens[0])}' is ${what}: '${clip(tok)}'`);
        }
        const f = Math.fround(v);
        if (!Number.isFinite(f)) throw new UserError(`${file}:${lineNo}: value ${t + 1} of word '${clip(tokens[0])}' overflows float32: '${clip(tok)}'`);
        data[n * dim + t] = f;
      }
      words.push(tokens[0]);
      n++;
      if (opts.limit !== undefined && n >= opts.limit) break;
    }
  } finally {
    lines.close();
    input.destroy();
  }
  if (n === 0) throw new UserError(`${file}: no vectors found; expected lines of 'word v1 v2 ...'`);
  return { words, vectors: { data: data.slice(0, n * dim), n, dim } };
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}
