import type { Command, Option } from 'commander';
import { openGpu, type GpuContext } from '../gpu/device.ts';
import { parseBackend } from '../gpu/adapters.ts';
import { gpuTimeoutMs } from '../gpu/watchdog.ts';
import { UserError } from '../errors.ts';

export interface GlobalOptions {
  dataDir?: string;
  adapter?: string;
  backend?: string;
  power?: string;
  quiet?: boolean;
  verbose?: boolean;
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

const POWER = ['high-performance', 'low-power'] as const;

function parsePower(value: string | undefined): (typeof POWER)[number] | undefined {
  if (value === undefined) return undefined;
  if (!(POWER as readonly string[]).includes(value)) throw new UserError(`--power: unknown preference '${value}'; allowed: ${POWER.join(', ')}`);
  return value as (typeof POWER)[number];
}

/**
 * Checks the global options and the environment variables before any command runs, so a typo
 * fails in a second with exit 1 instead of after (or silently during) the work.
 */
export function validateGlobals(o: GlobalOptions): void {
  parsePower(o.power);
  if (o.backend !== undefined) parseBackend(o.backend);
  if (o.adapter !== undefined && o.adapter.trim() === '') throw new UserError('--adapter: expected part of an adapter name (see `crinn adapters`), got an empty string');
  gpuTimeoutMs();
}

/**
 * The root parses its options positionally (only before the subcommand), so that a parent such
 * as `bench` cannot take the options meant for its subcommand (`bench compare --html`). To keep
 * `crinn build ... --quiet` working, every subcommand also accepts the global options, hidden
 * from its help; optsWithGlobals() merges them. Call after every command is registered.
 */
export function shareGlobalOptions(program: Command): void {
  const globalsList = program.options.filter((o) => o.long && o.long !== '--version');
  const visit = (cmd: Command): void => {
    for (const opt of globalsList) {
      if (cmd.options.some((o) => o.long === opt.long)) continue;
      const copy = Object.assign(Object.create(Object.getPrototypeOf(opt)), opt) as Option;
      cmd.addOption(copy.hideHelp());
    }
    cmd.commands.forEach(visit);
  };
  program.commands.forEach(visit);
}

/** Opens the GPU the global options name. */
export function openFromOptions(o: GlobalOptions): Promise<GpuContext> {
  return openGpu({ adapter: o.adapter, backend: o.backend ? parseBackend(o.backend) : undefined, powerPreference: parsePower(o.power), verbose: o.verbose });
}

/**
 * A positive integer flag, at most `max` (default: the largest integer a double holds exactly,
 * so 2^53+1 or 99999999999999999999 is refused here, not by a schema deep inside).
 */
export function positiveInt(value: string | undefined, flag: string, fallback?: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UserError(`${flag}: required`);
    return fallback;
  }
  if (!/^\d+$/.test(value) || Number(value) <= 0) throw new UserError(`${flag}: expected a positive integer, got '${value}'`);
  if (Number(value) > max) throw new UserError(`${flag}: expected a positive integer up to ${max}, got '${value}'`);
  return Number(value);
}

/** The largest seed a flag takes: seeds are mixed into 32-bit generators, and the loop derives per-evaluation seeds from it. */
export const MAX_SEED = 2 ** 32 - 1;

/** A non-negative integer flag (a seed), at most `max`. */
export function nonNegativeInt(value: string, flag: string, max = MAX_SEED): number {
  if (!/^\d+$/.test(value)) throw new UserError(`${flag}: expected a non-negative integer, got '${value}'`);
  if (Number(value) > max) throw new UserError(`${flag}: expected an integer from 0 to ${max}, got '${value}'`);
  return Number(value);
}

/** A positive integer option that may be absent (undefined passes through). */
export function optionalPositiveInt(value: string | undefined, flag: string): number | undefined {
  return value === undefined ? undefined : positiveInt(value, flag);
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
