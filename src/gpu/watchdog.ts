import { GpuError, UserError } from '../errors.ts';

const FALLBACK_TIMEOUT_MS = 300_000;

/**
 * Limit for one GPU wait from $CRINN_GPU_TIMEOUT_MS (default 300000); software adapters are slow,
 * but a hang must become an error. Read per call and validated like a flag: 'abc' or -5 is bad input.
 */
export function gpuTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.CRINN_GPU_TIMEOUT_MS;
  if (raw === undefined || raw === '') return FALLBACK_TIMEOUT_MS;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) <= 0 || !Number.isSafeInteger(Number(raw))) {
    throw new UserError(`CRINN_GPU_TIMEOUT_MS: expected a positive whole number of milliseconds, got '${raw}'`);
  }
  return Number(raw);
}

/**
 * Told about GPU waits that last over a second (a cold shader compile on a software adapter, a
 * large ground truth), so a CLI can show progress; the library itself stays silent.
 */
export interface SlowWaitListener {
  start(what: string): void;
  end(what: string, ms: number): void;
}
let slowWaitListener: SlowWaitListener | undefined;
export const SLOW_WAIT_MS = 1000;

export function setSlowWaitListener(listener: SlowWaitListener | undefined): void {
  slowWaitListener = listener;
}

/** Rejects with a GpuError naming `what` if `p` has not settled within `ms`. */
export function watchdog<T>(p: Promise<T>, what: string, ms = gpuTimeoutMs()): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const started = performance.now();
  let slow = false;
  const listener = slowWaitListener;
  const slowTimer = listener ? setTimeout(() => { slow = true; listener.start(what); }, SLOW_WAIT_MS) : undefined;
  slowTimer?.unref?.();
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GpuError(`GPU wait timed out after ${ms} ms: ${what}`)), ms);
    timer.unref?.();
  });
  return Promise.race([p, timeout]).finally(() => {
    clearTimeout(timer);
    clearTimeout(slowTimer);
    if (slow) listener!.end(what, performance.now() - started);
  });
}
