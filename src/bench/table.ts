/** Plain-text terminal tables for bench results (aligned columns, no colour codes). */
import { UserError } from '../errors.ts';
import type { BenchResult, BenchSystem } from './schema.ts';
import { MIN_WINDOW_POINTS, pointsInWindow } from './reward.ts';

/** One row of a results table: a system, labelled (possibly with its adapter when comparing). */
export interface SystemRow {
  label: string;
  system: BenchSystem;
  /** The file the row came from, when known. */
  result?: BenchResult;
}

/** Align columns: text left, numbers right (`align` per column: 'l' | 'r'). */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly ('l' | 'r')[]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (align[c] === 'r' ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** QPS with thousands separators; '-' for a curve that never reaches that recall. */
export function formatQps(q: number | null | undefined): string {
  if (q === null || q === undefined || !Number.isFinite(q)) return '-';
  return q >= 100 ? Math.round(q).toLocaleString('en-US') : q.toPrecision(3);
}

function formatSeconds(s: number): string {
  return s >= 100 ? s.toFixed(0) : s >= 10 ? s.toFixed(1) : s.toFixed(2);
}

/** Points inside the result's window (recorded, or recounted for files written before it was). */
export function windowPoints(s: BenchSystem, window: { lo: number; hi: number }): number {
  return s.inWindow ?? pointsInWindow(s.points, window.lo, window.hi);
}

/** The row's note: an error, no curve, or a curve too thin in the window for its AUC to mean much. */
export function systemNote(s: BenchSystem, window: { lo: number; hi: number } = { lo: 0.85, hi: 0.95 }): string {
  if (s.error) return `error: ${s.error.replace(/\s+/g, ' ')}`;
  if (s.points.length === 0) return 'no points';
  if (!s.reachedWindow) return 'window not reached';
  // A fixed-point system (one effort) cannot have a curve; flag only swept ones.
  const w = windowPoints(s, window);
  if (s.points.length > 1 && w < MIN_WINDOW_POINTS) return `only ${w} point${w === 1 ? '' : 's'} in window (< ${MIN_WINDOW_POINTS})`;
  return '';
}

/** Distance evaluations per query, or '-' when not counted. */
export function formatEvaluations(e: number | null | undefined): string {
  return e === null || e === undefined || !Number.isFinite(e) ? '-' : Math.round(e).toLocaleString('en-US');
}

/** Bytes per vector a crinn row reads: the codes the beam search reads, + the f32 row the rerank reads; '-' for others. */
function formatRowBytes(params: Record<string, unknown>): string {
  const b = params.bytesPerVector;
  if (typeof b !== 'number') return '-';
  const r = params.rerankBytesPerVector;
  return typeof r === 'number' && r > 0 ? `${b}+${r}` : String(b);
}

/** A byte count in KB or MB ('-' when absent). */
function formatBytes(b: unknown): string {
  if (typeof b !== 'number' || !Number.isFinite(b)) return '-';
  return b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)}M` : `${(b / 1024).toFixed(1)}K`;
}

/**
 * Table of labelled systems. `reference` names the row label that ratios are taken against
 * (AUC of the row / AUC of the reference); default: the first row with a non-zero AUC.
 */
export function renderSystemsTable(rows: readonly SystemRow[], reference?: string): string {
  const ref = reference !== undefined ? rows.find((r) => r.label === reference) : rows.find((r) => r.system.summary.auc > 0);
  if (reference !== undefined && !ref) {
    throw new UserError(`reference system '${reference}' not found; systems: ${rows.map((r) => r.label).join(', ')}`);
  }
  const refAuc = ref?.system.summary.auc ?? 0;
  const ratioHeader = ref ? `x vs ${ref.label}` : 'x vs ref';
  const body = rows.map(({ label, system: s, result }) => [
    label,
    s.kind,
    formatSeconds(s.build.seconds),
    formatQps(s.summary.auc),
    formatQps(s.summary.qpsAt90),
    formatQps(s.summary.qpsAt95),
    formatQps(s.summary.qpsAt99),
    formatEvaluations(s.summary.evaluationsAt95),
    formatRowBytes(s.params),
    formatBytes(s.params.indexBytes),
    formatBytes(s.summary.bytesReadAt95),
    refAuc > 0 && !s.error ? (s.summary.auc / refAuc).toFixed(2) : '-',
    systemNote(s, result?.window),
  ]);
  return formatTable(
    ['system', 'kind', 'build s', 'AUC', 'QPS@0.90', 'QPS@0.95', 'QPS@0.99', 'evals/q@0.95', 'B/vec', 'index', 'bytes/q@0.95', ratioHeader, 'note'],
    body,
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

/** One result file as a table, with a one-line header naming dataset, adapter and window. */
export function renderTable(result: BenchResult, reference?: string): string {
  const d = result.dataset;
  const adapter = result.adapter ? adapterLabel(result) : 'no GPU adapter';
  const head = `${d.name} (n=${d.n}, dim=${d.dim}, nq=${d.nq}, ${d.metric}, k=${result.k}) on ${adapter}; AUC = mean QPS over recall [${result.window.lo}, ${result.window.hi}]`;
  return `${head}\n${renderSystemsTable(systemRows([result]), reference)}`;
}

/**
 * Rows for one or more results: plain system names for one file, "system @ adapter" when
 * comparing, numbered when two files share an adapter so labels stay unique.
 */
export function systemRows(results: readonly BenchResult[]): SystemRow[] {
  const seen = new Map<string, number>();
  return results.flatMap((r) =>
    r.systems.map((system) => {
      let label = results.length > 1 ? `${system.name} @ ${adapterLabel(r)}` : system.name;
      const n = (seen.get(label) ?? 0) + 1;
      seen.set(label, n);
      if (n > 1) label = `${label} #${n}`;
      return { label, system, result: r };
    }),
  );
}

/** Short adapter name for labels: its description, else architecture/vendor, else 'cpu'. */
export function adapterLabel(result: BenchResult): string {
  const a = result.adapter;
  if (!a) return 'cpu';
  const text = a.description || [a.vendor, a.architecture].filter(Boolean).join(' ') || a.name;
  return a.backend ? `${text} (${a.backend})` : text;
}

/**
 * The selectivity table of a filtered bench (one result per selectivity): per selectivity and
 * system, the highest recall@k reached, QPS at recall 0.95 and the AUC.
 */
export function renderFilteredSummary(results: readonly BenchResult[]): string {
  const rows = results.flatMap((r) =>
    r.systems.map((s) => {
      const best = s.points.reduce((m, p) => Math.max(m, p.recall), 0);
      return [r.dataset.name, s.name, s.error ? '-' : best.toFixed(3), formatQps(s.summary.qpsAt95), formatQps(s.summary.auc), s.error ? `error: ${s.error.replace(/\s+/g, ' ')}` : ''];
    }),
  );
  return `Selectivity table (recall@${results[0]?.k ?? 10} against the filtered exact top-k):\n${formatTable(['dataset [filter]', 'system', 'max recall', 'QPS@0.95', 'AUC', 'note'], rows, ['l', 'l', 'r', 'r', 'r', 'l'])}`;
}
