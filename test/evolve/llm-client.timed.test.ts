import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadLlmConfig, type LlmConfigInput } from '../../src/evolve/llm/config.ts';
import { BudgetExhausted, LlmClient, LlmRequestError, backoffMs, emptyUsage, type Usage } from '../../src/evolve/llm/client.ts';
import { UserError } from '../../src/errors.ts';
import { startFakeServer, type FakeServer } from './llm-fake-server.ts';

let server: FakeServer | undefined;
afterEach(async () => { await server?.close(); server = undefined; });

const msgs = [{ role: 'user' as const, content: 'hello' }];

function client(url: string, extra: LlmConfigInput = {}, o: { usage?: Usage; sleeps?: number[]; waits?: string[] } = {}) {
  const cfg = loadLlmConfig({ env: { OPENAI_BASE_URL: url, OPENAI_API_KEY: 'sk-test', CRINN_LLM_MODEL: 'scripted-model' }, overrides: { backoff: { baseMs: 5, maxMs: 50 }, ...extra }, requireKey: true });
  const deltas: Usage[] = [];
  const c = new LlmClient(cfg, { usage: o.usage, onUsage: (d) => deltas.push(d), onWait: o.waits && ((l) => o.waits!.push(l)), sleep: async (ms) => { o.sleeps?.push(ms); await new Promise((r) => setTimeout(r, ms)); } });
  return { c, deltas };
}

describe('llm config', () => {
  it('reads the environment and fails on a missing key only when the llm policy needs it', () => {
    const c = loadLlmConfig({ env: { CRINN_LLM_MODEL: 'm' } });
    expect(c.baseURL).toBe('https://api.openai.com/v1');
    expect(c.apiKey).toBeUndefined();
    expect(() => loadLlmConfig({ env: { CRINN_LLM_MODEL: 'm' }, requireKey: true })).toThrow(/^OPENAI_API_KEY: not set/);
    expect(() => loadLlmConfig({ env: { OPENAI_API_KEY: 'k' }, requireKey: true })).toThrow(/^CRINN_LLM_MODEL: not set/);
    expect(() => loadLlmConfig({ env: { OPENAI_BASE_URL: 'not a url' } })).toThrow(/^OPENAI_BASE_URL: baseURL/);
  });

  it('validates a config file and names the file and field', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'llm-cfg-'));
    const good = path.join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ baseURL: 'http://127.0.0.1:8000/v1', model: 'qwen', apiKey: 'local', prices: { inputPerMTok: 1, outputPerMTok: 2 }, budget: { usd: 0.5 } }));
    const c = loadLlmConfig({ file: good, env: { OPENAI_API_KEY: 'env-key', CRINN_LLM_MODEL: 'env-model' }, requireKey: true });
    expect([c.baseURL, c.model, c.apiKey, c.budget.usd, c.samples]).toEqual(['http://127.0.0.1:8000/v1', 'qwen', 'local', 0.5, 4]);
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ temperature: 9 }));
    expect(() => loadLlmConfig({ file: bad })).toThrow(UserError);
    expect(() => loadLlmConfig({ file: bad })).toThrow(`${bad}: temperature:`);
    writeFileSync(bad, JSON.stringify({ budget: { usd: 1 } }));
    expect(() => loadLlmConfig({ file: bad })).toThrow(/budget\.usd: budget\.usd needs prices/);
    writeFileSync(bad, JSON.stringify({ temprature: 0.1 }));
    expect(() => loadLlmConfig({ file: bad })).toThrow(/Unrecognized key/);
    writeFileSync(bad, '{ nope');
    expect(() => loadLlmConfig({ file: bad })).toThrow(`${bad}: not valid JSON`);
  });
});

describe('llm client against a real chat-completions server', () => {
  it('sends model, messages, temperature and max_tokens with the key, and counts tokens', async () => {
    server = await startFakeServer([{ reply: 'hi there', promptTokens: 11, completionTokens: 7 }]);
    const { c, deltas } = client(server.url, { temperature: 0.3, maxTokens: 123 });
    const r = await c.complete(msgs);
    expect(r).toMatchObject({ text: 'hi there', promptTokens: 11, completionTokens: 7, attempts: 1 });
    const req = server.requests[0];
    expect(req.auth).toBe('Bearer sk-test');
    expect(req.body).toMatchObject({ model: 'scripted-model', temperature: 0.3, max_tokens: 123, messages: msgs });
    expect(c.usage()).toMatchObject({ requests: 1, promptTokens: 11, completionTokens: 7, retries: 0 });
    expect(deltas).toHaveLength(1);
  });

  it('retries a 429 (honouring Retry-After) and then succeeds', async () => {
    server = await startFakeServer([{ status: 429, headers: { 'retry-after-ms': '30' } }, { reply: 'ok' }]);
    const sleeps: number[] = [];
    const { c } = client(server.url, {}, { sleeps });
    const r = await c.complete(msgs);
    expect(r.text).toBe('ok');
    expect(r.attempts).toBe(2);
    expect(sleeps).toEqual([30]);
    expect(server.requests).toHaveLength(2);
    expect(c.usage()).toMatchObject({ requests: 1, retries: 1, failures: 0 });
  });

  it('retries a 500 with exponential backoff and gives up after `retries` with a one-line error', async () => {
    server = await startFakeServer(() => ({ status: 500, message: 'boom' }));
    const sleeps: number[] = [];
    const { c } = client(server.url, { retries: 3 }, { sleeps });
    const err = await c.complete(msgs).catch((e) => e);
    expect(err).toBeInstanceOf(LlmRequestError);
    expect(err.kind).toBe('server');
    expect(err.message).toMatch(/HTTP 500.*boom.*after 4 attempts/);
    expect(err.message).not.toContain('\n');
    expect(server.requests).toHaveLength(4);
    expect(sleeps).toEqual([5, 10, 20]);
    expect(c.usage()).toMatchObject({ requests: 0, retries: 3, failures: 1 });
  });

  it('does not retry a 400', async () => {
    server = await startFakeServer([{ status: 400, message: 'bad model' }, { reply: 'never' }]);
    const { c } = client(server.url);
    const err = await c.complete(msgs).catch((e) => e);
    expect(err).toBeInstanceOf(LlmRequestError);
    expect(err.kind).toBe('client');
    expect(server.requests).toHaveLength(1);
  });

  it('times out a reply slower than timeoutMs, retries, and succeeds', async () => {
    server = await startFakeServer([{ hangMs: 2000 }, { reply: 'fast' }]);
    const { c } = client(server.url, { timeoutMs: 200, timeoutRetries: 1 });
    const t0 = Date.now();
    const r = await c.complete(msgs);
    expect(r.text).toBe('fast');
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(c.usage().retries).toBe(1);
  });

  it('an endpoint that accepts and never answers: a waiting line with the elapsed time, then one timeout failure (defaults: about a minute)', async () => {
    // The defaults: one attempt of 60 s (timeouts are not retried), a waiting line every 15 s.
    const d = loadLlmConfig({ env: { CRINN_LLM_MODEL: 'm' } });
    expect(d.timeoutMs * (1 + d.timeoutRetries)).toBeLessThanOrEqual(65_000);
    expect(d.waitNoticeMs).toBe(15_000);
    // The same, scaled down 100x, through the real openai client against a real socket that never answers.
    server = await startFakeServer(() => ({ hangMs: 3_600_000 }));
    const waits: string[] = [];
    const { c } = client(server.url, { timeoutMs: 600, waitNoticeMs: 150, retries: 4 }, { waits });
    const t0 = Date.now();
    const err = await c.complete(msgs).catch((e) => e);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(err).toBeInstanceOf(LlmRequestError);
    expect(err.kind).toBe('timeout');
    expect(server.requests).toHaveLength(1);
    expect(waits.length).toBeGreaterThanOrEqual(2);
    expect(waits[0]).toMatch(new RegExp(`^waiting for the LLM at ${server.url.replace(/[.]/g, '\\.')} \\(model scripted-model\\): 1 request in flight, the oldest for \\d+ s \\(timeout 1 s\\)$`));
    // No more lines once nothing is in flight.
    const n = waits.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(waits).toHaveLength(n);
  });

  it('a timeout on every attempt fails as a timeout', async () => {
    server = await startFakeServer(() => ({ hangMs: 1000 }));
    const { c } = client(server.url, { timeoutMs: 100, timeoutRetries: 1 });
    const err = await c.complete(msgs).catch((e) => e);
    expect(err).toBeInstanceOf(LlmRequestError);
    expect(err.kind).toBe('timeout');
    expect(server.requests).toHaveLength(2);
  });

  it('stops at the token budget before sending, counting usage restored from earlier sessions', async () => {
    server = await startFakeServer(() => ({ reply: 'x', promptTokens: 60, completionTokens: 40 }));
    const { c } = client(server.url, { budget: { tokens: 250 } }, { usage: { ...emptyUsage(), promptTokens: 30, completionTokens: 20 } });
    await c.complete(msgs);
    await c.complete(msgs);
    expect(c.budgetReached()).toMatch(/token budget reached \(250 of 250/);
    await expect(c.complete(msgs)).rejects.toBeInstanceOf(BudgetExhausted);
    expect(server.requests).toHaveLength(2);
  });

  it('a retry refused by the budget says the request was attempted; a fresh one that it was not', async () => {
    server = await startFakeServer((body) => (body.messages[0].content === 'A' ? { status: 503 } : { reply: 'b', promptTokens: 100, completionTokens: 100 }));
    const { c } = client(server.url, { budget: { tokens: 150 }, backoff: { baseMs: 200, maxMs: 200 } });
    const [a, b] = await Promise.allSettled([c.complete([{ role: 'user', content: 'A' }]), c.complete([{ role: 'user', content: 'B' }])]);
    expect(b.status).toBe('fulfilled');
    expect(a.status === 'rejected' && a.reason instanceof BudgetExhausted && a.reason.attempted).toBe(true);
    const fresh = await c.complete(msgs).catch((e) => e);
    expect(fresh).toBeInstanceOf(BudgetExhausted);
    expect(fresh.attempted).toBe(false);
  });

  it('stops at the money budget when prices are configured', async () => {
    server = await startFakeServer(() => ({ reply: 'x', promptTokens: 1_000_000, completionTokens: 500_000 }));
    const { c } = client(server.url, { prices: { inputPerMTok: 1, outputPerMTok: 4 }, budget: { usd: 5 } });
    await c.complete(msgs);
    expect(c.usage().costUsd).toBeCloseTo(3, 9);
    await c.complete(msgs);
    await expect(c.complete(msgs)).rejects.toThrow(/money budget reached \(\$6\.0000 of \$5\)/);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    server = await startFakeServer(() => ({ reply: 'x', delayMs: 80 }));
    const { c } = client(server.url, { concurrency: 2 });
    await Promise.all(Array.from({ length: 6 }, () => c.complete(msgs)));
    expect(server.requests).toHaveLength(6);
    expect(server.maxInFlight()).toBe(2);
  });

  it('backoff doubles from baseMs, capped at maxMs; a longer Retry-After wins up to the cap', () => {
    const cfg = { backoff: { baseMs: 1000, maxMs: 60000 } };
    expect([0, 1, 2, 10].map((a) => backoffMs(cfg, a))).toEqual([1000, 2000, 4000, 60000]);
    expect(backoffMs(cfg, 0, 5000)).toBe(5000);
    expect(backoffMs(cfg, 0, 600000)).toBe(60000);
  });
});
