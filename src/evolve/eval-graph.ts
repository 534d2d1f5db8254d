/**
 * The indexes an evaluation searches. Trusted builds (the shipped prune code, any knob values) run
 * in this process and are cached per dataset and knobs. A graph variant whose prune.ts differs from
 * the shipped one builds in its own throwaway sandbox child, which never answers a timed call; what
 * it returns is data from untrusted code, so every field is checked here against a trusted build
 * with the same knobs: only the pruned neighbour rows may differ, and those must be a valid graph
 * (docs/ARCHITECTURE.md "The evaluator": a prune.ts imported into the answering child could patch
 * the search and scored 2.7-4.1x).
 */
import { isDeepStrictEqual } from 'node:util';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/types.ts';
import { buildIndex, type Index } from '../search/engine.ts';
import { checkPrunedGraph } from '../graph/build.ts';
import { Sandbox, SandboxFailureError } from './sandbox.ts';
import { projectReadPaths } from './sandbox-isolation.ts';
import { loadBaseline, type LoadedModule } from './modules.ts';
import { REPO_ROOT } from '../bundle/baseline.ts';
import { buildParamsFor, type Knobs } from '../search/knob-params.ts';
import { materialisePrune } from './graph-variant.ts';
import { StageFail, failureText } from './eval-system.ts';

// The graph builder's progress bar and its dependencies (src/graph/build.ts imports it).
const GRAPH_PACKAGES = ['cli-progress', 'string-width', 'emoji-regex', 'is-fullwidth-code-point', 'strip-ansi', 'ansi-regex'].map((p) => join(REPO_ROOT, 'node_modules', p));

const trustedCache = new Map<string, Promise<Index>>();
const sandboxedCache = new Map<string, Promise<Index>>();

const dataKey = (ds: Dataset) => `${ds.name}|${ds.source}|${ds.base.n}x${ds.base.dim}|${ds.metric}`;

/** An index built here with the shipped prune code and these graph knobs (cached per process). */
export function trustedIndex(ds: Dataset, graphKnobs: Knobs): Promise<Index> {
  const key = `${dataKey(ds)}|${JSON.stringify(graphKnobs)}`;
  let p = trustedCache.get(key);
  if (!p) {
    p = buildIndex(ds.base, ds.metric, buildParamsFor(graphKnobs), { quiet: true }).then((r) => r.index);
    trustedCache.set(key, p);
    p.catch(() => trustedCache.delete(key));
  }
  return p;
}

/**
 * The graph the search and refine stages search when no graph stage ran: the library's default
 * build (auto params, buildParamsFor({})), so at 1M they tune on the degree-64 graph users get,
 * not the graph stage's small-set knobs (degree 32: recall topped at 0.89 there).
 */
export function defaultGraphIndex(ds: Dataset): Promise<Index> {
  return trustedIndex(ds, {});
}

/** Whether a graph module runs code of its own (a prune.ts other than the shipped one). */
export function hasOwnGraphCode(graph: LoadedModule): boolean {
  return graph.sources['prune.ts'] !== loadBaseline('graph').sources['prune.ts'];
}

export interface GraphBuildOptions {
  scratchRoot: string;
  timeoutMs: number;
  memMiB?: number;
  allowNetwork?: boolean;
}

/**
 * The index of a graph module: built here when its code is the shipped one, else by its own code in
 * a throwaway child and checked field by field. Failures of the variant's build are StageFail
 * ('compile' for a build that throws or stalls, 'correctness' for a forged or invalid index).
 */
export function graphIndex(ds: Dataset, graph: LoadedModule, o: GraphBuildOptions): Promise<Index> {
  if (!hasOwnGraphCode(graph)) return trustedIndex(ds, graph.knobs);
  const key = `${dataKey(ds)}|${graph.hash}`;
  let p = sandboxedCache.get(key);
  if (!p) {
    p = buildInChild(ds, graph, o);
    sandboxedCache.set(key, p);
    p.catch(() => sandboxedCache.delete(key));
  }
  return p;
}

async function buildInChild(ds: Dataset, graph: LoadedModule, o: GraphBuildOptions): Promise<Index> {
  const tag = graph.hash.slice(0, 12);
  const prune = materialisePrune(graph.sources['prune.ts'] ?? '', o.scratchRoot, 'graph-build');
  let sb: Sandbox;
  try {
    sb = await Sandbox.start({
      entry: join(REPO_ROOT, 'src', 'evolve', 'eval-child.ts'),
      readPaths: [...projectReadPaths(), ...GRAPH_PACKAGES, prune.dir], scratch: mkdtempSync(join(o.scratchRoot, 'graph-build-')),
      memMiB: o.memMiB ?? 4096, allowWorkers: true, allowNetwork: o.allowNetwork, shaderCache: null,
      timeouts: { startMs: o.timeoutMs, callMs: o.timeoutMs },
    });
  } catch (e) {
    if (e instanceof SandboxFailureError) throw new StageFail('compile', `graph build ${tag}: sandbox start: ${failureText(e.failure)}`);
    throw e;
  }
  try {
    const r = await sb.call<Index>('buildIndex', { knobs: graph.knobs, build: { vectors: ds.base.data, n: ds.base.n, dim: ds.base.dim, metric: ds.metric, pruneModule: prune.url } });
    if (!r.ok) throw new StageFail('compile', `graph build ${tag}: ${failureText(r.failure)}`);
    const reference = await trustedIndex(ds, graph.knobs);
    return checkBuiltIndex(r.value, reference, ds);
  } finally {
    await sb.close();
  }
}

/**
 * An index from untrusted code, accepted only if every field but the pruned rows equals the
 * trusted build's (metric, sizes, storage, entry points, entry layer, recorded build params) and
 * the rows are a valid graph (ids in range, no self loops or repeats). The vectors are always the
 * dataset's own, never the child's.
 */
export function checkBuiltIndex(value: unknown, reference: Index, ds: Dataset): Index {
  const fail = (what: string) => {
    throw new StageFail('correctness', `graph build: the returned index's ${what} differs from the harness's (only the pruned neighbour rows are the module's to choose)`);
  };
  const v = value as Partial<Index> | undefined;
  if (!v || typeof v !== 'object') throw new StageFail('correctness', 'graph build: returned no index');
  for (const f of ['metric', 'dim', 'n', 'storage'] as const) if (v[f] !== reference[f]) fail(f);
  if (!isDeepStrictEqual(v.buildParams, reference.buildParams)) fail('buildParams');
  if (!(v.entryPoints instanceof Uint32Array) || !isDeepStrictEqual(v.entryPoints, reference.entryPoints)) fail('entry points');
  const l = v.entryLayer;
  if (!l || !(l.ids instanceof Uint32Array) || !(l.neighbors instanceof Uint32Array) || l.degree !== reference.entryLayer.degree || !isDeepStrictEqual(l.ids, reference.entryLayer.ids) || !isDeepStrictEqual(l.neighbors, reference.entryLayer.neighbors)) fail('entry layer');
  const g = v.graph;
  if (!g || !(g.neighbors instanceof Uint32Array) || g.n !== ds.base.n || g.degree !== reference.graph.degree) fail('graph shape');
  try {
    checkPrunedGraph(g!.neighbors, g!.n, g!.degree);
  } catch (e) {
    throw new StageFail('correctness', `graph build: ${(e as Error).message}`);
  }
  return {
    ...reference,
    vectors: ds.base.data,
    graph: { ...reference.graph, neighbors: g!.neighbors },
  };
}
