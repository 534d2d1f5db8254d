/**
 * Stage compile: the indexes both sides search, their sandbox children and kernels. A graph
 * variant's own code builds in a throwaway child (eval-graph.ts); the children that answer searches
 * import no variant host code.
 */
import { mkdtempSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Index } from '../search/engine.ts';
import { shuffle } from '../bench/sweep.ts';
import { projectReadPaths } from './sandbox-isolation.ts';
import { loadBaseline, loadVariant, type LoadedModule } from './modules.ts';
import { defaultGraphIndex, graphIndex, trustedIndex } from './eval-graph.ts';
import { BaselineFault, EvalSystem, StageFail } from './eval-system.ts';
import type { OpenPayload } from './eval-child.ts';
import type { Resolved } from './eval-options.ts';
import { EvalSide, type SideEnv } from './eval-side.ts';

export const EVAL_CHILD = fileURLToPath(new URL('./eval-child.ts', import.meta.url));

export interface OpenEnv extends SideEnv {
  o: Resolved;
  scratchRoot: string;
  rng: () => number;
  log: (line: string) => void;
}

/**
 * Builds (or takes) each side's index, then starts the two children in random order and opens the
 * module in each. The sides are pushed into `sides` before their children start, so the caller
 * closes whatever started, whatever failed after.
 */
export async function openSides(sides: EvalSide[], variantMod: LoadedModule, env: OpenEnv): Promise<void> {
  const { o, ds, module } = env;
  const baselineMod = loadBaseline(module);
  const build = { scratchRoot: env.scratchRoot, timeoutMs: o.compileMs, memMiB: o.memMiB, allowNetwork: o.allowNetwork };
  let shared: Index | undefined;
  if (module !== 'graph') {
    // The earlier stage's best graph was built and checked when it was evaluated; a failure now is the evaluator's.
    const ctxGraph = o.context?.graph ? loadVariant(o.context.graph) : undefined;
    try {
      shared = ctxGraph ? await graphIndex(ds, ctxGraph, build) : await defaultGraphIndex(ds);
    } catch (e) {
      if (e instanceof StageFail) throw new BaselineFault(`the context graph failed to build: ${e.message}`);
      throw e;
    }
  }
  const baselineIndex = shared ?? (await trustedIndex(ds, baselineMod.knobs));
  // A graph variant's own code builds in a throwaway child; a StageFail here is the variant's.
  const variantIndex = shared ?? (await graphIndex(ds, variantMod, build));
  sides.push(new EvalSide('baseline', baselineMod, baselineIndex, env), new EvalSide('variant', variantMod, variantIndex, env));
  const searchCtx = o.context?.search && module === 'refine' ? loadVariant(o.context.search) : undefined;
  env.log(`${module}: starting the baseline and the variant in sandboxes`);
  for (const side of shuffle([...sides], env.rng)) {
    const entry = (side.name === 'variant' ? o.childEntry : o.baselineEntry) ?? EVAL_CHILD;
    side.sys = await EvalSystem.start(side.name, {
      entry, readPaths: [...projectReadPaths(), ...(entry !== EVAL_CHILD ? [dirname(entry)] : [])],
      scratch: mkdtempSync(join(env.scratchRoot, `${side.name}-`)), memMiB: o.memMiB ?? 4096, allowNetwork: o.allowNetwork,
      startMs: o.compileMs, callMs: o.callMs, deadline: o.deadline,
    });
    // A filtered evaluation: the index goes with the pool's labels (pool-filter.ts).
    const index = env.filter ? { ...side.index, labels: env.filter.labels } : side.index;
    const payload: OpenPayload = {
      module, sources: side.mod.sources, knobs: side.mod.knobs, k: o.k, adapter: o.adapter, index,
      ...(searchCtx ? { searchContext: { sources: searchCtx.sources, knobs: searchCtx.knobs } } : {}),
      ...(env.filter ? { filtered: true } : {}),
    };
    const r = await side.sys.call<{ adapter: string }>('open', payload, 'compile', o.compileMs);
    side.sys.adapter = String(r.value?.adapter ?? '');
  }
}
