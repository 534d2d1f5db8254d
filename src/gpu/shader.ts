import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GpuError } from '../errors.ts';
import type { GpuContext } from './device.ts';
import { pipelineKey, pipelineLayout, type Kernel } from './kernel-text.ts';

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

const SHADER_DIR = fileURLToPath(new URL('../../shaders/', import.meta.url));

// Node-free, shared with the browser loader.
export { withConst } from './kernel-text.ts';

/** Reads a hand-written shader from the project's `shaders/` folder (or, an absolute path, from there: a storage codec kept outside the project). */
export function shaderSource(file: string): string {
  return readFileSync(file.startsWith('/') ? file : `${SHADER_DIR}${file}`, 'utf8');
}

export function formatDiagnostics(source: string, diagnostics: ShaderDiagnostic[]): string {
  const lines = source.split('\n');
  return diagnostics
    .map((d) => `${d.type} ${d.line}:${d.column}: ${d.message}\n    ${lines[d.line - 1] ?? ''}`)
    .join('\n');
}

/** Compiles WGSL and returns its diagnostics instead of throwing, for evaluators that report them. */
export async function compileModule(ctx: GpuContext, label: string, source: string): Promise<{ module: GPUShaderModule; diagnostics: ShaderDiagnostic[] }> {
  if (ctx.verbose) process.stderr.write(`// ---- WGSL ${label} ----\n${source}\n`);
  ctx.device.pushErrorScope('validation');
  const module = ctx.device.createShaderModule({ label, code: source });
  const info = await ctx.wait(module.getCompilationInfo(), `compile ${label}`);
  await ctx.wait(ctx.device.popErrorScope(), `compile ${label}`);
  const diagnostics = info.messages.map((m) => ({ type: m.type, line: m.lineNum, column: m.linePos, message: m.message }));
  return { module, diagnostics };
}

const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/** The compute pipeline of a kernel, compiled once per device and specialisation. */
export function kernelPipeline(ctx: GpuContext, kernel: Kernel): Promise<GPUComputePipeline> {
  let cache = pipelineCache.get(ctx.device);
  if (!cache) pipelineCache.set(ctx.device, (cache = new Map()));
  const key = pipelineKey(kernel, createHash('sha256').update(kernel.source).digest('hex'));
  let p = cache.get(key);
  if (!p) {
    p = buildPipeline(ctx, kernel);
    cache.set(key, p);
    p.catch(() => cache!.delete(key));
  }
  return p;
}

async function buildPipeline(ctx: GpuContext, kernel: Kernel): Promise<GPUComputePipeline> {
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
