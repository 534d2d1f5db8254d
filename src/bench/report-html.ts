/**
 * A self-contained HTML report for one or more bench results: inline SVG plot of QPS (log scale)
 * over recall with the reward window shaded, a legend, and a table. No scripts, no external
 * fonts, styles or images, so the file opens offline and can be attached anywhere.
 */
import type { BenchResult, BenchSystem } from './schema.ts';
import { paretoFrontier } from './reward.ts';
import { adapterLabel, formatEvaluations, formatQps, systemNote, systemRows } from './table.ts';

/** Curve colours (Tableau 10); the screenshot check looks for these in the plot. */
export const SERIES_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7b4173', '#bcbd22', '#17becf'] as const;
/** Fill of the shaded reward window; unique in the page so a screenshot can find the plot by it. */
export const WINDOW_FILL = '#fdf0c8';

const W = 1100;
const PLOT = { left: 80, top: 24, right: 1080, bottom: 500 } as const;
/** Legend below the x axis (outside the plot's rows, so a screenshot of the plot band sees only curves). */
const LEGEND = { top: PLOT.bottom + 70, row: 20, columns: 2, chars: 72 } as const;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

interface Series {
  label: string;
  system: BenchSystem;
  /** The recall window of the result the system came from. */
  window?: { lo: number; hi: number };
  /** A SERIES_COLORS entry, or null when the system has no curve (no points or an error). */
  color: string | null;
}

function collectSeries(results: readonly BenchResult[]): Series[] {
  let next = 0;
  return systemRows(results).map(({ label, system, result }) => {
    const drawable = !system.error && system.points.some((p) => p.qps > 0);
    return { label, system, window: result?.window, color: drawable ? SERIES_COLORS[next++ % SERIES_COLORS.length] : null };
  });
}

function fmtTick(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function renderPlot(series: readonly Series[], window: { lo: number; hi: number }): string {
  const drawn = series.filter((s) => s.color !== null);
  const pts = drawn.flatMap((s) => s.system.points).filter((p) => p.qps > 0);
  const minRecall = pts.length ? Math.min(...pts.map((p) => p.recall)) : 0.5;
  // Data-driven left edge, but never squeeze the window: between 0.5 and 0.8, on a 0.05 grid.
  const x0 = Math.max(0.5, Math.min(0.8, Math.floor(minRecall * 20 + 1e-9) / 20));
  const x1 = 1;
  const visible = pts.filter((p) => p.recall >= x0);
  const qs = (visible.length ? visible : pts).map((p) => p.qps);
  let y0 = qs.length ? 10 ** Math.floor(Math.log10(Math.min(...qs))) : 1;
  let y1 = qs.length ? 10 ** Math.ceil(Math.log10(Math.max(...qs))) : 1000;
  if (y1 <= y0) y1 = y0 * 10;
  if (!(y0 > 0)) y0 = 1;
  const pw = PLOT.right - PLOT.left;
  const ph = PLOT.bottom - PLOT.top;
  const sx = (r: number) => PLOT.left + ((r - x0) / (x1 - x0)) * pw;
  const sy = (q: number) => PLOT.bottom - ((Math.log10(q) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0))) * ph;
  const f = (v: number) => v.toFixed(1);

  const out: string[] = [];
  const legendRows = Math.ceil(drawn.length / LEGEND.columns);
  const H = LEGEND.top + legendRows * LEGEND.row + 10;
  out.push(`<svg class="plot" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="QPS over recall">`);
  out.push(`<defs><clipPath id="plot-area"><rect x="${PLOT.left - 6}" y="${PLOT.top - 6}" width="${pw + 12}" height="${ph + 12}"/></clipPath></defs>`);
  out.push(`<rect x="${PLOT.left}" y="${PLOT.top}" width="${pw}" height="${ph}" fill="#ffffff" stroke="#444" stroke-width="1"/>`);
  // Reward window.
  const wl = Math.max(x0, window.lo);
  const wh = Math.min(x1, window.hi);
  if (wh > wl) {
    out.push(`<rect x="${f(sx(wl))}" y="${PLOT.top}" width="${f(sx(wh) - sx(wl))}" height="${ph}" fill="${WINDOW_FILL}"/>`);
    out.push(`<text x="${f((sx(wl) + sx(wh)) / 2)}" y="${PLOT.top + 14}" class="wlabel" text-anchor="middle">reward window [${window.lo}, ${window.hi}]</text>`);
  }
  // Grid and ticks: x every 0.05; y at decades, plus 2x and 5x when the range is narrow.
  for (let i = 0; ; i++) {
    const r = Math.round((x0 + i * 0.05) * 100) / 100;
    if (r > x1 + 1e-9) break;
    const x = f(sx(r));
    out.push(`<line x1="${x}" y1="${PLOT.top}" x2="${x}" y2="${PLOT.bottom}" class="grid"/>`);
    out.push(`<text x="${x}" y="${PLOT.bottom + 18}" text-anchor="middle" class="tick">${r.toFixed(2)}</text>`);
  }
  const decades = Math.round(Math.log10(y1 / y0));
  const mults = decades <= 3 ? [1, 2, 5] : [1];
  for (let d = 0; d <= decades; d++) {
    for (const m of mults) {
      const q = y0 * 10 ** d * m;
      if (q > y1 * (1 + 1e-9)) continue;
      const y = f(sy(q));
      out.push(`<line x1="${PLOT.left}" y1="${y}" x2="${PLOT.right}" y2="${y}" class="${m === 1 ? 'grid' : 'grid minor'}"/>`);
      out.push(`<text x="${PLOT.left - 8}" y="${y}" dy="4" text-anchor="end" class="tick">${fmtTick(q)}</text>`);
    }
  }
  out.push(`<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 44}" text-anchor="middle" class="axis">recall@k</text>`);
  out.push(`<text transform="translate(22 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle" class="axis">QPS (log scale)</text>`);
  // Curves: frontier polyline, then every measured point (dominated ones hollow).
  out.push('<g clip-path="url(#plot-area)">');
  for (const s of drawn) {
    const valid = s.system.points.filter((p) => p.qps > 0);
    const front = paretoFrontier(valid);
    const onFront = new Set(front);
    if (front.length > 1) {
      const d = front.map((p) => `${f(sx(p.recall))},${f(sy(p.qps))}`).join(' ');
      out.push(`<polyline points="${d}" fill="none" stroke="${s.color}" stroke-width="2.5"/>`);
    }
    // The flat hold the AUC integrates below the lowest frontier point, drawn dashed.
    const low = front[0];
    if (low && low.recall > window.lo) {
      const y = f(sy(low.qps));
      out.push(`<line x1="${f(sx(Math.max(x0, window.lo)))}" y1="${y}" x2="${f(sx(low.recall))}" y2="${y}" stroke="${s.color}" stroke-width="1.5" stroke-dasharray="5 4"/>`);
    }
    for (const p of valid) {
      const fill = onFront.has(p) ? s.color : '#ffffff';
      const tip = `${s.label}: effort ${p.effort}, recall ${p.recall.toFixed(4)}, ${formatQps(p.qps)} QPS`;
      out.push(`<circle cx="${f(sx(p.recall))}" cy="${f(sy(p.qps))}" r="4" fill="${fill}" stroke="${s.color}" stroke-width="1.5"><title>${escapeHtml(tip)}</title></circle>`);
    }
  }
  out.push('</g>');
  // Legend, below the axis label, filled row by row.
  const colWidth = pw / LEGEND.columns;
  drawn.forEach((s, i) => {
    const lx = PLOT.left + (i % LEGEND.columns) * colWidth;
    const ly = LEGEND.top + Math.floor(i / LEGEND.columns) * LEGEND.row;
    out.push(`<line x1="${f(lx)}" y1="${ly}" x2="${f(lx + 24)}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"/>`);
    out.push(`<circle cx="${f(lx + 12)}" cy="${ly}" r="4" fill="${s.color}"/>`);
    out.push(`<text x="${f(lx + 32)}" y="${ly}" dy="4" class="legend">${escapeHtml(truncate(s.label, LEGEND.chars))}<title>${escapeHtml(s.label)}</title></text>`);
  });
  if (drawn.length === 0) out.push(`<text x="${(PLOT.left + PLOT.right) / 2}" y="${(PLOT.top + PLOT.bottom) / 2}" text-anchor="middle" class="axis">no measured points</text>`);
  out.push('</svg>');
  return out.join('\n');
}

function renderSystemsTable(series: readonly Series[]): string {
  const ref = series.find((s) => s.system.summary.auc > 0 && !s.system.error);
  const rows = series.map((s) => {
    const sm = s.system.summary;
    const swatch = s.color ? `<span class="swatch" style="background:${s.color}"></span>` : '<span class="swatch none"></span>';
    const ratio = ref && !s.system.error ? (sm.auc / ref.system.summary.auc).toFixed(2) : '-';
    const note = systemNote(s.system, s.window);
    const cells = [
      // Keep the swatch and system name together; the "@ adapter" part may wrap.
      `<span class="nowrap">${swatch}${escapeHtml(s.system.name)}</span>${escapeHtml(s.label.slice(s.system.name.length))}`,
      `<span class="nowrap">${escapeHtml(s.system.kind)}</span>`,
      s.system.build.seconds.toFixed(2),
      formatQps(sm.auc),
      formatQps(sm.qpsAt90),
      formatQps(sm.qpsAt95),
      formatQps(sm.qpsAt99),
      formatEvaluations(sm.evaluationsAt95),
      ratio,
      String(s.system.points.length),
      escapeHtml(note),
    ];
    const cls = (i: number) => (i >= 2 && i <= 9 ? ' class="num"' : i === 10 ? ' class="note"' : '');
    return `<tr${s.system.error ? ' class="err"' : ''}>${cells.map((c, i) => `<td${cls(i)}>${c}</td>`).join('')}</tr>`;
  });
  const caption = ref ? `<caption>AUC ratio: against ${escapeHtml(ref.label)}.</caption>` : '';
  return [
    '<table class="systems">',
    caption,
    '<thead><tr><th>system</th><th>kind</th><th>build s</th><th>AUC (mean QPS)</th><th>QPS@0.90</th><th>QPS@0.95</th><th>QPS@0.99</th><th>evals/query@0.95</th><th>AUC ratio</th><th>points</th><th>note</th></tr></thead>',
    `<tbody>${rows.join('\n')}</tbody>`,
    '</table>',
  ].join('\n');
}

function dl(entries: readonly [string, string][]): string {
  return `<dl>${entries.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

function renderContext(result: BenchResult, heading: string): string {
  const d = result.dataset;
  const a = result.adapter;
  const parts = [`<section class="context"><h3>${escapeHtml(heading)}</h3>`];
  parts.push('<h4>Dataset</h4>');
  parts.push(dl([
    ['name', d.name],
    ['size', `n=${d.n}, dim=${d.dim}, queries=${d.nq}`],
    ['metric', d.metric],
    ['k', String(result.k)],
    ['fingerprint', d.fingerprint],
  ]));
  parts.push('<h4>Adapter</h4>');
  if (a) {
    parts.push(dl([
      ['description', a.description],
      ['vendor / architecture', `${a.vendor} / ${a.architecture}`],
      ['backend / type', `${a.backend} / ${a.type}`],
      ['features', a.features.join(', ') || '(none)'],
    ]));
    const limits = Object.entries(a.limits).map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td class="num">${escapeHtml(String(v))}</td></tr>`);
    parts.push(`<details><summary>limits (${limits.length})</summary><table class="limits">${limits.join('')}</table></details>`);
  } else {
    parts.push('<p>no GPU adapter (CPU systems only)</p>');
  }
  parts.push('<h4>Run</h4>');
  parts.push(dl([
    ['created', result.createdAt],
    ['tool', `${result.tool.name} ${result.tool.version}`],
    ['machine', `${result.machine.platform}, ${result.machine.cpus} CPUs, node ${result.machine.node}`],
    ['window', `[${result.window.lo}, ${result.window.hi}]`],
    ['seeds', Object.entries(result.seeds).map(([k, v]) => `${k}=${v}`).join(', ') || '(none)'],
    ['versions', Object.entries(result.versions).map(([k, v]) => `${k} ${v}`).join(', ') || '(none)'],
  ]));
  parts.push('</section>');
  return parts.join('\n');
}

export const CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 16px; color: #222; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
p.sub { margin: 0 0 8px; color: #555; font-size: 13px; }
svg.plot { display: block; }
svg .grid { stroke: #e4e4e4; stroke-width: 1; }
svg .grid.minor { stroke: #f1f1f1; }
svg .tick { font-size: 11px; fill: #444; }
svg .axis { font-size: 13px; fill: #222; }
svg .legend { font-size: 12px; fill: #222; }
svg .wlabel { font-size: 11px; fill: #8a6d00; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; white-space: nowrap; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.err td { color: #a00; }
td.note { max-width: 28em; }
table.systems td:first-child { max-width: 24em; }
caption { caption-side: bottom; text-align: left; color: #555; font-size: 12px; padding-top: 4px; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; border-radius: 2px; }
.nowrap { white-space: nowrap; }
.swatch.none { border: 1px dashed #999; }
section.context { display: inline-block; vertical-align: top; margin-right: 32px; font-size: 13px; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; margin: 0; }
dt { color: #666; } dd { margin: 0; }
h3 { font-size: 15px; margin: 12px 0 4px; } h4 { font-size: 13px; margin: 10px 0 4px; }
`;

/** The report page for one result, or a comparison of several (curves labelled "system @ adapter"). */
export function renderReportHtml(results: readonly BenchResult[], title?: string): string {
  const series = collectSeries(results);
  const first = results[0];
  const datasets = [...new Set(results.map((r) => r.dataset.name))];
  const heading = title ?? (results.length > 1 ? `crinn-webgpu bench comparison: ${datasets.join(', ')}` : `crinn-webgpu bench: ${first ? first.dataset.name : 'no results'}`);
  const window = first ? first.window : { lo: 0.85, hi: 0.95 };
  const sub = first
    ? `QPS over recall@${first.k}; AUC = mean QPS of the Pareto frontier over recall [${window.lo}, ${window.hi}] (0 where a curve stops short).`
    : 'No results.';
  const fps = new Set(results.map((r) => r.dataset.fingerprint));
  const warn = fps.size > 1 ? '<p class="sub"><strong>Note: these results are on different datasets; their QPS are not comparable.</strong></p>' : '';
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(heading)}</title>`,
    `<style>${CSS}</style>`,
    '</head><body>',
    `<h1>${escapeHtml(heading)}</h1>`,
    `<p class="sub">${escapeHtml(sub)}</p>`,
    warn,
    renderPlot(series, window),
    renderSystemsTable(series),
    ...results.map((r) => renderContext(r, results.length > 1 ? adapterLabel(r) : 'Context')),
    '</body></html>',
    '',
  ].join('\n');
}
