import { describe, expect, it } from 'vitest';
import { parseBenchResult, parseBenchResultText } from '../../src/bench/schema.ts';
import { UserError } from '../../src/errors.ts';
import { sampleBenchResult } from '../../scripts/check-report-screenshot.ts';

describe('bench result schema', () => {
  it('accepts the sample and round-trips through JSON', () => {
    const sample = sampleBenchResult();
    const parsed = parseBenchResultText(JSON.stringify(sample), 'sample.json');
    expect(parsed).toEqual(sample);
  });

  it('accepts a result without an adapter (CPU-only run)', () => {
    const sample = { ...sampleBenchResult(), adapter: null };
    expect(parseBenchResult(sample, 'cpu.json').adapter).toBeNull();
  });

  it('names the file and the first bad field', () => {
    const bad = sampleBenchResult() as unknown as { systems: { points: { recall: unknown }[] }[] };
    bad.systems[0].points[1].recall = 1.2;
    expect(() => parseBenchResult(bad, 'runs/a.json')).toThrow(UserError);
    expect(() => parseBenchResult(bad, 'runs/a.json')).toThrow(/^runs\/a\.json: bench result field systems\.0\.points\.1\.recall: /);
  });

  it('rejects wrong versions, kinds, windows and missing fields', () => {
    const s = sampleBenchResult();
    expect(() => parseBenchResult({ ...s, schemaVersion: 2 }, 'f.json')).toThrow(/schemaVersion/);
    expect(() => parseBenchResult({ ...s, window: { lo: 0.95, hi: 0.85 } }, 'f.json')).toThrow(/window.*lo < hi/);
    expect(() => parseBenchResult({ ...s, systems: [{ ...s.systems[0], kind: 'tpu' }] }, 'f.json')).toThrow(/systems\.0\.kind/);
    const { dataset: _omit, ...rest } = s;
    expect(() => parseBenchResult(rest, 'f.json')).toThrow(/f\.json: bench result field dataset/);
    expect(() => parseBenchResult(null, 'f.json')).toThrow(/\(top level\)/);
  });

  it('reports invalid JSON against the file', () => {
    expect(() => parseBenchResultText('{"schemaVersion": 1,', 'broken.json')).toThrow(/^broken\.json: not valid JSON/);
  });
});
