import { describe, expect, it } from 'vitest';
import { formatQps, formatTable, renderTable } from '../../src/bench/table.ts';
import { UserError } from '../../src/errors.ts';
import { evaluationsAtRecall } from '../../src/bench/reward.ts';
import { sampleBenchResult } from '../../scripts/check-report-screenshot.ts';

describe('terminal table', () => {
  it('aligns columns: numbers right, text left', () => {
    const t = formatTable(['name', 'qps'], [['a', '1'], ['longer', '12,345']], ['l', 'r']);
    expect(t.split('\n')).toEqual(['name       qps', '------  ------', 'a            1', 'longer  12,345']);
  });

  it('formats QPS with separators and dashes for missing values', () => {
    expect(formatQps(29343.4)).toBe('29,343');
    expect(formatQps(12.345)).toBe('12.3');
    expect(formatQps(null)).toBe('-');
  });

  it('renders a result with AUC, QPS at recall, ratios and notes', () => {
    const text = renderTable(sampleBenchResult());
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^synthetic-20k \(n=20000, dim=128, nq=200, l2, k=10\) on llvmpipe/);
    expect(lines[1]).toMatch(/^system\s+kind\s+build s\s+AUC\s+QPS@0\.90\s+QPS@0\.95\s+QPS@0\.99\s+evals\/q@0\.95\s+B\/vec\s+index\s+bytes\/q@0\.95\s+x vs gpu-beam\s+note$/);
    const gpu = lines.find((l) => l.startsWith('gpu-beam'))!;
    expect(gpu).toMatch(/29,343\s+30,000\s+21,000\s+9,800\s+-\s+-\s+-\s+-\s+1\.00$/);
    // A swept curve with fewer than 3 points inside the window is flagged, never silently scored.
    const hnsw = lines.find((l) => l.startsWith('hnswlib-node'))!;
    expect(hnsw).toMatch(/31,911\s+32,000\s+26,556\s+-\s+-\s+-\s+-\s+-\s+1\.09\s+only 1 point in window \(< 3\)$/);
    // A fixed-point system (one point) is not flagged.
    expect(lines.find((l) => l.startsWith('brute-force'))).toMatch(/0\.01$/);
    expect(lines.find((l) => l.startsWith('usearch'))).toMatch(/error: optional dependency usearch is not installed$/);
    // Columns line up: every data row is as wide as the header up to the note column.
    const noteCol = lines[1].indexOf('note');
    for (const l of lines.slice(3)) expect(l.length).toBeGreaterThanOrEqual(noteCol - 2);
  });

  it('takes ratios against a chosen reference and rejects an unknown one', () => {
    const text = renderTable(sampleBenchResult(), 'hnswlib-node');
    expect(text).toContain('x vs hnswlib-node');
    expect(text.split('\n').find((l) => l.startsWith('hnswlib-node'))).toMatch(/1\.00\s+only 1 point/);
    expect(() => renderTable(sampleBenchResult(), 'faiss')).toThrow(UserError);
  });

  it('shows distance evaluations per query at recall 0.95, interpolated between counted points', () => {
    const r = sampleBenchResult();
    const s = r.systems[0];
    s.points = [
      { effort: 8, recall: 0.9, qps: 30000, seconds: [], evaluations: 400 },
      { effort: 16, recall: 0.96, qps: 20000, seconds: [], evaluations: 700 },
      { effort: 32, recall: 0.99, qps: 10000, seconds: [], evaluations: 1000 },
    ];
    s.summary.evaluationsAt95 = evaluationsAtRecall(s.points, 0.95);
    expect(s.summary.evaluationsAt95).toBeCloseTo(650, 6);
    expect(renderTable(r).split('\n').find((l) => l.startsWith(s.name))).toMatch(/\s650\s+-\s+-\s+-\s+1\.00/);
    // A crinn row with a codec: bytes per vector (codes + f32 rerank row), index size, bytes read per query at 0.95.
    Object.assign(s.params, { bytesPerVector: 144, rerankBytesPerVector: 512, indexBytes: 7.5 * (1 << 20) });
    s.summary.bytesReadAt95 = 47.25 * 1024;
    expect(renderTable(r).split('\n').find((l) => l.startsWith(s.name))).toMatch(/\s650\s+144\+512\s+7\.5M\s+47\.3K\s+1\.00/);
    expect(evaluationsAtRecall(s.points, 0.995)).toBeNull();
    expect(evaluationsAtRecall([{ recall: 0.97, evaluations: 500 }], 0.95)).toBe(500);
  });
});
