/**
 * The policy's view of a run, read from the journal and the store: the stage's best variant, its
 * evaluated history with verdicts, the adapter the verdicts name and the memory profile saved in
 * the run folder (RUN/profile-loads.txt, the output of `npm run profile:loads`). Used by the loop
 * before each llm round and by `crinn prompt show`, so both see the same prompt.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ModuleName } from '../../bundle/module-manifest.ts';
import { loadBaseline } from '../modules.ts';
import { bestOf, evaluated, startOf, stageOf, type RunState } from '../run-state.ts';
import { getVariant } from '../store.ts';
import type { PolicyContext } from './policy.ts';
import { viewOf } from './policy.ts';
import type { AdapterView, VariantView } from './prompt.ts';
import { UserError } from '../../errors.ts';

export const MEMORY_PROFILE_FILE = 'profile-loads.txt';
/** `crinn adapters --json` saved in the run folder: the adapters' features and limits for the task text. */
export const ADAPTERS_FILE = 'adapters.json';

interface AdapterJson { name: string; description?: string; features?: string[]; limits?: Record<string, number>; subgroupMinSize?: number; subgroupMaxSize?: number }

/** The adapter a verdict names, described from RUN/adapters.json when that file is there. */
function adapterView(runDir: string, name: string | undefined): AdapterView | string | undefined {
  const file = path.join(runDir, ADAPTERS_FILE);
  let list: AdapterJson[] = [];
  if (existsSync(file)) {
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8'));
      list = Array.isArray(parsed) ? parsed : [parsed];
    } catch (e) {
      throw new UserError(`${file}: not valid JSON (${(e as Error).message}); write it with \`crinn adapters --json\``);
    }
  }
  const a = (name ? list.find((x) => x.name === name || name.includes(x.name)) : undefined) ?? (list.length === 1 ? list[0] : undefined);
  if (!a) return name ? `${name} (features and limits unknown: save \`crinn adapters --json\` as ${ADAPTERS_FILE} in the run folder; stay within WebGPU core limits)` : undefined;
  const limits = { ...a.limits, ...(a.subgroupMinSize ? { subgroupMinSize: a.subgroupMinSize } : {}), ...(a.subgroupMaxSize ? { subgroupMaxSize: a.subgroupMaxSize } : {}) };
  return { name: a.name, description: a.description, features: a.features, limits };
}

/** The seed of the next llm round of a stage: a function of the journal, so a resumed run repeats it. */
export function roundSeed(st: RunState, module: ModuleName): number {
  const idx = st.stages.findIndex((s) => s.module === module);
  return st.config.seed * 31 + idx * 7919 + stageOf(st, module).proposals.length;
}

export function policyContext(runDir: string, st: RunState, module: ModuleName): PolicyContext {
  const stage = stageOf(st, module);
  const history: VariantView[] = evaluated(stage).map((p) => viewOf(getVariant(runDir, p.hash), p.verdict));
  const bestP = bestOf(stage) ?? startOf(stage);
  let best: VariantView;
  let manifest;
  if (bestP) {
    const stored = getVariant(runDir, bestP.hash);
    best = viewOf(stored, bestP.verdict);
    manifest = stored.variant.manifest;
  } else {
    // The stage has not started: the shipped baseline, as the loop will store it.
    const b = loadBaseline(module);
    manifest = { ...b.manifest, files: Object.keys(b.sources) };
    best = { hash: b.hash, origin: 'baseline', knobValues: b.knobs, files: b.sources };
  }
  const adapter = [...history].reverse().find((v) => v.verdict?.adapter)?.verdict?.adapter;
  const profile = path.join(runDir, MEMORY_PROFILE_FILE);
  return {
    runDir, module, manifest, best, history, seed: roundSeed(st, module),
    adapter: adapterView(runDir, adapter),
    memoryProfile: existsSync(profile) ? readFileSync(profile, 'utf8') : undefined,
  };
}
