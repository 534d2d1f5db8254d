/**
 * Settings of the LLM policy: endpoint, model and key, sampling, limits and budget. They come from
 * a JSON config file (validated here, every field optional) with the environment filling what the
 * file leaves out: OPENAI_BASE_URL, OPENAI_API_KEY, CRINN_LLM_MODEL. The key is demanded only by
 * `requireKey` (the llm policy), so autotune runs and `crinn prompt show` never need one.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { UserError } from '../../errors.ts';
import { assertRegularFileSync } from '../../data/vecs.ts';

export const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

const positiveInt = z.number().int().positive();

export const llmConfigSchema = z.object({
  /** OpenAI-compatible endpoint, '.../v1' (vLLM, Ollama, llama.cpp's server all speak it). */
  baseURL: z.string().url().optional(),
  apiKey: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  temperature: z.number().min(0).max(2).default(0.8),
  /** Completion token limit per request. */
  maxTokens: positiveInt.default(8192),
  /** Which request field carries it: newer OpenAI models want max_completion_tokens, local servers max_tokens. */
  maxTokensField: z.enum(['max_tokens', 'max_completion_tokens']).default('max_tokens'),
  /** Requests in flight at once (the G samples of a group are sent together). */
  concurrency: positiveInt.default(4),
  /**
   * Per request, milliseconds. The default reports an endpoint that accepts connections and never
   * answers within about a minute; a big model on a CPU needs more (raise it).
   */
  timeoutMs: positiveInt.default(60_000),
  /** Extra attempts after the first on 429, 5xx and dropped connections (fast failures). */
  retries: z.number().int().min(0).max(20).default(4),
  /** Extra attempts after a timeout: each costs a whole timeoutMs, so none by default. */
  timeoutRetries: z.number().int().min(0).max(20).default(0),
  /** While requests are in flight, a line saying so (with the elapsed time) every this many milliseconds. */
  waitNoticeMs: positiveInt.default(15_000),
  /** Backoff before retry n (0-based): min(maxMs, baseMs * 2^n), or the server's Retry-After when larger (capped at maxMs). */
  backoff: z.object({ baseMs: z.number().int().min(0).default(1000), maxMs: z.number().int().min(0).default(60_000) }).prefault({}),
  /** USD per million tokens; with them the budget can be in money. */
  prices: z.object({ inputPerMTok: z.number().min(0), outputPerMTok: z.number().min(0) }).optional(),
  /** The run stops (resumably) once either cap is reached. */
  budget: z.object({ tokens: positiveInt.optional(), usd: z.number().positive().optional() }).prefault({}),
  /** GRPO group size: completions sampled per prompt. */
  samples: positiveInt.default(4),
  /** Earlier variants shown in the contrastive section, and the softmax temperature over their rewards. */
  exemplars: z.number().int().min(0).default(4),
  exemplarTemperature: z.number().positive().default(0.25),
  /** Recent failures shown to the model. */
  failures: z.number().int().min(0).default(3),
  /** Reward given to a sample whose reply or variant failed (GRPO needs a number for every sample). */
  failureReward: z.number().default(0),
}).strict().refine((c) => c.budget.usd === undefined || c.prices !== undefined, { message: 'budget.usd needs prices (inputPerMTok, outputPerMTok)', path: ['budget', 'usd'] });

export type LlmConfigInput = z.input<typeof llmConfigSchema>;
/** Resolved settings: baseURL and model always set; apiKey set when it was required. */
export type LlmConfig = z.output<typeof llmConfigSchema> & { baseURL: string; model: string; apiKey?: string };

export interface LoadOptions {
  /** JSON file with any of the schema's fields. */
  file?: string;
  /** Fields from the command line; they win over file and environment. */
  overrides?: LlmConfigInput;
  env?: NodeJS.ProcessEnv;
  /** True when the llm policy will talk to the endpoint: a missing key is then an error. */
  requireKey?: boolean;
}

function issueLine(where: string, err: z.ZodError): string {
  const i = err.issues[0];
  return `${where}: ${i.path.map(String).join('.') || '(root)'}: ${i.message}`;
}

function readConfigFile(file: string): unknown {
  let text: string;
  // A FIFO or a device would block or never end: refused before it is opened.
  assertRegularFileSync(file);
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`${file}: cannot read LLM config (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

const drop = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

/** The fields a config file sets (validated), without defaults filled in. */
export function readLlmConfigFile(file: string): LlmConfigInput {
  const fromFile = readConfigFile(file);
  const parsedFile = llmConfigSchema.safeParse(fromFile);
  if (!parsedFile.success) throw new UserError(issueLine(file, parsedFile.error));
  return drop(fromFile as Record<string, unknown>) as LlmConfigInput;
}

export function loadLlmConfig(o: LoadOptions = {}): LlmConfig {
  const env = o.env ?? process.env;
  const where = o.file ?? 'LLM config';
  const fileFields: Record<string, unknown> = o.file === undefined ? {} : readLlmConfigFile(o.file);
  const fromEnv = drop({ baseURL: env.OPENAI_BASE_URL || undefined, apiKey: env.OPENAI_API_KEY || undefined, model: env.CRINN_LLM_MODEL || undefined });
  // File over environment: a config file names one endpoint on purpose; overrides (flags) over both.
  const merged = { ...fromEnv, ...fileFields, ...drop(o.overrides ?? {}) };
  const r = llmConfigSchema.safeParse(merged);
  if (!r.success) {
    const field = r.error.issues[0].path[0];
    const src = field === 'baseURL' && !('baseURL' in fileFields) ? 'OPENAI_BASE_URL' : field === 'model' && !('model' in fileFields) ? 'CRINN_LLM_MODEL' : where;
    throw new UserError(issueLine(src, r.error));
  }
  const c = r.data;
  if (o.requireKey) {
    if (c.apiKey === undefined) {
      throw new UserError(`OPENAI_API_KEY: not set (the llm policy needs it; set it, or apiKey in ${o.file ?? 'an --llm-config file'}; any non-empty value for a local server)`);
    }
    if (c.model === undefined) throw new UserError(`CRINN_LLM_MODEL: not set (the llm policy needs a model; set it, or model in ${o.file ?? 'an --llm-config file'})`);
  }
  return { ...c, baseURL: c.baseURL ?? DEFAULT_BASE_URL, model: c.model ?? '(no model set)' };
}

/** USD for a token count under the configured prices (0 without prices). */
export function costUsd(c: Pick<LlmConfig, 'prices'>, promptTokens: number, completionTokens: number): number {
  if (!c.prices) return 0;
  return (promptTokens * c.prices.inputPerMTok + completionTokens * c.prices.outputPerMTok) / 1e6;
}
