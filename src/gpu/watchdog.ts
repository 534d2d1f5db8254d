import { GpuError } from '../errors.ts';

/** Default limit for one GPU wait; software adapters are slow, but a hang must become an error. */
export const DEFAULT_GPU_TIMEOUT_MS = Number(process.env.CRINN_GPU_TIMEOUT_MS ?? 300_000);

/** Rejects with a GpuError naming `what` if `p` has not settled within `ms`. */
export function watchdog<T>(p: Promise<T>, what: string, ms = DEFAULT_GPU_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GpuError(`GPU wait timed out after ${ms} ms: ${what}`)), ms);
    timer.unref?.();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
