// Memory-path profile of the adapter (not a test): vec4 reads per second from storage buffers
// (uniform and per-lane addresses), workgroup memory and private arrays. On llvmpipe this is the
// number that bounds every kernel here: storage and workgroup reads are emitted per lane.
// Usage: node scripts/profile-loads.ts [--adapter TEXT]
import { parseArgs } from 'node:util';
import { openGpu } from '../src/gpu/device.ts';
import { kernelPipeline } from '../src/gpu/shader.ts';
import { bindGroup, storageBuffer } from '../src/gpu/buffers.ts';
import { encodePass } from '../src/gpu/dispatch.ts';
import { PassTimer } from '../src/gpu/timing.ts';
import { median } from '../src/bench/stats.ts';

const { values } = parseArgs({ options: { adapter: { type: 'string' } } });
const ctx = await openGpu({ adapter: values.adapter });
const head = '@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;\n@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;\n';
// Each invocation reads 128 x 32 vec4s; 4096 invocations.
const kernels: Record<string, string> = {
  'storage, uniform address': `${head}@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) { var a = vec4<f32>(0.0); for (var r = 0u; r < 128u; r++) { for (var t = 0u; t < 32u; t++) { a += src[r * 32u + t]; } } dst[g.x] = a; }`,
  'storage, per-lane address': `${head}@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) { var a = vec4<f32>(0.0); for (var r = 0u; r < 128u; r++) { for (var t = 0u; t < 32u; t++) { a += src[(g.x * 32u + r * 7u + t) & 65535u]; } } dst[g.x] = a; }`,
  'workgroup memory': `${head}var<workgroup> q: array<vec4<f32>, 2048>;\n@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(local_invocation_index) l: u32) { for (var t = 0u; t < 32u; t++) { q[l * 32u + t] = src[(g.x * 32u + t) & 65535u]; } var a = vec4<f32>(0.0); for (var r = 0u; r < 128u; r++) { for (var t = 0u; t < 32u; t++) { a += q[l * 32u + t]; } } dst[g.x] = a; }`,
  'private array': `${head}var<private> q: array<vec4<f32>, 32>;\n@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) { for (var t = 0u; t < 32u; t++) { q[t] = src[(g.x * 32u + t) & 65535u]; } var a = vec4<f32>(0.0); for (var r = 0u; r < 128u; r++) { for (var t = 0u; t < 32u; t++) { a += q[t] * f32(r); } } dst[g.x] = a; }`,
};
const src = storageBuffer(ctx, 'profile:src', new Float32Array(65536 * 4).fill(1));
const dst = storageBuffer(ctx, 'profile:dst', 4096 * 16);
console.log(`adapter: ${ctx.adapter.name} — ${ctx.adapter.description}`);
for (const [name, code] of Object.entries(kernels)) {
  const pipe = await kernelPipeline(ctx, { name: 'profile', cacheKey: name, source: code });
  const bind = bindGroup(ctx, pipe, name, [src, dst]);
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
  console.log(`${name.padEnd(28)} ${(s * 1e3).toFixed(2).padStart(8)} ms  ${((4096 * 128 * 32) / s / 1e9).toFixed(3)} G vec4 reads/s`);
}
ctx.destroy();
