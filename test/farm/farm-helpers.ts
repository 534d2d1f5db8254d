/**
 * Shared by the farm tests: a real redis-server with a password on a free port (stopped after),
 * `crinn worker` children (one process each: CRINN_STDERR_FILTERED skips the CLI's filtering
 * parent, so kill -9 reaches the worker itself), and reads of the farm's queues.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { FARM_PREFIX, queueName } from '../../src/farm/protocol.ts';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const NODE = path.join(ROOT, 'node_modules/.bin/node');
export const CLI = path.join(ROOT, 'src/cli/main.ts');
export const FIXTURE = path.join(ROOT, 'test/evolve/fixtures/loop-evaluator.ts');
export const PASSWORD = 'farm-test-password';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export class RedisServer {
  port = 0;
  dir = '';
  private proc?: ChildProcess;

  get url(): string {
    return `redis://:${PASSWORD}@127.0.0.1:${this.port}`;
  }

  /** Starts (or restarts on the same port and folder); `persist`: append-only file, so a restart keeps the jobs. */
  async start(persist = false): Promise<void> {
    if (!this.port) this.port = await freePort();
    if (!this.dir) this.dir = mkdtempSync(path.join(tmpdir(), 'crinn-redis-'));
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--requirepass', PASSWORD, '--dir', this.dir, '--save', '', '--appendonly', persist ? 'yes' : 'no', '--appendfsync', 'always'], { stdio: 'ignore' });
    // A fresh client per attempt, each bounded: a server still loading its append-only file answers later.
    for (let i = 0; i < 100; i++) {
      const r = new Redis({ port: this.port, host: '127.0.0.1', password: PASSWORD, lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => {});
      try {
        await Promise.race([(async () => { await r.connect(); await r.ping(); })(), new Promise((_, reject) => setTimeout(() => reject(new Error('slow')), 2000))]);
        return;
      } catch {
        await new Promise((x) => setTimeout(x, 100));
      } finally {
        r.disconnect();
      }
    }
    throw new Error(`redis-server on ${this.port} did not start`);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }

  async destroy(): Promise<void> {
    await this.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  client(): Redis {
    const r = new Redis({ port: this.port, host: '127.0.0.1', password: PASSWORD, maxRetriesPerRequest: null });
    r.on('error', () => {});
    return r;
  }
}

export interface WorkerProc {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** A `crinn worker` child on the fixture evaluator (queue mechanics only: no GPU) unless `real`. */
export function spawnWorker(url: string, name: string, o: { adapter?: string; real?: string[]; extra?: string[]; env?: NodeJS.ProcessEnv; cache?: string } = {}): WorkerProc {
  const args = [CLI, 'worker', '--farm', url, '--name', name, '--cache', o.cache ?? mkdtempSync(path.join(tmpdir(), 'crinn-farm-cache-'))];
  if (o.real) args.push(...o.real);
  else args.push('--evaluator', FIXTURE, '--as-adapter', o.adapter ?? 'fake-a');
  args.push(...(o.extra ?? []));
  const proc = spawn(NODE, args, { env: { ...process.env, CRINN_STDERR_FILTERED: '1', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, output: () => out, exited };
}

/** Waits until `f` holds (polling), or fails naming `what`. */
export async function until(what: string, f: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Runs `crinn ARGS` to its end; stdout+stderr and the exit code. */
export function crinn(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(NODE, [CLI, ...args], { env: { ...process.env, CRINN_STDERR_FILTERED: '1', CRINN_FARM_POLL_MS: '100', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('exit', (code) => resolve({ code, out }));
  });
}

export function queueFor(redis: Redis, adapter: string): Queue {
  return new Queue(queueName(adapter), { connection: redis, prefix: FARM_PREFIX });
}
