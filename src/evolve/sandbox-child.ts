/**
 * Runs inside the sandbox child: imports the entry module and answers the parent's calls on
 * fd 3. The entry exports `ops`, a record of `(payload) => result` functions. The entry shares this
 * realm and may tamper with anything here; that is fine, because the parent trusts nothing it
 * receives (it checks every frame, holds the clock, and can kill this process).
 *
 * Usage (the parent builds this): node --permission ... sandbox-child.ts ENTRY
 */
import { Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { encodeFrame, decodeFrame, FrameReader } from './sandbox-wire.ts';

type Ops = Record<string, (payload: unknown) => unknown>;

const entry = process.argv[2];
const channel = new Socket({ fd: 3, readable: true, writable: true });
const send = (msg: unknown) => channel.write(encodeFrame(msg));
// A permission denial names what was denied (Node's message does not): the parent's allowances lack it.
const denied = (err: Error) => ((err as NodeJS.ErrnoException).code === 'ERR_ACCESS_DENIED' && (err as { resource?: unknown }).resource ? ` (denied: ${String((err as { permission?: unknown }).permission ?? 'access')} ${String((err as { resource?: unknown }).resource)})` : '');
const message = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}${denied(err)}` : String(err));

channel.on('end', () => process.exit(0));
channel.on('error', () => process.exit(70));

let ops: Ops;
try {
  const mod = (await import(pathToFileURL(entry).href)) as { ops?: Ops };
  if (!mod.ops || typeof mod.ops !== 'object') throw new Error(`${entry} exports no 'ops' object`);
  ops = mod.ops;
  send({ t: 'ready', ops: Object.keys(ops) });
} catch (err) {
  send({ t: 'ready-failed', error: message(err) });
  channel.end(() => process.exit(1));
}

const reader = new FrameReader(2 ** 31);
channel.on('data', (chunk: Buffer) => {
  for (const frame of reader.push(chunk)) void answer(decodeFrame(frame) as { id: string; op: string; payload: unknown });
});

async function answer({ id, op, payload }: { id: string; op: string; payload: unknown }): Promise<void> {
  try {
    const fn = Object.hasOwn(ops, op) ? ops[op] : undefined;
    if (typeof fn !== 'function') throw new Error(`the entry has no op '${op}'`);
    send({ t: 'reply', id, ok: true, result: await fn(payload) });
  } catch (err) {
    send({ t: 'reply', id, ok: false, error: message(err) });
  }
}
