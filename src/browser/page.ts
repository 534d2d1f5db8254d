/**
 * The browser page, in the HTML report's style: loads an index and a bundle from its server, runs
 * the queries at each effort on navigator.gpu, and shows recall@k against the served ground truth
 * and QPS. `?mode=drive` instead takes search commands from the server (`crinn bench --browser`).
 * Node-free: returns text; the server (src/bench/browser-server.ts) serves it with the module.
 */

export interface PageOptions {
  /** URL of the crinn-browser module. */
  moduleUrl: string;
  /** Inline CSS (the report's). */
  css: string;
  title?: string;
}

/** Server protocol, all relative to the page: GET meta.json, index.bin, queries.bin, gt.bin,
 *  bundle/manifest.json, baseline/manifest.json, next (a command); POST hello, result, report, fail. */
const SCRIPT = String.raw`
const $ = (id) => document.getElementById(id);
const post = (path, body) => fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const bytes = async (path) => { const r = await fetch(path); if (!r.ok) throw new Error(path + ': HTTP ' + r.status); return r.arrayBuffer(); };
const status = (t) => { $('status').textContent = t; };
async function main() {
  const { open, loadBundle } = await import(MODULE_URL);
  const meta = await (await fetch('meta.json')).json();
  const drive = new URLSearchParams(location.search).get('mode') === 'drive';
  $('dataset').textContent = meta.dataset + ' (n=' + meta.n + ', dim=' + meta.dim + ', nq=' + meta.nq + ', ' + meta.metric + ')';
  if (!navigator.gpu) throw new Error('no WebGPU in this browser (navigator.gpu is undefined; Chromium needs --enable-unsafe-webgpu here)');
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter (requestAdapter returned null)');
  const L = adapter.limits;
  const want = ['maxComputeWorkgroupStorageSize', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage'];
  const requiredLimits = {};
  for (const k of want) requiredLimits[k] = L[k];
  const device = await adapter.requestDevice({ requiredLimits });
  const info = adapter.info || {};
  const limits = {};
  for (const k of want) limits[k] = L[k];
  const adapterInfo = { vendor: info.vendor || '', architecture: info.architecture || '', device: info.device || '', description: info.description || '', limits, features: [...adapter.features].sort(), userAgent: navigator.userAgent };
  $('adapter').textContent = [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.description].filter(Boolean).join(' ');
  status('loading index and bundle');
  const [indexBytes, bundle, baseline, qbuf, gtbuf] = await Promise.all([bytes('index.bin'), loadBundle('bundle/'), loadBundle('baseline/'), bytes('queries.bin'), bytes('gt.bin')]);
  const s = await open(device, indexBytes, bundle, { fallback: baseline, name: 'index.bin' });
  $('bundle').textContent = meta.bundleName + ' (' + Object.keys(bundle.files).length + ' WGSL files, params ' + JSON.stringify(bundle.params || {}) + ')';
  const queries = new Float32Array(qbuf);
  const gt = new Int32Array(gtbuf);
  await post('hello', { adapter: adapterInfo });
  const recallOf = (ids, k) => {
    let hit = 0;
    for (let q = 0; q < meta.nq; q++) {
      const truth = new Set(gt.subarray(q * meta.gtK, q * meta.gtK + k));
      for (let j = 0; j < k; j++) if (truth.has(ids[q * k + j])) hit++;
    }
    return hit / (meta.nq * k);
  };
  if (drive) {
    status('driven by crinn bench');
    for (;;) {
      const cmd = await (await fetch('next')).json();
      if (cmd.op === 'stop') break;
      try {
        const t0 = performance.now();
        const r = await s.search(queries, cmd.k, cmd.effort);
        const seconds = (performance.now() - t0) / 1000;
        await post('result', { id: cmd.id, ids: Array.from(r.ids), seconds });
      } catch (e) {
        await post('result', { id: cmd.id, error: String(e && e.message || e) });
      }
    }
    status('done');
    return;
  }
  const rows = [];
  for (const effort of meta.efforts) {
    status('searching at effort ' + effort);
    let r = await s.search(queries, meta.k, effort); // warm-up: compiles the specialisation
    const times = [];
    for (let i = 0; i < meta.reps; i++) {
      const t0 = performance.now();
      r = await s.search(queries, meta.k, effort);
      times.push((performance.now() - t0) / 1000);
    }
    times.sort((a, b) => a - b);
    const row = { effort, recall: recallOf(r.ids, meta.k), qps: meta.nq / times[times.length >> 1], seconds: times, ids: Array.from(r.ids) };
    rows.push(row);
    const tr = document.createElement('tr');
    tr.innerHTML = '<td class="num">' + effort + '</td><td class="num recall">' + row.recall.toFixed(4) + '</td><td class="num qps">' + Math.round(row.qps) + '</td>';
    $('rows').appendChild(tr);
  }
  await post('report', { adapter: adapterInfo, rows });
  status('done');
  document.title = 'crinn: done';
}
main().catch(async (e) => {
  const msg = String(e && e.message || e);
  status('error: ' + msg);
  document.title = 'crinn: error';
  await post('fail', { error: msg }).catch(() => {});
});
`;

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export function renderSearchPageHtml(o: PageOptions): string {
  const title = o.title ?? 'crinn search in the browser';
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(title)}</title>`,
    `<style>${o.css}\n#status { font-weight: 600; } td.recall, td.qps { font-size: 18px; }</style>`,
    '</head><body>',
    `<h1>${esc(title)}</h1>`,
    '<p class="sub">WebGPU search with a kernel bundle; recall@k is the fraction of the ground truth\'s k ids found (id overlap), QPS the median of timed batched calls after a warm-up.</p>',
    '<section class="context"><dl>',
    '<dt>dataset</dt><dd id="dataset">-</dd><dt>adapter</dt><dd id="adapter">-</dd><dt>bundle</dt><dd id="bundle">-</dd><dt>status</dt><dd id="status">starting</dd>',
    '</dl></section>',
    '<table class="systems"><thead><tr><th>effort</th><th>recall@k</th><th>QPS</th></tr></thead><tbody id="rows"></tbody></table>',
    `<script type="module">const MODULE_URL = ${JSON.stringify(o.moduleUrl)};\n${SCRIPT}</script>`,
    '</body></html>',
  ].join('\n');
}
