/**
 * The one compute-pipeline cache, Node-free: the Node engine (through a GpuContext) and the browser
 * loader (src/browser/crinn-browser.ts, over a plain GPUDevice) compile kernels here. A kernel is
 * compiled once per device and specialisation, keyed by its full source (a variant of the same
 * length as the baseline is a different kernel); WGSL errors come back positioned.
 */
import { GpuError } from '../errors.ts';
import type { GpuContext } from './device.ts';
import { pipelineKey, pipelineLayout, type Kernel } from './kernel-text.ts';

/** The part of a GpuContext that compiling needs (the browser loader builds one over a GPUDevice). */
export type PipelineContext = Pick<GpuContext, 'device' | 'verbose' | 'wait'>;

/** One compiler message, positioned in the WGSL source (1-based line and column). */
export interface ShaderDiagnostic {
  type: 'error' | 'warning' | 'info';
  line: number;
  column: number;
  message: string;
}

/** WGSL that failed to compile or link; `diagnostics` are what an LLM is shown to repair it. */
export class ShaderCompileError extends GpuError {
  override name = 'ShaderCompileError';
  readonly label: string;
  readonly diagnostics: ShaderDiagnostic[];
  constructor(label: string, diagnostics: ShaderDiagnostic[], detail?: string) {
    const first = diagnostics.find((d) => d.type === 'error');
    // Without a compiler error, pipeline creation failed (e.g. the WGSL does not match the declared layout).
    super(`${label}: ${first ? `WGSL error at ${first.line}:${first.column}: ${first.message}` : `pipeline creation failed${detail ? `: ${detail}` : ''}`}`);
    this.label = label;
    this.diagnostics = diagnostics;
  }
}

/** Compiles WGSL and returns its diagnostics instead of throwing, for evaluators that report them. */
export async function compileModule(ctx: PipelineContext, label: string, source: string): Promise<{ module: GPUShaderModule; diagnostics: ShaderDiagnostic[] }> {
  if (ctx.verbose) console.error(`// ---- WGSL ${label} ----\n${source}`);
  ctx.device.pushErrorScope('validation');
  const module = ctx.device.createShaderModule({ label, code: source });
  const info = await ctx.wait(module.getCompilationInfo(), `compile ${label}`);
  await ctx.wait(ctx.device.popErrorScope(), `compile ${label}`);
  const diagnostics = info.messages.map((m) => ({ type: m.type, line: m.lineNum, column: m.linePos, message: m.message }));
  return { module, diagnostics };
}

const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/** The compute pipeline of a kernel, compiled once per device and specialisation; a failed compile is not cached. */
export function kernelPipeline(ctx: PipelineContext, kernel: Kernel): Promise<GPUComputePipeline> {
  let cache = pipelineCache.get(ctx.device);
  if (!cache) pipelineCache.set(ctx.device, (cache = new Map()));
  const key = pipelineKey(kernel, kernel.source);
  let p = cache.get(key);
  if (!p) {
    p = buildPipeline(ctx, kernel);
    cache.set(key, p);
    p.catch(() => cache!.delete(key));
  }
  return p;
}

async function buildPipeline(ctx: PipelineContext, kernel: Kernel): Promise<GPUComputePipeline> {
  const label = `${kernel.name}[${kernel.cacheKey}]`;
  const { module, diagnostics } = await compileModule(ctx, label, kernel.source);
  if (diagnostics.some((d) => d.type === 'error')) throw new ShaderCompileError(label, diagnostics);
  try {
    return await ctx.wait(
      ctx.device.createComputePipelineAsync({
        label,
        layout: pipelineLayout(ctx.device, kernel),
        compute: { module, entryPoint: kernel.entryPoint ?? 'main', constants: kernel.constants },
      }),
      `pipeline ${label}`,
    );
  } catch (err) {
    if (err instanceof GpuError) throw err;
    throw new ShaderCompileError(label, diagnostics, (err as Error).message);
  }
}
