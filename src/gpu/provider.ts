import { UserError } from '../errors.ts';

/**
 * Where GPU objects come from. Injectable so tests and embedders can hand in their own
 * `navigator.gpu`-like factory (a browser's, or a Dawn build with other flags).
 */
export interface GpuProvider {
  /** Returns a GPU for the given Dawn toggles (e.g. `backend=vulkan`); browsers ignore them. */
  create(flags: string[]): GPU;
  /** Human label for reports. */
  readonly name: string;
}

let dawn: { create(flags: string[]): GPU; globals: Record<string, unknown> } | undefined;

/** dawn.node from the `webgpu` npm package; installs the WebGPU globals (GPUBufferUsage, ...) once. */
export async function dawnProvider(): Promise<GpuProvider> {
  if (!dawn) {
    // Mesa reads these; set them before dawn.node loads, because setenv() racing the driver's
    // threads reading the environment crashes the process.
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    process.env.EGL_PLATFORM ??= 'surfaceless';
    try {
      dawn = (await import('webgpu')) as unknown as typeof dawn;
    } catch (err) {
      // Under the sandbox's permission model a missing read allowance looks like a broken install: say what was denied.
      const e = err as NodeJS.ErrnoException & { resource?: string };
      if (e.code === 'ERR_ACCESS_DENIED') throw new UserError(`cannot load the 'webgpu' package (dawn.node): reading ${e.resource ?? 'a file'} was denied by the permission model (a read allowance is missing for it: src/evolve/sandbox-isolation.ts readAllowances)`);
      throw new UserError(`cannot load the 'webgpu' package (dawn.node): ${(err as Error).message}; run 'npm ci'`);
    }
    Object.assign(globalThis, dawn!.globals);
  }
  const d = dawn!;
  return { name: 'dawn.node', create: (flags) => d.create(flags) };
}
