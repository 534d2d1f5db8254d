// Filtered exact kNN: after knn_distances.wgsl filled a (query block x base chunk) distance block,
// every row a query's filter rejects gets FAR, so the top-k selection keeps only passing rows
// (a query passing fewer than k gets FAR entries, which the host reads as "no neighbour").

override WG: u32 = 64;

struct Params {
  nq: u32,     // queries in this block
  nb: u32,     // base rows in this chunk
  start: u32,  // the chunk's first base id
  q0: u32,     // the block's first query within the call
}

@group(0) @binding(0) var<uniform> params: Params;
// Per query of the call: the word offset of its bitmap in this array; then the bitmaps
// (ceil(n / 32) words each; bit i & 31 of word i >> 5 set = base row i passes).
@group(0) @binding(1) var<storage, read> mask: array<u32>;
@group(0) @binding(2) var<storage, read_write> dist: array<f32>;

const FAR: f32 = 3.0e38;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let task = gid.x + gid.y * nwg.x * WG;
  if (task >= params.nq * params.nb) { return; }
  let q = task / params.nb;
  let b = task % params.nb;
  let id = params.start + b;
  let off = mask[params.q0 + q];
  if (((mask[off + (id >> 5u)] >> (id & 31u)) & 1u) == 0u) { dist[task] = FAR; }
}
