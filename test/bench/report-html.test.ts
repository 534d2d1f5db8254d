import { describe, expect, it } from 'vitest';
import { escapeHtml, renderReportHtml, SERIES_COLORS, WINDOW_FILL } from '../../src/bench/report-html.ts';
import type { BenchResult } from '../../src/bench/schema.ts';
import { sampleBenchResult } from '../../scripts/check-report-screenshot.ts';

function noExternalReferences(html: string): void {
  expect(html).not.toMatch(/https?:/i);
  expect(html).not.toMatch(/\s(src|href)\s*=/i);
  expect(html).not.toMatch(/@import|<script|<link|<img|<iframe/i);
  // The only url() is the in-document clip path.
  for (const m of html.matchAll(/url\(([^)]*)\)/g)) expect(m[1]).toMatch(/^#/);
}

describe('renderReportHtml', () => {
  it('is a self-contained page with plot, window, legend and table', () => {
    const html = renderReportHtml([sampleBenchResult()]);
    noExternalReferences(html);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<svg');
    expect(html).toContain(`fill="${WINDOW_FILL}"`);
    expect(html).toContain('reward window [0.85, 0.95]');
    expect(html).toContain('QPS (log scale)');
    // Two multi-point curves -> two frontier polylines; the oracle's single point has none.
    expect(html.match(/<polyline /g)).toHaveLength(2);
    expect(html).toContain(`stroke="${SERIES_COLORS[0]}"`);
    expect(html).toContain(`stroke="${SERIES_COLORS[1]}"`);
    // Systems with errors are in the table, without a curve.
    expect(html).toContain('error: optional dependency usearch is not installed');
    expect(html).toContain('29,343');
    expect(html).toContain('llvmpipe (LLVM 19.1.7, 256 bits)');
    expect(html).toContain('n=20000, dim=128, queries=200');
    // Work per query has a column; a swept curve thin in the window is flagged.
    expect(html).toContain('<th>evals/query@0.95</th>');
    expect(html).toContain('only 1 point in window (&lt; 3)');
  });

  it('shows distance evaluations per query at recall 0.95', () => {
    const r = sampleBenchResult();
    r.systems[0].summary.evaluationsAt95 = 1234.4;
    expect(renderReportHtml([r])).toContain('<td class="num">1,234</td>');
  });

  it('escapes every inserted text', () => {
    const r = sampleBenchResult();
    const evil = '<script>alert("x")</script>&\'';
    r.systems[0].name = evil;
    r.systems[2].error = evil;
    r.dataset.name = evil;
    r.adapter!.description = evil;
    r.adapter!.features = [evil];
    const html = renderReportHtml([r], evil);
    expect(html).not.toContain('<script');
    expect(html).not.toContain('alert("x")');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
    noExternalReferences(html);
    expect(escapeHtml('a<b>&"\'')).toBe('a&lt;b&gt;&amp;&quot;&#39;');
  });

  it('handles results with no points at all', () => {
    const r: BenchResult = { ...sampleBenchResult(), adapter: null };
    r.systems = r.systems.map((s) => ({ ...s, points: [], reachedWindow: false, summary: { auc: 0, qpsAt90: null, qpsAt95: null, qpsAt99: null } }));
    const html = renderReportHtml([r]);
    expect(html).toContain('no measured points');
    expect(html).toContain('no GPU adapter');
    expect(html).not.toContain('<polyline');
    expect(html).not.toMatch(/NaN|Infinity|undefined/);
    expect(renderReportHtml([])).toContain('No results.');
  });

  it('labels curves "system @ adapter" when comparing results', () => {
    const a = sampleBenchResult();
    const b = sampleBenchResult();
    b.adapter = { ...b.adapter!, description: 'NVIDIA H100', backend: 'vulkan' };
    const html = renderReportHtml([a, b]);
    expect(html).toContain('gpu-beam @ llvmpipe (LLVM 19.1.7, 256 bits) (vulkan)');
    expect(html).toContain('gpu-beam @ NVIDIA H100 (vulkan)');
    expect(html.match(/<polyline /g)).toHaveLength(4);
    // Same adapter twice: labels stay unique.
    expect(renderReportHtml([a, a])).toContain('gpu-beam @ llvmpipe (LLVM 19.1.7, 256 bits) (vulkan) #2');
    expect(html).not.toMatch(/NaN|undefined/);
  });
});
