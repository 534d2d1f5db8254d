import type { GpuContext } from './device.ts';

/**
 * Splits `groups` workgroups over x and y so neither exceeds the device's per-dimension limit.
 * Shaders recover the linear index as `gid.x + gid.y * num_workgroups.x * WG`.
 */
export function grid2d(ctx: GpuContext, label: string, groups: number, workgroupSize: number): [number, number] {
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  const gx = Math.max(1, Math.min(groups, max));
  const gy = Math.max(1, Math.ceil(groups / gx));
  ctx.checkDispatch(label, workgroupSize, [gx, gy]);
  return [gx, gy];
}

/** Records one compute pass with a single dispatch. */
export function encodePass(
  encoder: GPUCommandEncoder,
  label: string,
  pipeline: GPUComputePipeline,
  bind: GPUBindGroup,
  groups: [number, number?, number?],
  timestampWrites?: GPUComputePassTimestampWrites,
): void {
  const pass = encoder.beginComputePass({ label, timestampWrites });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
  pass.end();
}
