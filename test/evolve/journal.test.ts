import { describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { JOURNAL_FILE, JournalWriter, parseJournal, readJournal, type RunConfig } from '../../src/evolve/journal.ts';
import { foldJournal, pending } from '../../src/evolve/run-state.ts';
import { getVariant, putVariant } from '../../src/evolve/store.ts';
import { contentHash, loadVariant } from '../../src/evolve/modules.ts';
import { shippedBaseline } from '../../src/evolve/loop.ts';
import { baseline } from './fixtures/loop-evaluator.ts';

const config: RunConfig = { dataset: 'siftsmall-5k', policy: 'autotune', stages: ['search'], budget: { evals: 5 }, seed: 3, spread: 0.05, patience: 4, evaluator: {} };
const H = 'a'.repeat(64);
const tmp = () => mkdtempSync(path.join(tmpdir(), 'crinn-journal-'));

function writeSome(dir: string): JournalWriter {
  const j = JournalWriter.create(dir, { type: 'run-start', version: 1, runId: 'r', config });
  j.append({ type: 'stage-start', stage: 'search', startHash: H });
  j.append({ type: 'variant-proposed', stage: 'search', hash: H, parents: [], origin: 'baseline', knobValues: { searchWidth: 1 }, context: {} });
  return j;
}

describe('journal', () => {
  it('round-trips every record and folds into the same state', () => {
    const dir = tmp();
    writeSome(dir).close();
    const r = readJournal(dir);
    expect(r.torn).toBeUndefined();
    expect(r.records.map((x) => x.type)).toEqual(['run-start', 'stage-start', 'variant-proposed']);
    const st = foldJournal(r.records);
    expect(st.config).toEqual(config);
    expect(pending(st.stages[0]).map((p) => p.hash)).toEqual([H]);
    // Every line is one complete JSON record ending in a newline.
    const text = readFileSync(path.join(dir, JOURNAL_FILE), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    for (const line of text.trimEnd().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('drops a torn last line, and the reopened journal appends on a clean line', () => {
    const dir = tmp();
    writeSome(dir).close();
    const file = path.join(dir, JOURNAL_FILE);
    const intact = readFileSync(file, 'utf8');
    appendFileSync(file, '{"type":"verdict","time":"2026-');
    const r = readJournal(dir);
    expect(r.records).toHaveLength(3);
    expect(r.torn).toContain('"verdict"');
    expect(r.validBytes).toBe(Buffer.byteLength(intact));
    const j = JournalWriter.reopen(dir, r);
    j.append({ type: 'run-end', reason: 'test' });
    j.close();
    const again = readJournal(dir);
    expect(again.torn).toBeUndefined();
    expect(again.records.map((x) => x.type)).toEqual(['run-start', 'stage-start', 'variant-proposed', 'run-end']);
  });

  it('a complete last line that parses but lacks its newline is torn too', () => {
    const text = `${JSON.stringify({ type: 'run-end', time: 't', reason: 'x' })}`;
    expect(parseJournal(text, 'j').torn).toBe(text);
  });

  it('refuses damage before the last line, naming the file and line', () => {
    const dir = tmp();
    writeSome(dir).close();
    const file = path.join(dir, JOURNAL_FILE);
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[1] = lines[1].replace('"stage-start"', '"stage-begin"');
    writeFileSync(file, lines.join('\n'));
    expect(() => readJournal(dir)).toThrow(/journal\.jsonl: line 2 is not a valid journal record/);
  });

  it('refuses a record that breaks the schema when appending (nothing written)', () => {
    const dir = tmp();
    const j = writeSome(dir);
    const before = readFileSync(path.join(dir, JOURNAL_FILE), 'utf8');
    expect(() => j.append({ type: 'stage-start', stage: 'search', startHash: 'nothex' })).toThrow();
    j.close();
    expect(readFileSync(path.join(dir, JOURNAL_FILE), 'utf8')).toBe(before);
  });

  it('will not create a second journal in a run folder', () => {
    const dir = tmp();
    writeSome(dir).close();
    expect(() => JournalWriter.create(dir, { type: 'run-end', reason: 'x' })).toThrow(/already holds a run.*crinn resume/);
  });
});

describe('variant store', () => {
  it('addresses a variant by the contract hash of its files and knob values, stored whole', async () => {
    const dir = tmp();
    const b = await baseline('search');
    const s = putVariant(dir, b.variant, b.files);
    const sources = Object.fromEntries(b.files.map((f) => [f.path, f.content.toString()]));
    expect(s.hash).toBe(contentHash(sources, b.variant.knobValues));
    expect(putVariant(dir, b.variant, b.files).hash).toBe(s.hash);
    const other = putVariant(dir, { ...b.variant, knobValues: { ...b.variant.knobValues, searchWidth: 2 } }, b.files);
    expect(other.hash).not.toBe(s.hash);
    const back = getVariant(dir, s.hash);
    expect(back.variant.knobValues).toEqual(b.variant.knobValues);
    expect(back.files[0].content.equals(b.files[0].content)).toBe(true);
  });

  it("stores the shipped baselines as folders the evaluator loads, under the evaluator's own hash", async () => {
    const dir = tmp();
    for (const m of ['graph', 'search', 'refine'] as const) {
      const b = await shippedBaseline(m);
      const k = b.variant.manifest.knobs[0];
      const tuned = { ...b.variant, knobValues: { ...b.variant.knobValues, [k.name]: k.max }, origin: 'autotune' };
      for (const v of [b.variant, tuned]) {
        const s = putVariant(dir, v, b.files);
        expect(loadVariant(s.dir).hash).toBe(s.hash);
      }
    }
  });

  it('detects a stored variant whose content no longer matches its address', async () => {
    const dir = tmp();
    const b = await baseline('search');
    const s = putVariant(dir, b.variant, b.files);
    writeFileSync(path.join(s.dir, b.files[0].path), '// edited\n');
    expect(() => getVariant(dir, s.hash)).toThrow(/hashes to .* not to its name/);
  });

  it('refuses files outside the manifest or the folder', async () => {
    const dir = tmp();
    const b = await baseline('search');
    expect(() => putVariant(dir, b.variant, [...b.files, { path: '../x.wgsl', content: Buffer.from('') }])).toThrow(/inside the variant folder/);
    expect(() => putVariant(dir, b.variant, [])).toThrow(/has no content/);
  });
});
