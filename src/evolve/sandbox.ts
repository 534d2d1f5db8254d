/**
 * A killable child process for untrusted variant code (host TypeScript and the WGSL it runs).
 * Layers, outermost first: namespaces (no network, own PID space, noexec scratch; see
 * sandbox-isolation.ts), Node's permission model (read only `readPaths`, write only `scratch`,
 * addons for dawn.node, workers only on request, never child processes), a wall-clock timeout per
 * call that SIGKILLs the whole process group, a memory cap (V8 heap flag plus an RSS watchdog:
 * typed arrays and Dawn allocations live outside the V8 heap), and bounded stdout/stderr.
 *
 * The parent talks to the child over fd 3 (sandbox-wire.ts); each request carries a fresh random
 * id, so a reply cannot be sent ahead of its request. Time is measured here, around `call`.
 *
 *   const sb = await Sandbox.start({ entry, readPaths: [variantDir, ...projectReadPaths()], scratch, memMiB: 4096 });
 *   const r = await sb.call('search', { queries }, { timeoutMs: 30_000, stage: 'timing' });
 *   if (!r.ok) record(r.failure); // { stage, reason: timeout | crashed | oom | output-flood | protocol | thrown | closed, message, ... }
 *   await sb.close();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { encodeFrame, decodeFrame, FrameReader } from './sandbox-wire.ts';
import { OutputTap } from './sandbox-output.ts';
import { defaultShaderCacheDir, isolatedArgv, nodeBinary, type IsolationMethod } from './sandbox-isolation.ts';
import { UserError } from '../errors.ts';

export type FailureReason = 'timeout' | 'crashed' | 'oom' | 'output-flood' | 'protocol' | 'thrown' | 'closed';

/** Why a stage failed, for the verdict and for the LLM's next prompt. */
export interface SandboxFailure {
  stage: string;
  reason: FailureReason;
  message: string;
  exitCode?: number | null;
  signal?: string | null;
  /** Bounded captures of the child's output (head and tail). */
  stdout: string;
  stderr: string;
  outputTruncated: boolean;
}

export type CallOutcome<T = unknown> = { ok: true; value: T; ms: number } | { ok: false; failure: SandboxFailure; ms: number };

export class SandboxFailureError extends Error {
  override name = 'SandboxFailureError';
  readonly failure: SandboxFailure;
  constructor(failure: SandboxFailure) {
    super(`sandbox ${failure.stage}: ${failure.reason}: ${failure.message}`);
    this.failure = failure;
  }
}

export interface SandboxOptions {
  /** The module the child imports; it must export `ops: Record<string, (payload) => result>`. */
  entry: string;
  /** Files and folders the child may read besides its own runner (entry, variant, index, project code). */
  readPaths?: string[];
  /** The only folder the child may write; a private noexec tmpfs in the child's namespace. Omit for none. */
  scratch?: string;
  scratchMiB?: number;
  timeouts?: { startMs?: number; callMs?: number };
  /** Resident memory cap of the child, MiB (also its V8 heap limit). */
  memMiB?: number;
  /** Worker threads (the graph module builds in parallel). */
  allowWorkers?: boolean;
  /** Run without a network namespace where none is available. Off: such a machine refuses. */
  allowNetwork?: boolean;
  /** Bytes of stdout/stderr kept from each end; total bytes after which the child is killed. */
  output?: { keepBytes?: number; maxBytes?: number };
  maxFrameBytes?: number;
  /** Extra environment; the child never inherits the parent's (it may hold API keys). */
  env?: Record<string, string>;
  /**
   * A folder the GPU driver may write its shader cache to (bound writable in the child's mount
   * namespace, given as MESA_SHADER_CACHE_DIR; the child's JavaScript still cannot touch it).
   * Default: defaultShaderCacheDir(); null for none.
   */
  shaderCache?: string | null;
}

const DEFAULTS = { startMs: 60_000, callMs: 60_000, memMiB: 4096, scratchMiB: 256, keepBytes: 16 << 10, maxOutputBytes: 8 << 20, maxFrameBytes: 1 << 30 };
const RSS_POLL_MS = 50;
// GPU driver variables the child may need; nothing else crosses (no keys, no NODE_OPTIONS).
const ENV_PASS = /^(PATH|HOME|LANG|LC_ALL|TZ|XDG_RUNTIME_DIR|XDG_CACHE_HOME|EGL_PLATFORM|VK_\w+|MESA_\w+|LP_\w+|GALLIUM_\w+|LIBGL_\w+|DAWN_\w+|CRINN_GPU_TIMEOUT_MS|CRINN_TEST_BACKEND)$/;
const RUNNER = fileURLToPath(new URL('./sandbox-child.ts', import.meta.url));
const WIRE = fileURLToPath(new URL('./sandbox-wire.ts', import.meta.url));
const live = new Set<Sandbox>();
let exitHook = false;

interface Pending {
  id: string;
  stage: string;
  t0: bigint;
  resolve: (o: CallOutcome) => void;
  timer?: NodeJS.Timeout;
}

export class Sandbox {
  readonly isolation: IsolationMethod;
  /** Milliseconds from spawn to the child's ready message. */
  startMs = 0;
  private readonly child: ChildProcess;
  private readonly channel: Socket;
  private readonly reader: FrameReader;
  private readonly out: OutputTap;
  private readonly err: OutputTap;
  private readonly opts: SandboxOptions;
  private failure: SandboxFailure | undefined;
  private pending: Pending | undefined;
  private exited: Promise<void>;
  private exitInfo: { code: number | null; signal: string | null } | undefined;
  private rssTimer: NodeJS.Timeout | undefined;
  private onReady: ((msg: { t: string; error?: string }) => void) | undefined;

  private constructor(opts: SandboxOptions) {
    checkPaths(opts);
    this.opts = opts;
    const keep = opts.output?.keepBytes ?? DEFAULTS.keepBytes;
    this.out = new OutputTap(keep);
    this.err = new OutputTap(keep);
    this.reader = new FrameReader(opts.maxFrameBytes ?? DEFAULTS.maxFrameBytes);
    const memMiB = opts.memMiB ?? DEFAULTS.memMiB;
    const flags = [
      '--permission',
      ...withRealPaths([RUNNER, WIRE, opts.entry, ...(opts.readPaths ?? [])]).map((p) => `--allow-fs-read=${p}`),
      ...(opts.scratch ? [`--allow-fs-write=${opts.scratch}`] : []),
      '--allow-addons',
      ...(opts.allowWorkers ? ['--allow-worker'] : []),
      '--disable-warning=SecurityWarning',
      `--max-old-space-size=${memMiB}`,
    ];
    const shaderCache = prepareShaderCache(opts);
    const { argv, method } = isolatedArgv([nodeBinary(), ...flags, RUNNER, opts.entry], {
      shaderCache,
      allowNetwork: opts.allowNetwork,
      scratch: opts.scratch,
      scratchMiB: opts.scratchMiB ?? DEFAULTS.scratchMiB,
    });
    this.isolation = method;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && ENV_PASS.test(k)) env[k] = v;
    env.XDG_RUNTIME_DIR ??= '/tmp';
    env.EGL_PLATFORM ??= 'surfaceless';
    if (shaderCache) {
      env.MESA_SHADER_CACHE_DIR = shaderCache;
      // Mesa's default cache database takes a blocking lock on its file while it writes (on a
      // background thread, after the call that compiled has returned); a child stopped between
      // calls while holding it stalled the other child's compile until the 300 s GPU watchdog.
      // The multi-file cache writes each entry to its own file under a non-blocking lock: no
      // child can make another wait.
      env.MESA_DISK_CACHE_MULTI_FILE = '1';
    }
    Object.assign(env, opts.env);
    // detached: its own process group, so one SIGKILL reaches the wrapper (unshare) and Node together.
    this.child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], detached: true, env });
    this.channel = this.child.stdio[3] as Socket;
    // Settled once the child is gone and its output drained ('close'), or 1 s after 'exit' at most.
    this.exited = new Promise((resolve) => {
      this.child.once('close', () => resolve());
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        this.onExit();
        setTimeout(resolve, 1000).unref();
      });
    });
    this.child.once('error', (e) => this.fail('crashed', `cannot spawn ${argv[0]}: ${e.message}`));
    this.child.stdout!.on('data', (c: Buffer) => this.tap(this.out, c));
    this.child.stderr!.on('data', (c: Buffer) => this.tap(this.err, c));
    this.channel.on('data', (c: Buffer) => this.onData(c));
    this.channel.on('error', () => {}); // the exit that follows carries the story
    this.watchMemory(memMiB);
    live.add(this);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => live.forEach((s) => s.killGroup()));
    }
  }

  /** Spawns the child and waits for its entry to load; throws SandboxFailureError (stage 'start') if it does not. */
  static async start(opts: SandboxOptions): Promise<Sandbox> {
    const sb = new Sandbox(opts);
    const t0 = process.hrtime.bigint();
    const outcome = await new Promise<CallOutcome>((resolve) => {
      sb.pending = { id: '', stage: 'start', t0, resolve };
      sb.pending.timer = setTimeout(() => sb.fail('timeout', `entry did not load within ${opts.timeouts?.startMs ?? DEFAULTS.startMs} ms`), opts.timeouts?.startMs ?? DEFAULTS.startMs);
      sb.onReady = (msg) => {
        sb.onReady = undefined;
        if (msg.t === 'ready') sb.settle({ ok: true, value: undefined, ms: 0 });
        else sb.fail('thrown', `entry failed to load: ${String(msg.error)}`);
      };
    });
    sb.startMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (!outcome.ok) {
      await sb.close();
      throw new SandboxFailureError(outcome.failure);
    }
    return sb;
  }

  /**
   * Runs one op in the child. `ms` is the parent's wall clock from sending the request to
   * receiving the whole reply. A thrown error leaves the child running; any other failure kills it.
   */
  call<T = unknown>(op: string, payload?: unknown, opts: { timeoutMs?: number; stage?: string } = {}): Promise<CallOutcome<T>> {
    const stage = opts.stage ?? op;
    if (this.pending) throw new Error(`sandbox: call '${op}' while '${this.pending.stage}' is in flight`);
    if (this.failure) {
      return Promise.resolve({ ok: false, ms: 0, failure: { ...this.failure, stage, reason: 'closed', message: `sandbox already failed (${this.failure.stage}: ${this.failure.reason}: ${this.failure.message})` } });
    }
    const id = randomBytes(16).toString('hex');
    const frame = encodeFrame({ t: 'call', id, op, payload });
    const timeoutMs = opts.timeoutMs ?? this.opts.timeouts?.callMs ?? DEFAULTS.callMs;
    return new Promise<CallOutcome<T>>((resolve) => {
      this.pending = { id, stage, t0: process.hrtime.bigint(), resolve: resolve as (o: CallOutcome) => void };
      this.pending.timer = setTimeout(() => this.fail('timeout', `no reply within ${timeoutMs} ms`), timeoutMs);
      this.channel.write(frame);
    });
  }

  /** PID of the child's process-group leader (the wrapper that runs Node). */
  get pid(): number {
    return this.child.pid!;
  }

  /** Output captured so far (bounded). */
  output(): { stdout: string; stderr: string; truncated: boolean } {
    return { stdout: this.out.text(), stderr: this.err.text(), truncated: this.out.truncated || this.err.truncated };
  }

  /** Asks the child to exit (closing its channel), then kills its process group whatever it did. */
  async close(graceMs = 2000): Promise<void> {
    if (!this.exitInfo) {
      this.resume(); // a stopped child could not read the channel's end and exit

      this.channel.end();
      const t = setTimeout(() => this.killGroup(), graceMs);
      await this.exited;
      clearTimeout(t);
    }
    this.killGroup(); // unshare's --kill-child covers Node; this covers anything else left in the group
    this.stopWatch();
    live.delete(this);
  }

  private onData(chunk: Buffer): void {
    // After a fatal failure nothing the child sends counts: a genuine reply arriving in a later chunk
    // than a forged one must not settle the call the forgery already failed.
    if (this.failure) return;
    let frames: Buffer[];
    try {
      frames = this.reader.push(chunk);
    } catch (e) {
      return this.fail('protocol', (e as Error).message);
    }
    for (const frame of frames) {
      if (this.failure) return;
      const end = process.hrtime.bigint();
      let msg: { t?: unknown; id?: unknown; ok?: unknown; result?: unknown; error?: unknown };
      try {
        msg = decodeFrame(frame) as typeof msg;
      } catch (e) {
        return this.fail('protocol', (e as Error).message);
      }
      if (msg === null || typeof msg !== 'object') return this.fail('protocol', 'a frame that is not an object');
      if (this.onReady) {
        if (msg.t !== 'ready' && msg.t !== 'ready-failed') return this.fail('protocol', `expected the ready message, got ${JSON.stringify(msg.t)}`);
        this.onReady(msg as { t: string; error?: string });
        continue;
      }
      const p = this.pending;
      if (!p || msg.t !== 'reply' || msg.id !== p.id) return this.fail('protocol', p ? 'a reply that does not answer the request in flight' : 'an unsolicited frame');
      const ms = Number(end - p.t0) / 1e6;
      if (msg.ok === true) this.settle({ ok: true, value: msg.result, ms });
      else this.settle({ ok: false, ms, failure: this.describe(p.stage, 'thrown', String(msg.error).slice(0, 4000)) });
    }
  }

  private tap(t: OutputTap, chunk: Buffer): void {
    t.push(chunk);
    const max = this.opts.output?.maxBytes ?? DEFAULTS.maxOutputBytes;
    if (this.out.total + this.err.total > max) this.fail('output-flood', `wrote more than ${max} bytes to stdout/stderr`);
  }

  private settle(o: CallOutcome): void {
    const p = this.pending;
    if (!p) return;
    clearTimeout(p.timer);
    this.pending = undefined;
    p.resolve(o);
  }

  /** Records the first fatal failure, kills the child, and answers the call in flight once it is gone. */
  private fail(reason: FailureReason, message: string): void {
    if (this.failure) return;
    const stage = this.pending?.stage ?? 'idle';
    this.failure = this.describe(stage, reason, message);
    this.killGroup();
    void this.exited.then(() => this.finishFailure());
  }

  private onExit(): void {
    this.stopWatch();
    live.delete(this);
    const { code, signal } = this.exitInfo!;
    const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
    // V8's own heap limit aborts the process with this banner on stderr.
    if (/JavaScript heap out of memory|Reached heap limit/.test(this.err.text())) this.fail('oom', `V8 heap limit reached (${how})`);
    else this.fail('crashed', this.pending ? `${how} during ${this.pending.stage}` : how);
  }

  /** Fills in the exit status and final output, then settles the call in flight with the failure. */
  private finishFailure(): void {
    const f = this.failure!;
    Object.assign(f, { exitCode: this.exitInfo?.code, signal: this.exitInfo?.signal }, this.outputFields());
    const p = this.pending;
    if (p) this.settle({ ok: false, failure: { ...f }, ms: Number(process.hrtime.bigint() - p.t0) / 1e6 });
  }

  private describe(stage: string, reason: FailureReason, message: string): SandboxFailure {
    return { stage, reason, message, ...this.outputFields() };
  }

  private outputFields() {
    const o = this.output();
    return { stdout: o.stdout, stderr: o.stderr, outputTruncated: o.truncated };
  }

  /** SIGKILL to the child's process group (the only stop for a shader that never returns). */
  /**
   * Stops (SIGSTOP) or continues (SIGCONT) the child's whole process group. An idle child that is
   * stopped cannot run deferred work (timers, late GPU submissions; on a software adapter its GPU
   * threads too) while another system is being timed. close() continues it first.
   */
  pause(): void {
    this.signalGroup('SIGSTOP');
  }

  resume(): void {
    this.signalGroup('SIGCONT');
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.exitInfo) return;
    try {
      process.kill(-this.child.pid!, signal);
    } catch {
      // already gone
    }
  }

  killGroup(): void {
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  private watchMemory(memMiB: number): void {
    this.rssTimer = setInterval(() => {
      const kib = treeRssKiB(this.child.pid!);
      if (kib > memMiB * 1024) this.fail('oom', `resident memory ${Math.round(kib / 1024)} MiB exceeded the ${memMiB} MiB cap`);
    }, RSS_POLL_MS);
    this.rssTimer.unref();
  }

  private stopWatch(): void {
    clearInterval(this.rssTimer);
  }
}

/**
 * Bad options are refused before anything starts. The child must never read what it can write:
 * a readable scratch would let it import, or dlopen, code it wrote itself.
 */
/**
 * Each path and, where it differs, its real path: the permission model checks resolved paths,
 * so a symlinked node_modules (seen on a GPU host) must be allowed by its target too.
 */
function withRealPaths(paths: string[]): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    out.add(p);
    try {
      out.add(realpathSync(p));
    } catch {
      // A missing path stays as given; the child's read of it fails on its own.
    }
  }
  return [...out];
}

/** The shader cache folder (created, real path), or undefined when disabled or unusable. */
function prepareShaderCache(opts: SandboxOptions): string | undefined {
  if (opts.shaderCache === null) return undefined;
  const dir = resolve(opts.shaderCache ?? defaultShaderCacheDir());
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const real = realpathSync(dir);
    // Never a folder the child may read (it could then load what the driver wrote) or its scratch.
    const overlaps = (a: string, b: string) => a === b || a.startsWith(b + sep) || b.startsWith(a + sep);
    for (const p of withRealPaths([...(opts.readPaths ?? []), ...(opts.scratch ? [opts.scratch] : [])])) {
      if (overlaps(real, p)) throw new UserError(`sandbox: shader cache '${dir}' overlaps '${p}'`);
    }
    return real;
  } catch (e) {
    if (e instanceof UserError) throw e;
    return undefined; // an unwritable home: the children compile cold, as before
  }
}

function checkPaths(opts: SandboxOptions): void {
  if (!isAbsolute(opts.entry) || !existsSync(opts.entry)) throw new UserError(`sandbox: entry '${opts.entry}' must be an existing absolute path`);
  for (const p of opts.readPaths ?? []) if (!isAbsolute(p)) throw new UserError(`sandbox: read path '${p}' must be absolute`);
  if (!opts.scratch) return;
  const scratch = resolve(opts.scratch);
  if (!isAbsolute(opts.scratch) || !existsSync(scratch) || !statSync(scratch).isDirectory()) throw new UserError(`sandbox: scratch '${opts.scratch}' must be an existing absolute folder`);
  const overlaps = (a: string, b: string) => a === b || a.startsWith(b + sep) || b.startsWith(a + sep);
  const realScratch = realpathSync(scratch);
  for (const p of withRealPaths([opts.entry, ...(opts.readPaths ?? [])])) {
    if (overlaps(resolve(p), scratch) || overlaps(resolve(p), realScratch)) throw new UserError(`sandbox: read path '${p}' overlaps the scratch folder '${opts.scratch}'; the child must not read what it can write`);
  }
}

/** Resident memory of a process and its descendants (unshare -> node), KiB. */
function treeRssKiB(pid: number, depth = 0): number {
  let kib = 0;
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) kib += Number(m[1]);
  } catch {
    return 0; // gone or exiting
  }
  if (depth < 4) for (const c of childrenOf(pid)) kib += treeRssKiB(c, depth + 1);
  return kib;
}

/** Child PIDs: from /proc/PID/task/PID/children, or by scanning /proc where a kernel lacks that file. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    const out: number[] = [];
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        // Field 4 of stat is the parent PID; the command name (field 2) may hold spaces, so split after ')'.
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
      } catch {
        // raced with an exit
      }
    }
    return out;
  }
}
