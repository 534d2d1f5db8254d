/**
 * A small unified diff (LCS over lines) for showing exemplars against the current best: a variant
 * that differs in a few lines costs a few lines of prompt instead of the whole file.
 */
export function unifiedDiff(a: string, b: string, name: string, context = 2): string {
  const x = a.split('\n');
  const y = b.split('\n');
  const n = x.length;
  const m = y.length;
  // lcs[i][j]: LCS length of x[i..] and y[j..]; files here are a few hundred lines.
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  type Op = { t: ' ' | '-' | '+'; s: string; ai: number; bi: number };
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) ops.push({ t: ' ', s: x[i], ai: i++, bi: j++ });
    // Deletions before insertions, as diff(1) prints them.
    else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) ops.push({ t: '-', s: x[i], ai: i++, bi: j });
    else ops.push({ t: '+', s: y[j], ai: i, bi: j++ });
  }
  const changed = ops.map((o, k) => (o.t !== ' ' ? k : -1)).filter((k) => k >= 0);
  if (changed.length === 0) return '';
  const out = [`--- best/${name}`, `+++ variant/${name}`];
  let k = 0;
  while (k < changed.length) {
    let lo = Math.max(0, changed[k] - context);
    let hi = Math.min(ops.length - 1, changed[k] + context);
    while (k + 1 < changed.length && changed[k + 1] - context <= hi + 1) hi = Math.min(ops.length - 1, changed[++k] + context);
    k++;
    const hunk = ops.slice(lo, hi + 1);
    const aLen = hunk.filter((o) => o.t !== '+').length;
    const bLen = hunk.filter((o) => o.t !== '-').length;
    out.push(`@@ -${hunk[0].ai + 1},${aLen} +${hunk[0].bi + 1},${bLen} @@`);
    for (const o of hunk) out.push(`${o.t}${o.s}`);
    lo = hi;
  }
  return out.join('\n');
}
