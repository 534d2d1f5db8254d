/**
 * The bridge between the loop (loop.ts, LoopDeps.propose) and the llm policy: per round it builds
 * the policy's view of the run (run-context.ts), asks for one GRPO group and hands the variants
 * back as store files. The run config journals the LLM settings without the key (llmSettings);
 * `crinn resume` rebuilds the same policy from them plus the environment's key.
 */
import type { Verdict } from '../contract.ts';
import type { ModuleName } from '../../bundle/module-manifest.ts';
import type { Proposer } from '../loop.ts';
import type { RunState } from '../run-state.ts';
import { variantHash } from '../store.ts';
import { loadLlmConfig, readLlmConfigFile, type LlmConfig, type LlmConfigInput } from './config.ts';
import { LlmPolicy, type LlmPolicyDeps } from './policy.ts';
import { policyContext } from './run-context.ts';

/** Groups in a row with no usable variant after which the session stops (a model that cannot follow the format). */
export const MAX_EMPTY_GROUPS = 3;

export function llmSettings(c: LlmConfig): Record<string, unknown> {
  const { apiKey: _key, ...rest } = c;
  return rest;
}

/** The config of a journaled llm run: its settings, the environment's key (and a file's, if given). */
export function configOfRun(st: RunState, o: { file?: string; env?: NodeJS.ProcessEnv } = {}): LlmConfig {
  const saved = (st.config.llm ?? {}) as LlmConfigInput;
  // A file given to resume wins over the journaled settings (a larger budget, another endpoint).
  return loadLlmConfig({ env: o.env, overrides: { ...saved, ...(o.file ? readLlmConfigFile(o.file) : {}) }, requireKey: true });
}

function runVerdicts(st: RunState): Map<string, Verdict> {
  const m = new Map<string, Verdict>();
  for (const s of st.stages) for (const p of s.proposals) if (p.verdict && !m.has(p.hash)) m.set(p.hash, p.verdict);
  return m;
}

export interface LlmProposer {
  propose: Proposer;
  /** Writes the groups still open (the run's last) to trajectories.jsonl; call when the loop returns. */
  finish(st: RunState): void;
  /** Why the session stopped early, if it did. */
  stopped(): string | undefined;
  policy: LlmPolicy;
}

export function llmProposer(runDir: string, config: LlmConfig, deps: Omit<LlmPolicyDeps, 'hashOf'> = {}): LlmProposer {
  const policy = new LlmPolicy(runDir, config, {
    ...deps,
    hashOf: (files, knobs) => variantHash(Object.entries(files).map(([path, text]) => ({ path, content: Buffer.from(text) })), knobs),
  });
  let empty = 0;
  let stop: string | undefined;
  return {
    policy,
    stopped: () => stop,
    finish: (st) => void policy.settle({ module: st.stages[0].module, history: [], verdicts: runVerdicts(st) }),
    async propose(dir: string, st: RunState, module: ModuleName) {
      const ctx = { ...policyContext(dir, st, module), verdicts: runVerdicts(st) };
      const r = await policy.propose(ctx);
      empty = r.proposals.length === 0 ? empty + 1 : 0;
      stop = r.stop ?? (empty >= MAX_EMPTY_GROUPS ? `the model gave no usable variant in ${empty} groups in a row (see ${policy.ledger})` : undefined);
      return {
        variants: r.proposals.map((p) => ({ files: Object.entries(p.files).map(([path, text]) => ({ path, content: Buffer.from(text) })), knobValues: p.knobValues, parents: p.parents, origin: p.origin })),
        stop,
      };
    },
  };
}
