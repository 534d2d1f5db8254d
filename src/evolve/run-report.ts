/**
 * A run's HTML report, in the bench report's style (src/bench/report-html.ts): reward per
 * evaluation over the run (stages coloured, failures marked), each stage's best-so-far, the
 * per-stage summary, the lineage of each stage's best, and each best's QPS-recall curve against
 * the baseline curve it was measured with. Self-contained: inline SVG, no scripts. Everything
 * comes from the journal (the run's source of truth).
 */
import { writeFileSync } from 'node:fs';
import { checkOutputs, folderFiles, type NamedPath } from '../data/output-paths.ts';
import path from 'node:path';
import type { Verdict } from './contract.ts';
import type { CurvePoint } from '../bundle/module-manifest.ts';
import { readJournal } from './journal.ts';
import { bestOf, ok, type RunState } from './run-state.ts';
import { lineage, loadRun, summarizeStages } from './runs.ts';
import { farmStats } from './farm-stats.ts';
import { CSS, SERIES_COLORS, WINDOW_FILL, escapeHtml } from '../bench/report-html.ts';
import { formatQps } from '../bench/table.ts';
import { rewardText } from './reward-text.ts';
import { withTempFile } from '../data/vecs.ts';

export const REPORT_FILE = 'report.html';
const FAIL_COLOR = '#d62728';
const W = 1100;

interface Evaluation {
  n: number;
  time: string;
  stage: string;
  hash: string;
  verdict: Verdict;
}

const num = (x: number | null | undefined, d = 3) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));
const f1 = (v: number) => v.toFixed(1);

/** Every verdict in journal order: the x axis of the reward plot. */
function evaluations(runDir: string): Evaluation[] {
  const out: Evaluation[] = [];
  for (const r of readJournal(runDir).records) if (r.type === 'verdict') out.push({ n: out.length + 1, time: r.time, stage: r.stage, hash: r.hash, verdict: r.verdict });
  return out;
}

function stageColor(st: RunState, stage: string): string {
  return SERIES_COLORS[Math.max(0, st.stages.findIndex((s) => s.module === stage)) % SERIES_COLORS.length];
}

/** Reward of every evaluation (dots), each stage's best so far (steps), failures as crosses on the floor, 1 = baseline. */
function rewardPlot(st: RunState, evs: Evaluation[]): string {
  const H = 340;
  const P = { left: 70, top: 20, right: W - 20, bottom: H - 50 };
  const rewards = evs.map((e) => e.verdict.reward).filter((r): r is number => r !== null && Number.isFinite(r));
  const lo = Math.min(0.9, ...rewards) - 0.05;
  const hi = Math.max(1.1, ...rewards) + 0.05;
  const n = Math.max(1, evs.length);
  const sx = (i: number) => P.left + ((i - 0.5) / n) * (P.right - P.left);
  const sy = (r: number) => P.bottom - ((r - lo) / (hi - lo)) * (P.bottom - P.top);
  const out = [`<svg class="plot" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="reward per evaluation">`];
  out.push(`<rect x="${P.left}" y="${P.top}" width="${P.right - P.left}" height="${P.bottom - P.top}" fill="#fff" stroke="#444"/>`);
  for (let t = Math.ceil(lo * 10) / 10; t <= hi; t = Math.round((t + 0.1) * 10) / 10) {
    out.push(`<line class="grid" x1="${P.left}" x2="${P.right}" y1="${f1(sy(t))}" y2="${f1(sy(t))}"/><text class="tick" x="${P.left - 6}" y="${f1(sy(t) + 4)}" text-anchor="end">${t.toFixed(1)}</text>`);
  }
  out.push(`<line x1="${P.left}" x2="${P.right}" y1="${f1(sy(1))}" y2="${f1(sy(1))}" stroke="#888" stroke-dasharray="4 3"/><text class="wlabel" x="${P.right - 4}" y="${f1(sy(1) - 4)}" text-anchor="end">baseline (reward 1)</text>`);
  // Stage bands: a label at each stage's first evaluation, a divider before it.
  for (const s of st.stages) {
    const first = evs.find((e) => e.stage === s.module);
    if (!first) continue;
    const x = sx(first.n) - (P.right - P.left) / n / 2;
    out.push(`<line x1="${f1(x)}" x2="${f1(x)}" y1="${P.top}" y2="${P.bottom}" stroke="#bbb"/><text class="axis" x="${f1(x + 4)}" y="${P.top + 14}" fill="${stageColor(st, s.module)}">${escapeHtml(s.module)}</text>`);
    // Best so far within the stage.
    let best = -Infinity;
    const steps: string[] = [];
    for (const e of evs.filter((x) => x.stage === s.module)) {
      if (e.verdict.status === 'ok' && e.verdict.reward !== null && e.verdict.reward > best) best = e.verdict.reward;
      if (Number.isFinite(best)) steps.push(`${f1(sx(e.n))},${f1(sy(best))}`);
    }
    if (steps.length) out.push(`<polyline fill="none" stroke="${stageColor(st, s.module)}" stroke-width="1.5" stroke-opacity="0.6" points="${steps.join(' ')}"/>`);
  }
  for (const e of evs) {
    const tip = `<title>#${e.n} ${escapeHtml(e.stage)} ${e.hash.slice(0, 12)} ${e.verdict.status === 'ok' ? `reward ${escapeHtml(rewardText(e.verdict))}` : `${escapeHtml(rewardText(e.verdict))}: ${escapeHtml(e.verdict.reason.slice(0, 120))}`} (${e.time})</title>`;
    if (e.verdict.status === 'ok' && e.verdict.reward !== null) {
      out.push(`<circle class="ok" cx="${f1(sx(e.n))}" cy="${f1(sy(e.verdict.reward))}" r="4" fill="${stageColor(st, e.stage)}">${tip}</circle>`);
    } else {
      const x = sx(e.n);
      const y = P.bottom - 8;
      out.push(`<path class="fail" d="M${f1(x - 4)},${f1(y - 4)}L${f1(x + 4)},${f1(y + 4)}M${f1(x - 4)},${f1(y + 4)}L${f1(x + 4)},${f1(y - 4)}" stroke="${FAIL_COLOR}" stroke-width="2">${tip}</path>`);
    }
  }
  out.push(`<text class="axis" x="${(P.left + P.right) / 2}" y="${H - 14}" text-anchor="middle">evaluation (journal order; × = failed)</text>`);
  out.push(`<text class="axis" transform="translate(18 ${(P.top + P.bottom) / 2}) rotate(-90)" text-anchor="middle">reward (AUC / baseline AUC)</text>`);
  out.push('</svg>');
  return out.join('\n');
}

/** One stage's best curve against the baseline curve of the same evaluation: QPS (log) over recall, window shaded. */
function curvePlot(best: CurvePoint[], base: CurvePoint[], color: string, label: string): string {
  const H = 300;
  const CW = 500;
  const P = { left: 64, top: 16, right: CW - 16, bottom: H - 60 };
  const pts = [...best, ...base].filter((p) => p.qps > 0);
  const x0 = Math.max(0.5, Math.min(0.8, Math.floor(Math.min(...pts.map((p) => p.recall), 0.85) * 20) / 20));
  const y0 = 10 ** Math.floor(Math.log10(Math.min(...pts.map((p) => p.qps))));
  const y1 = Math.max(y0 * 10, 10 ** Math.ceil(Math.log10(Math.max(...pts.map((p) => p.qps)))));
  const sx = (r: number) => P.left + ((r - x0) / (1 - x0)) * (P.right - P.left);
  const sy = (q: number) => P.bottom - (Math.log10(q / y0) / Math.log10(y1 / y0)) * (P.bottom - P.top);
  const out = [`<svg class="plot" width="${CW}" height="${H}" viewBox="0 0 ${CW} ${H}" role="img" aria-label="${escapeHtml(label)}">`];
  out.push(`<rect x="${P.left}" y="${P.top}" width="${P.right - P.left}" height="${P.bottom - P.top}" fill="#fff" stroke="#444"/>`);
  out.push(`<rect x="${f1(sx(0.85))}" y="${P.top}" width="${f1(sx(0.95) - sx(0.85))}" height="${P.bottom - P.top}" fill="${WINDOW_FILL}"/>`);
  for (let d = y0; d <= y1 * 1.0001; d *= 10) out.push(`<line class="grid" x1="${P.left}" x2="${P.right}" y1="${f1(sy(d))}" y2="${f1(sy(d))}"/><text class="tick" x="${P.left - 6}" y="${f1(sy(d) + 4)}" text-anchor="end">${formatQps(d)}</text>`);
  for (let r = Math.ceil(x0 * 20) / 20; r <= 1.0001; r = Math.round((r + 0.05) * 100) / 100) out.push(`<text class="tick" x="${f1(sx(r))}" y="${P.bottom + 16}" text-anchor="middle">${r.toFixed(2)}</text>`);
  const line = (c: CurvePoint[], stroke: string, dash: string) => {
    const sorted = c.filter((p) => p.qps > 0).sort((a, b) => a.recall - b.recall);
    return `<polyline fill="none" stroke="${stroke}" stroke-width="2"${dash} points="${sorted.map((p) => `${f1(sx(Math.max(x0, p.recall)))},${f1(sy(p.qps))}`).join(' ')}"/>` +
      sorted.map((p) => `<circle cx="${f1(sx(Math.max(x0, p.recall)))}" cy="${f1(sy(p.qps))}" r="3" fill="${stroke}"><title>effort ${p.effort}: recall ${p.recall.toFixed(4)}, ${formatQps(p.qps)} QPS</title></circle>`).join('');
  };
  out.push(line(base, '#777', ' stroke-dasharray="5 3"'), line(best, color, ''));
  out.push(`<text class="axis" x="${(P.left + P.right) / 2}" y="${H - 30}" text-anchor="middle">recall@10</text>`);
  out.push(`<text class="legend" x="${P.left}" y="${H - 10}"><tspan fill="${color}">● best</tspan>   <tspan fill="#777">● baseline (same evaluation)</tspan></text>`);
  out.push('</svg>');
  return out.join('\n');
}

function table(head: string[], rows: string[][], numeric: (i: number) => boolean = () => false): string {
  return `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric(i) ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`).join('\n')}</tbody></table>`;
}

const knobs = (k: Record<string, number>) => escapeHtml(Object.entries(k).map(([n, v]) => `${n}=${Number.isInteger(v) ? v : v.toFixed(3)}`).join(' '));

export function renderRunReport(runDir: string): string {
  const st = loadRun(runDir);
  const evs = evaluations(runDir);
  const sums = summarizeStages(st);
  const failures = evs.filter((e) => e.verdict.status === 'failed').length;
  const gains = sums.map((s) => s.bestReward).filter((r): r is number => r !== null);
  const overall = gains.length ? gains.reduce((a, b) => a * b, 1) : null;
  const adapter = evs.find((e) => e.verdict.adapter)?.verdict.adapter ?? '-';
  // The first stage starts from the all-baseline pipeline: its reward is a self-vs-self measurement.
  const self = sums[0]?.startReward ?? null;
  const title = `crinn-webgpu run ${st.runId}`;
  const body: string[] = [`<h1>${escapeHtml(title)}</h1>`];
  body.push(`<p class="sub">${escapeHtml(`dataset ${st.config.dataset} on ${adapter}; policy ${st.config.policy}, stages ${st.config.stages.join(' → ')}; ${evs.length} evaluations (${failures} failed) in ${st.activeSeconds.toFixed(0)} s over ${st.sessions} session(s); ${st.ended ? `ended: ${st.ended}` : 'not ended'}`)}</p>`);
  body.push(`<p class="sub">${escapeHtml(`reward = AUC(variant) / AUC(baseline) over recall [0.85, 0.95], geometric mean of paired rounds with its 95% interval; each stage's reward is its module's own gain on the earlier stages' best; ${st.config.spread !== undefined ? `gains below the spread ${st.config.spread} (--spread) are noise` : 'a gain counts when its interval lies above the best so far'}.`)}${overall !== null ? ` <strong>Overall: ${num(overall)}x the baseline</strong> (product of the stages' best rewards).` : ''}${self !== null ? escapeHtml(` Baseline vs itself (first stage's start): ${sums[0].startText}; its interval should hold 1.`) : ''}</p>`);
  body.push('<h3>Reward over the run</h3>', rewardPlot(st, evs));
  body.push('<h3>Per stage: baseline vs best</h3>', table(
    ['stage', 'evaluations', 'failed', 'start reward', 'best reward', 'gain', 'AUC base', 'AUC best', 'QPS@0.95 base', 'QPS@0.95 best', 'evals/q@0.95 base', 'evals/q@0.95 best', 'best variant', 'stop'],
    sums.map((s) => [
      `<span class="nowrap"><span class="swatch" style="background:${stageColor(st, s.stage)}"></span>${escapeHtml(s.stage)}</span>`, String(s.evaluations), String(s.failures), escapeHtml(s.startText), escapeHtml(s.bestText),
      s.gain === null ? '-' : `${num(s.gain)}x`, formatQps(s.baselineAuc), formatQps(s.bestAuc), formatQps(s.baselineQps95), formatQps(s.bestQps95),
      s.baselineWork95 === null ? '-' : Math.round(s.baselineWork95).toLocaleString('en-US'), s.bestWork95 === null ? '-' : Math.round(s.bestWork95).toLocaleString('en-US'),
      s.bestHash ? `<code>${s.bestHash.slice(0, 12)}</code>` : '-', escapeHtml(s.status),
    ]),
    (i) => i >= 1 && i <= 11,
  ));
  const farm = farmStats(runDir);
  if (farm) {
    body.push('<h3>Farm: throughput per worker</h3>', table(['worker', 'adapter', 'evaluations', 'busy s', 'evals / busy min', 'evals / run min'],
      farm.workers.map((w) => [escapeHtml(w.worker), escapeHtml(w.adapter), String(w.evaluations), w.busySeconds.toFixed(0), w.perBusyMinute.toFixed(2), w.perRunMinute.toFixed(2)]), (i) => i >= 2));
    body.push('<h3>Farm: best rewards per adapter</h3>', table(['adapter', 'evaluations', 'failed', ...farm.adapters[0].best.map((b) => `best ${b.stage}`), 'overall'],
      farm.adapters.map((a) => [escapeHtml(a.adapter), String(a.evaluations), String(a.failures), ...a.best.map((b) => escapeHtml(b.text)), a.overall === null ? '-' : `${num(a.overall)}x`]), (i) => i >= 1));
    body.push(`<p class="sub">${escapeHtml(`The sections below show the first adapter (${farm.adapters[0].adapter}); crinn export writes one bundle per adapter.`)}</p>`);
  }
  body.push('<h3>Lineage of each stage\'s best</h3>');
  for (const s of st.stages) {
    const best = bestOf(s);
    if (!best) continue;
    const rows = lineage(st, best.hash).map((p) => {
      const ev = s.proposals.find((x) => x.hash === p.hash && x.verdict);
      return [`<code>${p.hash.slice(0, 12)}</code>`, escapeHtml(p.origin), ev && ok(ev) ? escapeHtml(rewardText(ev.verdict)) : '-', p.parents[0] ? `<code>${p.parents[0].slice(0, 12)}</code>` : '-', knobs(p.knobValues)];
    });
    const on = Object.entries(best.context).map(([m, h]) => `${m} ${h.slice(0, 12)}`).join(', ');
    body.push(`<h4>${escapeHtml(s.module)}: best <code>${best.hash.slice(0, 12)}</code>, reward ${escapeHtml(rewardText(best.verdict))}${on ? ` (on top of ${escapeHtml(on)})` : ''}</h4>`, table(['variant', 'origin', 'reward', 'parent', 'knobs'], rows, (i) => i === 2));
  }
  body.push('<h3>Best curve against the baseline curve</h3>', '<div>');
  for (const s of st.stages) {
    const v = bestOf(s)?.verdict;
    if (!v || v.variantCurve.length === 0 || v.baselineCurve.length === 0) continue;
    body.push(`<section class="context"><h4>${escapeHtml(s.module)}: AUC ${formatQps(v.variantAuc)} vs ${formatQps(v.baselineAuc)} (reward ${escapeHtml(rewardText(v))})</h4>${curvePlot(v.variantCurve, v.baselineCurve, stageColor(st, s.module), `${s.module} best vs baseline`)}</section>`);
  }
  body.push('</div>');
  body.push('<h3>Every evaluation</h3>', table(
    ['#', 'time', 'stage', 'variant', 'reward', 'AUC', 'QPS@0.95', 'result'],
    evs.map((e) => [String(e.n), escapeHtml(e.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z')), escapeHtml(e.stage), `<code>${e.hash.slice(0, 12)}</code>`, escapeHtml(rewardText(e.verdict)), formatQps(e.verdict.variantAuc), formatQps(e.verdict.qpsAt95),
      e.verdict.status === 'ok' ? 'ok' : e.verdict.status === 'void' ? `void (${escapeHtml(e.verdict.fault ?? 'evaluator')}): ${escapeHtml(e.verdict.reason.slice(0, 160))}` : `<span class="failed">failed at ${escapeHtml(e.verdict.stage)}: ${escapeHtml(e.verdict.reason.slice(0, 160))}</span>`]),
    (i) => i === 0 || (i >= 4 && i <= 6),
  ));
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${CSS}\nspan.failed { color: ${FAIL_COLOR}; }\n</style>`,
    '</head><body>',
    ...body,
    '</body></html>',
    '',
  ].join('\n');
}

/** Every file in the run folder but an earlier report: the report must not overwrite any of them. */
function inputFiles(dir: string): NamedPath[] {
  return folderFiles(dir).filter((f) => path.relative(dir, f) !== REPORT_FILE).map((f) => ({ path: f, flag: 'run file' }));
}

/**
 * Writes the report (temp file, then rename) after the output checks every writing command runs
 * (src/data/output-paths.ts): never onto one of the run's files, a folder, a FIFO or a device.
 */
export async function writeRunReport(runDir: string, out?: string): Promise<string> {
  const file = out ?? path.join(runDir, REPORT_FILE);
  await checkOutputs([{ path: file, flag: out === undefined ? 'report' : '--out' }], inputFiles(runDir));
  const html = renderRunReport(runDir);
  await withTempFile(file, async (tmp) => writeFileSync(tmp, html));
  return file;
}
