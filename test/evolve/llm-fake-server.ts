/**
 * A real HTTP server on 127.0.0.1 (port 0) that speaks the OpenAI chat-completions protocol with
 * scripted answers, for the llm policy tests: each request takes the next step of the script (a
 * reply text, an HTTP error, or a delay longer than the client's timeout). Requests are recorded.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Step =
  | { reply: string; promptTokens?: number; completionTokens?: number; delayMs?: number }
  | { status: number; message?: string; headers?: Record<string, string> }
  | { hangMs: number };

export interface FakeServer {
  url: string;
  requests: { path: string; body: any; auth: string | undefined }[];
  /** Steps not yet consumed. */
  remaining(): number;
  /** Most requests the server held open at once. */
  maxInFlight(): number;
  close(): Promise<void>;
}

export async function startFakeServer(script: Step[] | ((req: any, n: number) => Step)): Promise<FakeServer> {
  const queue = Array.isArray(script) ? [...script] : undefined;
  const requests: FakeServer['requests'] = [];
  const sockets = new Set<import('node:net').Socket>();
  let open = 0;
  let most = 0;
  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    open++;
    most = Math.max(most, open);
    res.on('close', () => open--);
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw ? JSON.parse(raw) : undefined;
    requests.push({ path: req.url ?? '', body, auth: req.headers.authorization });
    if (req.url !== '/v1/chat/completions' || req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found' } }));
      return;
    }
    const step = queue ? queue.shift() : (script as (req: any, n: number) => Step)(body, requests.length - 1);
    if (!step) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'script exhausted' } }));
      return;
    }
    if ('hangMs' in step) {
      await new Promise((r) => setTimeout(r, step.hangMs));
      if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    if ('status' in step) {
      res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers }).end(JSON.stringify({ error: { message: step.message ?? `scripted ${step.status}`, type: 'scripted' } }));
      return;
    }
    if (step.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));
    const pt = step.promptTokens ?? 100;
    const ct = step.completionTokens ?? 50;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
      id: `chatcmpl-${requests.length}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: body?.model ?? 'scripted',
      choices: [{ index: 0, message: { role: 'assistant', content: step.reply }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: pt, completion_tokens: ct, total_tokens: pt + ct },
    }));
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    remaining: () => queue?.length ?? 0,
    maxInFlight: () => most,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}
