/**
 * Errors that reach the user. `UserError` is bad input (exit code 1); anything else that escapes
 * is an internal or environment error (exit code 2). Messages are one line and name the file or field at fault.
 */
export class UserError extends Error {
  override name = 'UserError';
}

/** The GPU device was lost or a GPU wait exceeded its watchdog: an environment fault, not bad input. */
export class GpuError extends Error {
  override name = 'GpuError';
}

/** The machine, not the input, is at fault (no network, a server error): exit code 2, like GpuError. */
export class EnvironmentError extends Error {
  override name = 'EnvironmentError';
}

export function exitCodeFor(err: unknown): number {
  return err instanceof UserError ? 1 : 2;
}

/** One line, no stack: what the CLI prints. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}
