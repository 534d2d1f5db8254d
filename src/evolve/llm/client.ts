/**
 * The chat-completions client of the llm policy, over the `openai` package. The package's own
 * retries are switched off (maxRetries 0) so that one place decides: a request is retried, up to
 * `retries` times, on 429, any 5xx or a dropped connection, and up to `timeoutRetries` times (none
 * by default: each costs a whole timeoutMs) on a timeout, after min(maxMs, baseMs * 2^attempt) ms,
 * or the server's Retry-After when that is longer (capped at maxMs); any other 4xx fails at once.
 * While requests are in flight, `onWait` gets a line every waitNoticeMs with the elapsed time, so
 * an endpoint that never answers is never minutes of silence. Every answered request adds its tokens (and cost, when
 * prices are set) to the run's usage; once the usage reaches a budget cap, complete() refuses with
 * BudgetExhausted before sending anything, so a run stops between requests, never mid-sample.
 * Requests already in flight when the cap is crossed still count (overshoot <= concurrency x maxTokens).
 */
import type OpenAI from 'openai';
import { EnvironmentError } from '../../errors.ts';
import { costUsd, type LlmConfig } from './config.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface Usage {
  requests: number;
  /** Attempts that were retried (429, 5xx, timeouts, connection drops). */
  retries: number;
  /** Requests that failed for good. */
  failures: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

export const emptyUsage = (): Usage => ({ requests: 0, retries: 0, failures: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 });

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    requests: a.requests + b.requests, retries: a.retries + b.retries, failures: a.failures + b.failures,
    promptTokens: a.promptTokens + b.promptTokens, completionTokens: a.completionTokens + b.completionTokens, costUsd: a.costUsd + b.costUsd,
  };
}

export interface Completion {
  text: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: string;
  /** 1 + retries this request needed. */
  attempts: number;
}

/** The budget cap is reached: the run stops here and can be resumed with a larger budget. */
export class BudgetExhausted extends Error {
  override name = 'BudgetExhausted';
  /** True when the request was sent before (a retry was refused): the sample did happen and failed. */
  readonly attempted: boolean;
  constructor(message: string, attempted = false) {
    super(message);
    this.attempted = attempted;
  }
}

export type LlmFailure = 'rate-limit' | 'server' | 'timeout' | 'connection' | 'client' | 'empty';

/** A request that failed for good (after retries, or a non-retryable status). */
export class LlmRequestError extends EnvironmentError {
  override name = 'LlmRequestError';
  readonly kind: LlmFailure;
  readonly status: number | undefined;
  constructor(kind: LlmFailure, status: number | undefined, message: string) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

export interface ClientOptions {
  /** Usage already spent by this run (restored on resume), counted against the budget. */
  usage?: Usage;
  /** Called with each request's usage delta (the policy journals it). */
  onUsage?: (delta: Usage) => void;
  sleep?: (ms: number) => Promise<void>;
  /** Custom fetch (tests); default the global one. */
  fetch?: typeof fetch;
  /** 'waiting for the LLM ...' lines while requests are in flight (the CLI: stderr). */
  onWait?: (line: string) => void;
}

// The client library is loaded with the first request, not at import: it costs every CLI start-up ~0.4 s.
let openai: typeof import('openai') | undefined;
async function openaiModule(): Promise<typeof import('openai')> {
  return (openai ??= await import('openai'));
}

/** An error of a request: the client library is loaded by then. */
function classify(err: unknown): { kind: LlmFailure; status?: number; retryable: boolean; retryAfterMs?: number } {
  const OpenAI = openai?.default;
  if (!OpenAI) return { kind: 'client', retryable: false };
  if (err instanceof OpenAI.APIConnectionTimeoutError) return { kind: 'timeout', retryable: true };
  if (err instanceof OpenAI.APIConnectionError) return { kind: 'connection', retryable: true };
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    const s = err.status;
    const retryAfterMs = parseRetryAfter(err.headers);
    if (s === 429) return { kind: 'rate-limit', status: s, retryable: true, retryAfterMs };
    if (s >= 500) return { kind: 'server', status: s, retryable: true, retryAfterMs };
    if (s === 408) return { kind: 'timeout', status: s, retryable: true, retryAfterMs };
    return { kind: 'client', status: s, retryable: false };
  }
  return { kind: 'client', retryable: false };
}

function parseRetryAfter(h: Headers | undefined): number | undefined {
  const v = h?.get('retry-after-ms') ?? undefined;
  if (v !== undefined && Number.isFinite(Number(v))) return Number(v);
  const s = h?.get('retry-after') ?? undefined;
  if (s === undefined) return undefined;
  if (Number.isFinite(Number(s))) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

export function backoffMs(cfg: Pick<LlmConfig, 'backoff'>, attempt: number, retryAfterMs?: number): number {
  const exp = Math.min(cfg.backoff.maxMs, cfg.backoff.baseMs * 2 ** attempt);
  return Math.min(cfg.backoff.maxMs, Math.max(exp, retryAfterMs ?? 0));
}

/** Counting semaphore: at most `n` requests in flight. */
class Gate {
  #free: number;
  #queue: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#queue.push(r));
    try {
      return await f();
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

export class LlmClient {
  readonly config: LlmConfig;
  #api: Promise<OpenAI> | undefined;
  #fetch?: typeof fetch;
  #usage: Usage;
  #onUsage?: (delta: Usage) => void;
  #sleep: (ms: number) => Promise<void>;
  #gate: Gate;
  #onWait?: (line: string) => void;
  /** Start times of the requests in flight, and the timer that reports on them. */
  #inFlight = new Map<number, number>();
  #nextRequest = 0;
  #waitTimer: ReturnType<typeof setInterval> | undefined;

  constructor(config: LlmConfig, o: ClientOptions = {}) {
    this.config = config;
    this.#fetch = o.fetch;
    this.#usage = { ...(o.usage ?? emptyUsage()) };
    this.#onUsage = o.onUsage;
    this.#sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#gate = new Gate(config.concurrency);
    this.#onWait = o.onWait;
  }

  /** One line for all requests in flight: how many, and how long the oldest has waited. */
  #waitLine(): string {
    const oldest = Math.min(...this.#inFlight.values());
    const n = this.#inFlight.size;
    return `waiting for the LLM at ${this.config.baseURL} (model ${this.config.model}): ${n} request${n === 1 ? '' : 's'} in flight, the oldest for ${Math.round((Date.now() - oldest) / 1000)} s (timeout ${Math.round(this.config.timeoutMs / 1000)} s)`;
  }

  #began(): number {
    const id = this.#nextRequest++;
    this.#inFlight.set(id, Date.now());
    if (this.#onWait && !this.#waitTimer) {
      this.#waitTimer = setInterval(() => this.#onWait?.(this.#waitLine()), this.config.waitNoticeMs);
      this.#waitTimer.unref?.();
    }
    return id;
  }

  #ended(id: number): void {
    this.#inFlight.delete(id);
    if (this.#inFlight.size === 0 && this.#waitTimer) {
      clearInterval(this.#waitTimer);
      this.#waitTimer = undefined;
    }
  }

  #client(): Promise<OpenAI> {
    const c = this.config;
    return (this.#api ??= openaiModule().then((m) => new m.default({ baseURL: c.baseURL, apiKey: c.apiKey ?? 'unset', maxRetries: 0, timeout: c.timeoutMs, fetch: this.#fetch })));
  }

  usage(): Usage {
    return { ...this.#usage };
  }

  /** Why the budget is spent, or undefined while it is not. */
  budgetReached(): string | undefined {
    const b = this.config.budget;
    const used = this.#usage.promptTokens + this.#usage.completionTokens;
    if (b.tokens !== undefined && used >= b.tokens) return `token budget reached (${used} of ${b.tokens} tokens)`;
    if (b.usd !== undefined && this.#usage.costUsd >= b.usd) return `money budget reached ($${this.#usage.costUsd.toFixed(4)} of $${b.usd})`;
    return undefined;
  }

  #add(delta: Usage): void {
    this.#usage = addUsage(this.#usage, delta);
    this.#onUsage?.(delta);
  }

  /** One chat completion, retried as the header describes. */
  async complete(messages: ChatMessage[], o: { temperature?: number; seed?: number } = {}): Promise<Completion> {
    return this.#gate.run(async () => {
      let timeouts = 0;
      for (let attempt = 0; ; attempt++) {
        // Checked per attempt: a retry after another request spent the budget is not sent either.
        const spent = this.budgetReached();
        if (spent) throw new BudgetExhausted(spent, attempt > 0);
        const api = await this.#client();
        const inFlight = this.#began();
        try {
          const r = await api.chat.completions.create({
            model: this.config.model,
            messages,
            temperature: o.temperature ?? this.config.temperature,
            [this.config.maxTokensField]: this.config.maxTokens,
            ...(o.seed === undefined ? {} : { seed: o.seed }),
          }, { timeout: this.config.timeoutMs }).finally(() => this.#ended(inFlight));
          const pt = r.usage?.prompt_tokens ?? 0;
          const ct = r.usage?.completion_tokens ?? 0;
          this.#add({ ...emptyUsage(), requests: 1, promptTokens: pt, completionTokens: ct, costUsd: costUsd(this.config, pt, ct) });
          const choice = r.choices?.[0];
          const text = choice?.message?.content;
          if (typeof text !== 'string' || text.trim() === '') {
            throw new LlmRequestError('empty', undefined, `${this.config.baseURL}: the reply has no message content (finish_reason ${choice?.finish_reason ?? 'none'})`);
          }
          return { text, promptTokens: pt, completionTokens: ct, finishReason: choice.finish_reason ?? 'unknown', attempts: attempt + 1 };
        } catch (err) {
          if (err instanceof LlmRequestError) throw err;
          const c = classify(err);
          const what = `${c.status !== undefined ? `HTTP ${c.status}` : c.kind}: ${err instanceof Error ? err.message : String(err)}`.replace(/\s*\n\s*/g, ' ');
          // Timeouts and fast failures draw on separate allowances.
          const spentOn = c.kind === 'timeout' ? ++timeouts : attempt + 1 - timeouts;
          const allowed = c.kind === 'timeout' ? this.config.timeoutRetries : this.config.retries;
          if (!c.retryable || spentOn > allowed) {
            this.#add({ ...emptyUsage(), failures: 1 });
            const tries = c.retryable ? ` after ${attempt + 1} attempts` : '';
            throw new LlmRequestError(c.kind, c.status, `${this.config.baseURL} (model ${this.config.model}): ${what}${tries}`);
          }
          this.#add({ ...emptyUsage(), retries: 1 });
          await this.#sleep(backoffMs(this.config, attempt, c.retryAfterMs));
        }
      }
    });
  }
}
