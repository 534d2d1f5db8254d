/** `crinn bench compare A.json B.json ...`: load validated results, one combined table and one HTML page. */
import { readFile } from 'node:fs/promises';
import { UserError } from '../errors.ts';
import { assertRegularFile } from '../data/vecs.ts';
import { parseBenchResultText, type BenchResult } from './schema.ts';
import { renderReportHtml } from './report-html.ts';
import { adapterLabel, renderSystemsTable, systemRows } from './table.ts';

export interface Comparison {
  results: BenchResult[];
  table: string;
  html: string;
}

/** Read and validate one result file; every failure is a UserError naming the file. */
export async function loadBenchResult(file: string): Promise<BenchResult> {
  let text: string;
  // A FIFO given as a result file would block the read forever.
  await assertRegularFile(file);
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: cannot read bench result (${code ?? (err instanceof Error ? err.message : String(err))})`);
  }
  return parseBenchResultText(text, file);
}

/**
 * Compare several result files. `reference` is a row label ("system @ adapter") for the ratio
 * column; default the first row that reached the window.
 */
export async function compareResults(files: readonly string[], opts: { reference?: string; title?: string } = {}): Promise<Comparison> {
  if (files.length === 0) throw new UserError('bench compare: give at least one result file');
  const results = await Promise.all(files.map(loadBenchResult));
  const lines: string[] = [];
  results.forEach((r, i) => {
    const d = r.dataset;
    lines.push(`[${i + 1}] ${files[i]}: ${d.name} (n=${d.n}, dim=${d.dim}, nq=${d.nq}, ${d.metric}) on ${adapterLabel(r)}, ${r.createdAt}`);
  });
  const fingerprints = new Set(results.map((r) => r.dataset.fingerprint));
  if (fingerprints.size > 1) lines.push('note: the files are on different datasets; their QPS are not comparable');
  const windows = new Set(results.map((r) => `${r.window.lo},${r.window.hi}`));
  if (windows.size > 1) lines.push('note: the files use different recall windows; their AUCs are not comparable');
  lines.push(renderSystemsTable(systemRows(results), opts.reference));
  return { results, table: lines.join('\n'), html: renderReportHtml(results, opts.title) };
}
