/**
 * The llm policy: one propose() call is one GRPO group. It settles the groups of earlier calls
 * (their variants have been evaluated by then), builds the contrastive prompt, samples it G times,
 * turns each reply into a variant (one repair turn for a bad reply), and returns the variants for
 * the loop to store, journal and evaluate. Failed samples never reach the loop; they are recorded
 * here with their reason and count in their group with failureReward.
 *
 * Its own ledger, RUN/llm.jsonl (fsync per line), holds what the journal does not: prompts,
 * completions, token usage; the journal stays the truth for variants and verdicts. A resumed run
 * restores the usage (so the budget holds across sessions) and settles any group left open.
 *
 * How the loop uses it (see Policy): per proposal round,
 *   const r = await policy.propose(ctx);  // ctx: module, manifest, best and evaluated history of the stage
 *   for (const p of r.proposals) putVariant + journal 'variant-proposed' (origin 'llm', parents p.parents)
 *   if (r.proposals.length === 0 && r.stop) stop the run resumably with r.stop
 * and at the end of a stage, policy.settle(ctx) so its last group reaches trajectories.jsonl.
 */
import path from 'node:path';
import type { Verdict } from '../contract.ts';
import type { ModuleManifest, ModuleName } from '../../bundle/module-manifest.ts';
import { BudgetExhausted, LlmClient, LlmRequestError, addUsage, emptyUsage, type ChatMessage, type ClientOptions, type Usage } from './client.ts';
import type { LlmConfig } from './config.ts';
import { writeGroup, type TrajectoryRow } from './grpo.ts';
import { appendJsonl, readJsonl } from './jsonl.ts';
import { buildPrompt, repairMessage, type AdapterView, type FailureNote, type VariantView } from './prompt.ts';
import { ReplyError, applyReply, parseReply } from './reply.ts';

export const LLM_LEDGER = 'llm.jsonl';

export interface PolicyContext {
  runDir: string;
  module: ModuleName;
  manifest: ModuleManifest;
  /** The stage's best variant so far (its start before anything was better). */
  best: VariantView;
  /** Every evaluated proposal of this stage, in journal order (verdict set). */
  history: VariantView[];
  /** Deterministic per round (the loop: run seed, stage, proposal index). */
  seed: number;
  adapter?: AdapterView | string;
  memoryProfile?: string;
  /** Verdicts of the whole run by variant hash, so groups of earlier stages settle too (default: this stage's history). */
  verdicts?: Map<string, Verdict>;
}

export interface ProposedVariant {
  files: Record<string, string>;
  knobValues: Record<string, number>;
  parents: string[];
  origin: string;
  /** Content hash (the store's address), computed with the loop's hash function. */
  hash: string;
  group: string;
  sample: number;
}

export interface PolicyResult {
  proposals: ProposedVariant[];
  /** Set when the run must stop (budget spent, endpoint down); resumable. */
  stop?: string;
}

/** What the loop calls; autotune can sit behind the same shape. */
export interface Policy {
  readonly name: string;
  propose(ctx: PolicyContext): Promise<PolicyResult>;
  settle?(ctx: PolicyContext): void;
}

type LedgerRecord =
  | { type: 'group'; group: string; module: ModuleName; seed: number; model: string; prompt: ChatMessage[]; exemplars: string[]; parent: string; time: string }
  | { type: 'sample'; group: string; sample: number; completion: string; turns: ChatMessage[]; hash: string | null; stage: string; reason: string; promptTokens: number; completionTokens: number; time: string }
  | { type: 'group-sampled'; group: string; count: number }
  | { type: 'group-done'; group: string }
  | ({ type: 'usage' } & Usage);

export interface LlmPolicyDeps {
  /** The store's content hash of (files by manifest path, knob values). */
  hashOf: (files: Record<string, string>, knobValues: Record<string, number>) => string;
  /** Tests: custom fetch / sleep for the client; the CLI: where the client's waiting lines go. */
  clientOptions?: Pick<ClientOptions, 'fetch' | 'sleep' | 'onWait'>;
  onEvent?: (e: { type: 'sample'; group: string; sample: number; ok: boolean; reason: string; repaired: boolean }) => void;
}

export class LlmPolicy implements Policy {
  readonly name = 'llm';
  readonly config: LlmConfig;
  readonly client: LlmClient;
  #runDir: string;
  #deps: LlmPolicyDeps;

  constructor(runDir: string, config: LlmConfig, deps: LlmPolicyDeps) {
    this.config = config;
    this.#runDir = runDir;
    this.#deps = deps;
    this.client = new LlmClient(config, { ...deps.clientOptions, usage: restoredUsage(runDir), onUsage: (d) => this.#log({ type: 'usage', ...d }) });
  }

  get ledger(): string {
    return path.join(this.#runDir, LLM_LEDGER);
  }

  #log(r: LedgerRecord): void {
    appendJsonl(this.ledger, r);
  }

  #records(): LedgerRecord[] {
    return readJsonl(this.ledger) as LedgerRecord[];
  }

  /**
   * Writes every open group to trajectories.jsonl. A sample whose variant has no verdict was never
   * evaluated (the loop cut the group to its evaluation budget, or the run stopped first): it is
   * left out rather than scored, and the group's advantages are over the samples that were.
   */
  settle(ctx: Pick<PolicyContext, 'history' | 'verdicts' | 'module'>): TrajectoryRow[][] {
    const recs = this.#records();
    const done = new Set(recs.filter((r) => r.type === 'group-done').map((r) => (r as { group: string }).group));
    const verdicts = new Map<string, Verdict>(ctx.verdicts ?? []);
    for (const v of ctx.history) if (v.verdict && !verdicts.has(v.hash)) verdicts.set(v.hash, v.verdict);
    const out: TrajectoryRow[][] = [];
    for (const g of recs.filter((r): r is Extract<LedgerRecord, { type: 'group' }> => r.type === 'group')) {
      if (done.has(g.group) || (ctx.verdicts === undefined && g.module !== ctx.module)) continue;
      const samples = recs.filter((r): r is Extract<LedgerRecord, { type: 'sample' }> => r.type === 'sample' && r.group === g.group).sort((a, b) => a.sample - b.sample);
      const rows = samples.filter((s) => s.hash === null || verdicts.has(s.hash)).map((s) => {
        const v = s.hash ? verdicts.get(s.hash) : undefined;
        const failed = s.hash === null || !v || v.status !== 'ok' || typeof v.reward !== 'number';
        const stage = s.hash === null ? s.stage : v!.stage;
        const reason = s.hash === null ? s.reason : v!.status === 'ok' ? '' : v!.reason;
        return {
          prompt: [...g.prompt, ...s.turns], completion: [{ role: 'assistant' as const, content: s.completion }],
          reward: failed ? this.config.failureReward : (v!.reward as number), group_id: g.group, sample: s.sample, module: g.module,
          stage, status: failed ? 'failed' as const : 'ok' as const, reason, variant_hash: s.hash, repaired: s.turns.length > 0,
          model: g.model, prompt_tokens: s.promptTokens, completion_tokens: s.completionTokens, time: s.time,
        };
      });
      if (rows.length > 0) out.push(writeGroup(this.#runDir, rows));
      this.#log({ type: 'group-done', group: g.group });
    }
    return out;
  }

  /** Reply failures recorded for this module (newest last), for the prompt's failure list. */
  #replyFailures(module: ModuleName): FailureNote[] {
    const recs = this.#records();
    const mod = new Map(recs.filter((r) => r.type === 'group').map((r) => [(r as { group: string }).group, (r as { module: ModuleName }).module]));
    return recs.filter((r): r is Extract<LedgerRecord, { type: 'sample' }> => r.type === 'sample' && r.hash === null && mod.get(r.group) === module)
      .map((r) => ({ stage: r.stage, reason: r.reason, origin: 'llm' }));
  }

  prompt(ctx: PolicyContext): ReturnType<typeof buildPrompt> {
    const evaluatedFailures: FailureNote[] = ctx.history.filter((v) => v.verdict && v.verdict.status !== 'ok')
      .map((v) => ({ stage: v.verdict!.stage, reason: v.verdict!.reason, hash: v.hash, origin: v.origin }));
    return buildPrompt({
      module: ctx.module, manifest: ctx.manifest, best: ctx.best, history: ctx.history,
      failures: [...evaluatedFailures, ...this.#replyFailures(ctx.module)],
      adapter: ctx.adapter, memoryProfile: ctx.memoryProfile,
      exemplars: this.config.exemplars, exemplarTemperature: this.config.exemplarTemperature, maxFailures: this.config.failures, seed: ctx.seed,
    });
  }

  async propose(ctx: PolicyContext): Promise<PolicyResult> {
    this.settle(ctx);
    const spent = this.client.budgetReached();
    if (spent) return { proposals: [], stop: spent };
    const built = this.prompt(ctx);
    const n = this.#records().filter((r) => r.type === 'group').length;
    const group = `${ctx.module}-g${n}`;
    this.#log({ type: 'group', group, module: ctx.module, seed: ctx.seed, model: this.config.model, prompt: built.messages, exemplars: built.exemplars, parent: ctx.best.hash, time: new Date().toISOString() });
    const G = this.config.samples;
    const results = await Promise.all(Array.from({ length: G }, (_, i) => this.#sample(ctx, built.messages, group, i)));
    const recorded = results.filter((r) => r.kind !== 'unsent');
    this.#log({ type: 'group-sampled', group, count: recorded.length });
    const proposals = results.flatMap((r) => (r.kind === 'ok' ? [r.proposal] : []));
    let stop: string | undefined;
    const budget = results.map((r) => (r.kind === 'unsent' ? r.reason : r.kind === 'failed' ? r.budget : undefined)).find((x) => x !== undefined);
    if (budget) stop = budget;
    else if (proposals.length === 0 && recorded.every((r) => r.kind === 'request-failed')) stop = `LLM endpoint failed for every sample: ${(recorded[0] as { reason: string }).reason}`;
    // A group with nothing to evaluate is complete now.
    if (proposals.length === 0) this.settle(ctx);
    return { proposals, stop };
  }

  async #sample(ctx: PolicyContext, prompt: ChatMessage[], group: string, i: number): Promise<
    | { kind: 'ok'; proposal: ProposedVariant }
    | { kind: 'failed' | 'request-failed'; reason: string; budget?: string }
    | { kind: 'unsent'; reason: string }
  > {
    const parent = { files: ctx.best.files, knobValues: ctx.best.knobValues };
    const turns: ChatMessage[] = [];
    let tokens = { p: 0, c: 0 };
    const record = (completion: string, hash: string | null, stage: string, reason: string) => {
      this.#log({ type: 'sample', group, sample: i, completion, turns, hash, stage, reason, promptTokens: tokens.p, completionTokens: tokens.c, time: new Date().toISOString() });
      this.#deps.onEvent?.({ type: 'sample', group, sample: i, ok: hash !== null, reason, repaired: turns.length > 0 });
    };
    const ask = async (messages: ChatMessage[]) => {
      const r = await this.client.complete(messages, { seed: ctx.seed * 1000 + i });
      tokens = { p: tokens.p + r.promptTokens, c: tokens.c + r.completionTokens };
      return r.text;
    };
    let text = '';
    try {
      text = await ask(prompt);
      let applied;
      try {
        applied = applyReply(parent, parseReply(text), ctx.manifest);
      } catch (err) {
        if (!(err instanceof ReplyError)) throw err;
        // One repair turn: the model sees its reply and the exact error.
        turns.push({ role: 'assistant', content: text }, repairMessage(err.message, Object.keys(parent.files)));
        text = await ask([...prompt, ...turns]);
        try {
          applied = applyReply(parent, parseReply(text), ctx.manifest);
        } catch (err2) {
          if (!(err2 instanceof ReplyError)) throw err2;
          record(text, null, 'reply', `after one repair: ${err2.message} (first reply: ${err.message})`);
          return { kind: 'failed', reason: err2.message };
        }
      }
      const hash = this.#deps.hashOf(applied.files, applied.knobValues);
      record(text, hash, 'proposed', '');
      return { kind: 'ok', proposal: { ...applied, parents: [ctx.best.hash], origin: 'llm', hash, group, sample: i } };
    } catch (err) {
      if (err instanceof BudgetExhausted) {
        // A sample that never reached the model is not a sample; one whose retry or repair was refused failed.
        if (turns.length > 0 || err.attempted) {
          record(text, null, 'request', `stopped by the budget: ${err.message}`);
          return { kind: 'failed', reason: err.message, budget: err.message };
        }
        return { kind: 'unsent', reason: err.message };
      }
      if (err instanceof LlmRequestError) {
        record(text, null, 'request', err.message);
        return { kind: 'request-failed', reason: err.message };
      }
      throw err;
    }
  }
}

/** Usage spent by earlier sessions of this run (so a resumed run keeps its budget). */
export function restoredUsage(runDir: string): Usage {
  let u = emptyUsage();
  for (const r of readJsonl(path.join(runDir, LLM_LEDGER)) as LedgerRecord[]) {
    if (r.type === 'usage') u = addUsage(u, { requests: r.requests, retries: r.retries, failures: r.failures, promptTokens: r.promptTokens, completionTokens: r.completionTokens, costUsd: r.costUsd });
  }
  return u;
}

/** A stored variant (the store's shape: files with Buffer content) as the prompt's view. */
export function viewOf(s: { hash: string; variant: { origin: string; knobValues: Record<string, number> }; files: { path: string; content: Buffer | string }[] }, verdict?: Verdict): VariantView {
  return { hash: s.hash, origin: s.variant.origin, knobValues: s.variant.knobValues, files: Object.fromEntries(s.files.map((f) => [f.path, f.content.toString()])), verdict };
}
