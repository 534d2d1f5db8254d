/**
 * Headless Chromium with WebGPU, driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
 * commands on fd 3, replies on fd 4, NUL-terminated JSON), so nothing is downloaded and no port is
 * opened. `--enable-unsafe-webgpu` is what makes headless Chromium offer an adapter (SwiftShader on a
 * machine without a GPU); without it navigator.gpu has none.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { oneLine, UserError } from '../errors.ts';

export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/**
 * A browser binary named by the user (`flag`: --browser-path or CRINN_CHROMIUM) is checked before
 * any work: an executable regular file that answers `--version` with a Chromium or Chrome version.
 * Otherwise a missing or non-executable file, or /bin/true, fails only after the index is built,
 * with a browser exit code and no path.
 */
export function checkChromium(binary: string, flag: string): void {
  const st = statSync(binary, { throwIfNoEntry: false });
  if (!st) throw new UserError(`${flag}: ${binary} does not exist`);
  if (!st.isFile()) throw new UserError(`${flag}: ${binary} is not a file; expected the Chromium binary`);
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    throw new UserError(`${flag}: ${binary} is not executable; expected the Chromium binary`);
  }
  // Root passes X_OK for any file with one execute bit; a file with none still fails here.
  if ((st.mode & 0o111) === 0) throw new UserError(`${flag}: ${binary} is not executable; expected the Chromium binary`);
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const version = (r.stdout ?? '').trim().split('\n').find((l) => /chrom/i.test(l));
  if (r.error || !version) {
    const said = r.error ? oneLine(r.error) : (r.stdout || r.stderr || '').trim().split('\n')[0] || 'nothing';
    throw new UserError(`${flag}: ${binary} is not Chromium ('${binary} --version' gave: ${said.slice(0, 120)}); expected a Chromium or Chrome binary`);
  }
}

/** The browser binary: `explicit` (checked), else $CRINN_CHROMIUM (checked), else the first usual path that exists; null when none. */
export function findChromium(explicit?: string): string | null {
  if (explicit !== undefined) {
    checkChromium(explicit, '--browser-path');
    return explicit;
  }
  const env = process.env.CRINN_CHROMIUM;
  if (env && existsSync(env)) {
    checkChromium(env, 'CRINN_CHROMIUM');
    return env;
  }
  return CHROMIUM_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export interface Chromium {
  readonly pid: number;
  /** Resolves when the browser exits, with its exit code and the tail of its stderr. */
  readonly exited: Promise<{ code: number | null; stderr: string }>;
  /** One DevTools command; `session` targets a page (see `page`). */
  send(method: string, params?: Record<string, unknown>, session?: string): Promise<Record<string, unknown>>;
  /** A DevTools session attached to the first page. */
  page(): Promise<string>;
  /** Text of the page's body (innerText). */
  text(): Promise<string>;
  /** PNG screenshot of the page. */
  screenshot(): Promise<Buffer>;
  close(): Promise<void>;
}

export async function launchChromium(binary: string, url: string, opts: { width?: number; height?: number } = {}): Promise<Chromium> {
  const dir = await mkdtemp(join(tmpdir(), 'crinn-chromium-'));
  const args = [
    '--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--no-first-run', '--no-default-browser-check',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic',
    '--hide-scrollbars', '--force-device-scale-factor=1', `--window-size=${opts.width ?? 1000},${opts.height ?? 700}`,
    `--user-data-dir=${join(dir, 'profile')}`, '--remote-debugging-pipe', url,
  ];
  // Own process group, so the browser and its helpers are killed together by our pid.
  const child: ChildProcess = spawn(binary, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((ok) => {
    child.on('exit', (code) => ok({ code, stderr }));
    child.on('error', (err) => ok({ code: -1, stderr: `${stderr}\n${err.message}` }));
  });
  const toBrowser = child.stdio[3] as Writable;
  const fromBrowser = child.stdio[4] as Readable;
  const pending = new Map<number, { ok: (v: Record<string, unknown>) => void; fail: (e: Error) => void }>();
  let nextId = 1;
  let buf = '';
  fromBrowser.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    for (let i = buf.indexOf('\0'); i >= 0; i = buf.indexOf('\0')) {
      const msg = JSON.parse(buf.slice(0, i)) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
      buf = buf.slice(i + 1);
      const p = msg.id !== undefined ? pending.get(msg.id) : undefined;
      if (!p) continue;
      pending.delete(msg.id!);
      if (msg.error) p.fail(new Error(`chromium: ${msg.error.message}`));
      else p.ok(msg.result ?? {});
    }
  });
  toBrowser.on('error', () => {});
  void exited.then(({ code }) => {
    for (const p of pending.values()) p.fail(new Error(`chromium exited (code ${code})`));
    pending.clear();
  });
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string) =>
    new Promise<Record<string, unknown>>((ok, fail) => {
      const id = nextId++;
      pending.set(id, { ok, fail });
      toBrowser.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  let session: Promise<string> | undefined;
  const page = (): Promise<string> =>
    (session ??= (async () => {
      const { targetInfos } = (await send('Target.getTargets')) as { targetInfos: { targetId: string; type: string }[] };
      const t = targetInfos.find((x) => x.type === 'page');
      if (!t) throw new Error('chromium: no page target');
      return ((await send('Target.attachToTarget', { targetId: t.targetId, flatten: true })) as { sessionId: string }).sessionId;
    })());
  return {
    pid: child.pid!,
    exited,
    send,
    page,
    async text() {
      const r = (await send('Runtime.evaluate', { expression: 'document.body.innerText', returnByValue: true }, await page())) as { result: { value: string } };
      return r.result.value;
    },
    async screenshot() {
      const r = (await send('Page.captureScreenshot', { format: 'png' }, await page())) as { data: string };
      return Buffer.from(r.data, 'base64');
    },
    async close() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5000))]);
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
}
