import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { groupAdvantages, readTrajectories, writeGroup } from '../../src/evolve/llm/grpo.ts';
import { sampleExemplars, softmaxWeights } from '../../src/evolve/llm/exemplars.ts';
import { render, renderFile } from '../../src/evolve/llm/render.ts';
import { unifiedDiff } from '../../src/evolve/llm/diff.ts';
import { appendJsonl, readJsonl } from '../../src/evolve/llm/jsonl.ts';
import { UserError } from '../../src/errors.ts';

describe('GRPO advantages', () => {
  it('are (r - mean) / population std on known numbers', () => {
    // mean 2, population std sqrt(2/3)
    const a = groupAdvantages([1, 2, 3]);
    const s = Math.sqrt(2 / 3);
    expect(a[0]).toBeCloseTo(-1 / s, 12);
    expect(a[1]).toBeCloseTo(0, 12);
    expect(a[2]).toBeCloseTo(1 / s, 12);
    // mean 1.25, std 0.75 (the failed sample counts with reward 0)
    expect(groupAdvantages([0, 2, 1.5, 1.5])).toEqual([-1.25 / 0.75, 0.75 / 0.75, 0.25 / 0.75, 0.25 / 0.75].map((x) => expect.closeTo(x, 12)));
  });
  it('are 0 when the std is 0 (equal rewards, one sample)', () => {
    expect(groupAdvantages([1.2, 1.2, 1.2])).toEqual([0, 0, 0]);
    expect(groupAdvantages([0.7])).toEqual([0]);
    expect(groupAdvantages([])).toEqual([]);
  });
  it('writeGroup appends rows with advantages once, even when called again after a crash', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'grpo-'));
    const row = (sample: number, reward: number) => ({
      prompt: [{ role: 'user' as const, content: 'p' }], completion: [{ role: 'assistant' as const, content: `c${sample}` }], reward, group_id: 'search-g0', sample,
      module: 'search', stage: 'reward', status: 'ok' as const, reason: '', variant_hash: null, repaired: false, model: 'm', prompt_tokens: 1, completion_tokens: 1, time: 't',
    });
    writeGroup(dir, [row(0, 1), row(1, 3)]);
    writeGroup(dir, [row(0, 1), row(1, 3)]);
    const rows = readTrajectories(dir);
    expect(rows.map((r) => [r.sample, r.reward, r.advantage])).toEqual([[0, 1, -1], [1, 3, 1]]);
  });
});

describe('exemplar sampling', () => {
  const items = [3, 2.5, 2, 1.5, 1, 0.8, 0.5, 0.2].map((reward, i) => ({ reward, id: i }));
  it('softmax weights follow exp(r / T)', () => {
    const w = softmaxWeights([1, 0], 0.5);
    expect(w[0] / w[1]).toBeCloseTo(Math.exp(2), 9);
  });
  it('is seeded: the same seed gives the same draw, another seed may differ', () => {
    const a = sampleExemplars(items, 3, 1, 42).map((x) => x.id);
    expect(sampleExemplars(items, 3, 1, 42).map((x) => x.id)).toEqual(a);
    const draws = new Set(Array.from({ length: 20 }, (_, s) => sampleExemplars(items, 3, 1, s).map((x) => x.id).join()));
    expect(draws.size).toBeGreaterThan(1);
  });
  it('favours high reward but always includes a slower variant', () => {
    // At T = 0.05 a pure softmax would almost surely take the top three; the last slot goes to the slower half.
    for (let s = 0; s < 20; s++) {
      const ids = sampleExemplars(items, 3, 0.05, s).map((x) => x.id);
      expect(ids.slice(0, 2)).toEqual([0, 1]);
      expect(ids[2]).toBeGreaterThanOrEqual(4);
    }
    // Frequencies at T = 1 follow the rewards: the best is drawn more often than the worst.
    const counts = new Array(8).fill(0);
    for (let s = 0; s < 400; s++) for (const x of sampleExemplars(items, 2, 1, s)) counts[x.id]++;
    expect(counts[0]).toBeGreaterThan(counts[7] * 2);
    expect(counts[7]).toBeGreaterThan(0);
  });
  it('returns everything (best first) when there are fewer candidates than slots', () => {
    expect(sampleExemplars(items.slice(5), 4, 1, 1).map((x) => x.id)).toEqual([5, 6, 7]);
    expect(sampleExemplars(items, 0, 1, 1)).toEqual([]);
  });
});

describe('templates', () => {
  it('render fills {{name}} and errors on a missing variable, naming it', () => {
    expect(render('a {{x}} b {{ y }}', { x: 1, y: 'two' })).toBe('a 1 b two');
    expect(render('{{x}}', { x: '{{y}}' })).toBe('{{y}}');
    expect(() => render('a {{x}} {{zz}}', { x: 1 }, 'task-search.md')).toThrow(new UserError('task-search.md: no value for {{zz}}'));
  });
  it('every shipped template renders only with all its variables', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tpl-'));
    writeFileSync(path.join(dir, 'repair.md'), 'Error: {{error}}; files {{files}}; {{missing}}');
    expect(() => renderFile('repair.md', { error: 'e', files: 'f' }, dir)).toThrow(/repair\.md: no value for \{\{missing\}\}/);
    expect(renderFile('repair.md', { error: 'bad edit', files: 'refine.wgsl' })).toContain('bad edit');
    expect(() => renderFile('repair.md', { error: 'bad edit' })).toThrow(/no value for \{\{files\}\}/);
  });
});

describe('diff and jsonl', () => {
  it('unifiedDiff shows changed lines with context, empty when equal', () => {
    const a = 'l1\nl2\nl3\nl4\nl5\nl6\n';
    const b = 'l1\nl2\nL3\nl4\nl5\nl6\n';
    expect(unifiedDiff(a, b, 'f.wgsl')).toBe('--- best/f.wgsl\n+++ variant/f.wgsl\n@@ -1,5 +1,5 @@\n l1\n l2\n-l3\n+L3\n l4\n l5');
    expect(unifiedDiff(a, a, 'f')).toBe('');
  });
  it('a torn last line is ignored on read and cut off by the next append', () => {
    const f = path.join(mkdtempSync(path.join(tmpdir(), 'jsonl-')), 'x.jsonl');
    appendJsonl(f, { a: 1 });
    writeFileSync(f, `${readFileSync(f, 'utf8')}{"a": 2, "tor`);
    expect(readJsonl(f)).toEqual([{ a: 1 }]);
    appendJsonl(f, { a: 3 });
    expect(readJsonl(f)).toEqual([{ a: 1 }, { a: 3 }]);
    writeFileSync(f, 'garbage\n{"a":1}\n');
    expect(() => readJsonl(f)).toThrow(/line 1 is not JSON/);
  });
});
