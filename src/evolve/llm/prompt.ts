/**
 * The prompt the llm policy sends for one module: prompts/system.md as the system message; the
 * module's task text (prompts/task-<module>.md) and the contrastive section (prompts/contrastive.md:
 * current best, softmax-drawn earlier variants shown as diffs with their measurements, recent
 * failures) as the user message. Pure: the same input gives the same prompt.
 */
import { describeConstraints } from '../constraints.ts';
import type { Verdict } from '../contract.ts';
import type { ModuleManifest, ModuleName } from '../../bundle/module-manifest.ts';
import { rewardText } from '../reward-text.ts';
import type { ChatMessage } from './client.ts';
import { unifiedDiff } from './diff.ts';
import { sampleExemplars } from './exemplars.ts';
import { PROMPTS_DIR, renderFile } from './render.ts';

/** A variant with its files (manifest path -> text) and, once evaluated, its verdict. */
export interface VariantView {
  hash: string;
  origin: string;
  knobValues: Record<string, number>;
  files: Record<string, string>;
  verdict?: Verdict;
}

export interface FailureNote {
  /** Evaluator stage ('load'...'reward') or 'reply' when the model's reply never became a variant. */
  stage: string;
  reason: string;
  hash?: string;
  origin?: string;
}

export interface AdapterView {
  name: string;
  description?: string;
  features?: string[];
  limits?: Record<string, number>;
}

export interface PromptInput {
  module: ModuleName;
  manifest: ModuleManifest;
  best: VariantView;
  /** This stage's evaluated variants (the best among them is skipped as an exemplar). */
  history: VariantView[];
  failures: FailureNote[];
  adapter?: AdapterView | string;
  /** Text printed by scripts/profile-loads.ts on this adapter. */
  memoryProfile?: string;
  exemplars: number;
  exemplarTemperature: number;
  maxFailures: number;
  seed: number;
  templatesDir?: string;
}

export interface BuiltPrompt {
  messages: ChatMessage[];
  /** Hashes of the exemplars shown, best first. */
  exemplars: string[];
}

const fmt = (x: number | null | undefined, d = 3) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
const qps = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const fence = (name: string) => (name.endsWith('.wgsl') ? 'wgsl' : name.endsWith('.ts') ? 'ts' : '');

function knobLine(values: Record<string, number>): string {
  const names = Object.keys(values).sort();
  return names.length === 0 ? '(none)' : names.map((n) => `${n}=${values[n]}`).join(', ');
}

export function measurements(v: VariantView): string {
  const d = v.verdict;
  if (!d) return 'not measured yet';
  if (d.status === 'void') return `not measured (evaluator fault: ${d.reason})`;
  if (d.status !== 'ok') return `failed at ${d.stage}: ${d.reason}`;
  return `reward ${rewardText(d)} (95% interval; AUC ${qps(d.variantAuc)} QPS vs baseline ${qps(d.baselineAuc)}), QPS@0.95 ${qps(d.qpsAt95)}, work per query@0.95 ${qps(d.evaluationsAt95)} distance evaluations, QPS@0.90 ${qps(d.qpsAt90)}`;
}

function describeAdapter(a: PromptInput['adapter']): string {
  if (a === undefined) return 'not reported yet (unknown adapter: stay within WebGPU core limits).';
  if (typeof a === 'string') return a;
  const lines = [`${a.name}${a.description ? ` (${a.description})` : ''}`];
  if (a.features) lines.push(`features: ${a.features.join(', ') || '(none)'}`);
  if (a.limits) {
    const keep = ['maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxStorageBufferBindingSize', 'maxStorageBuffersPerShaderStage', 'subgroupMinSize', 'subgroupMaxSize'];
    const shown = keep.filter((k) => k in a.limits!).map((k) => `${k}=${a.limits![k]}`);
    lines.push(`limits: ${shown.join(', ') || '(none reported)'}`);
  }
  return lines.join('\n');
}

function showBest(v: VariantView): string {
  const files = Object.entries(v.files).map(([p, text]) => `### ${p}\n\`\`\`${fence(p)}\n${text.replace(/\n$/, '')}\n\`\`\``);
  return [`Variant ${v.hash.slice(0, 12)} (${v.origin}): ${measurements(v)}`, `Knobs: ${knobLine(v.knobValues)}`, '', ...files].join('\n');
}

function showExemplar(v: VariantView, best: VariantView, n: number): string {
  const diffs = Object.keys(v.files).map((p) => unifiedDiff(best.files[p] ?? '', v.files[p], p)).filter((d) => d !== '');
  const code = diffs.length === 0 ? 'Code: same as the current best.' : `Code, as a diff against the current best:\n\`\`\`diff\n${diffs.join('\n')}\n\`\`\``;
  return [`## Exemplar ${n}: variant ${v.hash.slice(0, 12)} (${v.origin})`, `Measured: ${measurements(v)}`, `Knobs: ${knobLine(v.knobValues)}`, code].join('\n');
}

function showKnobs(m: ModuleManifest): string {
  if (m.knobs.length === 0) return '(none)';
  return m.knobs.map((k) => `- ${k.name}: ${k.integer ? 'integer' : 'number'} in [${k.min}, ${k.max}], default ${k.default}${k.scale === 'log' ? ', log scale' : ''}${k.doc ? `: ${k.doc}` : ''}`).join('\n');
}

export function buildPrompt(input: PromptInput): BuiltPrompt {
  const dir = input.templatesDir ?? PROMPTS_DIR;
  const m = input.manifest;
  const candidates = input.history
    .filter((v) => v.hash !== input.best.hash && v.verdict?.status === 'ok' && typeof v.verdict.reward === 'number')
    // One exemplar per distinct variant: the store deduplicates content, the history may not.
    .filter((v, i, all) => all.findIndex((w) => w.hash === v.hash) === i)
    .map((v) => ({ v, reward: v.verdict!.reward as number }));
  const picked = sampleExemplars(candidates, input.exemplars, input.exemplarTemperature, input.seed).map((c) => c.v);
  const failures = input.failures.slice(-input.maxFailures);
  const fileNames = Object.keys(input.best.files);
  const task = renderFile(`task-${input.module}.md`, {
    module: input.module,
    kind: m.kind,
    contract: m.contract,
    description: m.description || '(no description)',
    files: fileNames.map((f) => `- ${f}`).join('\n'),
    knobs: showKnobs(m),
    effort: m.effort ? `${m.effort.name} in [${m.effort.min}, ${m.effort.max}]` : '(none)',
    // The manifest's constraints, against this adapter's workgroup memory when it is known.
    constraints: describeConstraints(m.constraints, { workgroupStorageLimit: typeof input.adapter === 'object' ? input.adapter.limits?.maxComputeWorkgroupStorageSize : undefined }),
    adapter: describeAdapter(input.adapter),
    memory_profile: input.memoryProfile?.trim() || 'not measured (run `npm run profile:loads` and save its output as profile-loads.txt in the run folder).',
  }, dir);
  const contrastive = renderFile('contrastive.md', {
    module: input.module,
    best: showBest(input.best),
    exemplars: picked.length === 0 ? '(none yet: this is the first proposal of the stage)' : picked.map((v, i) => showExemplar(v, input.best, i + 1)).join('\n\n'),
    failures: failures.length === 0 ? '(none)' : failures.map((f) => `- ${f.hash ? `variant ${f.hash.slice(0, 12)}` : 'reply'}${f.origin ? ` (${f.origin})` : ''}, stage ${f.stage}: ${f.reason.replace(/\s*\n\s*/g, ' ').slice(0, 400)}`).join('\n'),
  }, dir);
  return {
    messages: [
      { role: 'system', content: renderFile('system.md', {}, dir).trim() },
      { role: 'user', content: `${task.trim()}\n\n${contrastive.trim()}` },
    ],
    exemplars: picked.map((v) => v.hash),
  };
}

export function repairMessage(error: string, files: string[], dir = PROMPTS_DIR): ChatMessage {
  return { role: 'user', content: renderFile('repair.md', { error, files: files.join(', ') }, dir).trim() };
}
