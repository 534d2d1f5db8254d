// Memory-path profile of the adapter (not a test): how fast a kernel can read base-vector data by
// each path WebGPU offers. Storage buffers (uniform and per-lane addresses), workgroup memory and
// private arrays; textureLoad from rgba32float and rgba16float textures; a uniform buffer (a small
// table, 64 KiB); packed int8 in a storage buffer with unpack4x8snorm (16 dimensions per load).
// Every path reads 4096 x 128 x 32 times; "dims/s" counts the vector components delivered, the
// figure that compares paths of different widths. --no-robustness opens the device with Dawn's
// disable_robustness toggle (no bounds clamping on loads: unsafe for untrusted kernels).
// Usage: node scripts/profile-loads.ts [--adapter TEXT] [--no-robustness]
import { parseArgs } from 'node:util';
import { openGpu } from '../src/gpu/device.ts';
import { dawnProvider } from '../src/gpu/provider.ts';
import { kernelPipeline } from '../src/gpu/pipeline.ts';
import { storageBuffer } from '../src/gpu/buffers.ts';
import { encodePass } from '../src/gpu/dispatch.ts';
import { PassTimer } from '../src/gpu/timing.ts';
import { median } from '../src/bench/stats.ts';
import { f32ToF16Bits } from '../src/data/f16.ts';

const { values } = parseArgs({ options: { adapter: { type: 'string' }, 'no-robustness': { type: 'boolean', default: false } } });
const base = await dawnProvider();
const provider = values['no-robustness'] ? { name: `${base.name} (disable_robustness)`, create: (flags: string[]) => base.create([...flags, 'enable-dawn-features=disable_robustness']) } : base;
const ctx = await openGpu({ adapter: values.adapter, provider });

const out = '@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;\n';
const storageF32 = '@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;\n';
const lane = '(g.x * 32u + r * 7u + t)';
const loop = (body: string) => `var a = vec4<f32>(0.0); for (var r = 0u; r < 128u; r++) { for (var t = 0u; t < 32u; t++) { ${body} } } dst[g.x] = a;`;
const fn = (body: string, extra = '') => `@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>${extra}) { ${body} }`;

type Source = 'f32' | 'u32' | 'tex32' | 'tex16' | 'uniform';
// name -> [source binding kind, WGSL, dimensions delivered per load]
const kernels: Record<string, [Source, string, number]> = {
  'storage f32, uniform address': ['f32', `${storageF32}${out}${fn(loop('a += src[r * 32u + t];'))}`, 4],
  'storage f32, per-lane address': ['f32', `${storageF32}${out}${fn(loop(`a += src[${lane} & 65535u];`))}`, 4],
  'workgroup memory': ['f32', `${storageF32}${out}var<workgroup> q: array<vec4<f32>, 2048>;\n${fn(`for (var t = 0u; t < 32u; t++) { q[l * 32u + t] = src[(g.x * 32u + t) & 65535u]; } ${loop('a += q[l * 32u + t];')}`, ', @builtin(local_invocation_index) l: u32')}`, 4],
  'private array': ['f32', `${storageF32}${out}var<private> q: array<vec4<f32>, 32>;\n${fn(`for (var t = 0u; t < 32u; t++) { q[t] = src[(g.x * 32u + t) & 65535u]; } ${loop('a += q[t] * f32(r);')}`)}`, 4],
  'texture rgba32float, textureLoad': ['tex32', `@group(0) @binding(0) var src: texture_2d<f32>;\n${out}${fn(loop(`let i = ${lane} & 65535u; a += textureLoad(src, vec2<u32>(i & 255u, i >> 8u), 0);`))}`, 4],
  'texture rgba16float, textureLoad': ['tex16', `@group(0) @binding(0) var src: texture_2d<f32>;\n${out}${fn(loop(`let i = ${lane} & 65535u; a += textureLoad(src, vec2<u32>(i & 255u, i >> 8u), 0);`))}`, 4],
  'uniform buffer (64 KiB table)': ['uniform', `@group(0) @binding(0) var<uniform> src: array<vec4<f32>, 4096>;\n${out}${fn(loop(`a += src[${lane} & 4095u];`))}`, 4],
  'storage int8 x16, unpack4x8snorm': ['u32', `@group(0) @binding(0) var<storage, read> src: array<vec4<u32>>;\n${out}${fn(loop(`let w = src[${lane} & 65535u]; a += unpack4x8snorm(w.x) + unpack4x8snorm(w.y) + unpack4x8snorm(w.z) + unpack4x8snorm(w.w);`))}`, 16],
};

const f32src = storageBuffer(ctx, 'profile:src', new Float32Array(65536 * 4).fill(1));
const u32src = storageBuffer(ctx, 'profile:src-int8', new Uint32Array(65536 * 4).fill(0x7f7f7f7f));
const dst = storageBuffer(ctx, 'profile:dst', 4096 * 16);
const texture = (format: 'rgba32float' | 'rgba16float'): GPUTexture => {
  const tex = ctx.device.createTexture({ label: `profile:${format}`, size: [256, 256], format, usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST });
  const data = format === 'rgba32float' ? new Float32Array(65536 * 4).fill(1) : new Uint16Array(65536 * 4).fill(f32ToF16Bits(1));
  ctx.device.queue.writeTexture({ texture: tex }, data, { bytesPerRow: 256 * (format === 'rgba32float' ? 16 : 8) }, [256, 256]);
  return tex;
};
const tex32 = texture('rgba32float');
const tex16 = texture('rgba16float');
const uni = ctx.device.createBuffer({ label: 'profile:uniform', size: 65536, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
ctx.device.queue.writeBuffer(uni, 0, new Float32Array(4096 * 4).fill(1));

console.log(`adapter: ${ctx.adapter.name} — ${ctx.adapter.description}; robustness ${values['no-robustness'] ? 'off (disable_robustness)' : 'on (default)'}`);
const loads = 4096 * 128 * 32;
for (const [name, [kind, code, dims]] of Object.entries(kernels)) {
  try {
    const pipe = await kernelPipeline(ctx, { name: 'profile', cacheKey: name, source: code });
    const resource = kind === 'tex32' ? tex32.createView() : kind === 'tex16' ? tex16.createView() : { buffer: kind === 'uniform' ? uni : kind === 'u32' ? u32src : f32src };
    const bind = ctx.device.createBindGroup({ label: name, layout: pipe.getBindGroupLayout(0), entries: [{ binding: 0, resource }, { binding: 1, resource: { buffer: dst } }] });
    const times: number[] = [];
    for (let rep = 0; rep < 6; rep++) {
      const timer = PassTimer.create(ctx, 1);
      const enc = ctx.device.createCommandEncoder();
      const t0 = performance.now();
      encodePass(enc, name, pipe, bind, [64], timer?.next());
      timer?.resolve(enc);
      ctx.device.queue.submit([enc.finish()]);
      await ctx.idle();
      const wall = (performance.now() - t0) / 1000;
      if (rep > 0) times.push(timer ? (await timer.read())[0] : wall);
      timer?.destroy();
    }
    const s = median(times);
    console.log(`${name.padEnd(34)} ${(s * 1e3).toFixed(2).padStart(8)} ms  ${(loads / s / 1e9).toFixed(3)} G loads/s  ${((loads * dims) / s / 1e9).toFixed(2)} G dims/s`);
  } catch (err) {
    console.log(`${name.padEnd(34)} unavailable: ${(err as Error).message.split('\n')[0]}`);
  }
}
ctx.destroy();
