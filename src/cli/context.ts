import type { Command } from 'commander';
import { openGpu, type GpuContext } from '../gpu/device.ts';
import { parseBackend } from '../gpu/adapters.ts';
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

/** Opens the GPU the global options name. */
export function openFromOptions(o: GlobalOptions): Promise<GpuContext> {
  if (o.power !== undefined && o.power !== 'high-performance' && o.power !== 'low-power') {
    throw new UserError(`--power: unknown preference '${o.power}'; allowed: high-performance, low-power`);
  }
  return openGpu({ adapter: o.adapter, backend: o.backend ? parseBackend(o.backend) : undefined, powerPreference: o.power, verbose: o.verbose });
}

export function positiveInt(value: string | undefined, flag: string, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UserError(`${flag}: required`);
    return fallback;
  }
  if (!/^\d+$/.test(value) || Number(value) <= 0) throw new UserError(`${flag}: expected a positive integer, got '${value}'`);
  return Number(value);
}

/** A positive integer option that may be absent (undefined passes through). */
export function optionalPositiveInt(value: string | undefined, flag: string): number | undefined {
  return value === undefined ? undefined : positiveInt(value, flag);
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
