// Refinement: exact f32 distances for each query's candidate ids (from a search over compressed
// vectors). One invocation per (query, candidate); invalid ids get +inf and sort last.
// The host then selects the k best per query with topk_select.wgsl.

override WG: u32 = 64;
override D4: u32 = 32;
override METRIC: u32 = 0; // 0 = l2, 1 = inner product, 2 = angular

struct Params {
  nq: u32,
  r: u32, // candidates per query
  n: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
// The f32 rows (binding 2) are the harness's: read only through base_at(i) -> vec4<u32>
// (src/search/base-binding.ts), which spans several bindings where one cannot hold them.
@group(0) @binding(3) var<storage, read> cand: array<u32>;
@group(0) @binding(4) var<storage, read_write> dist: array<f32>;
@group(0) @binding(5) var<storage, read_write> ids: array<i32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let task = gid.x + gid.y * nwg.x * WG;
  if (task >= params.nq * params.r) { return; }
  let q = task / params.r;
  let id = cand[task];
  if (id >= params.n) {
    dist[task] = 3.0e38;
    ids[task] = -1;
    return;
  }
  var acc = vec4<f32>(0.0);
  for (var t = 0u; t < D4; t++) {
    let a = queries[q * D4 + t];
    let b = bitcast<vec4<f32>>(base_at(id * D4 + t));
    if (METRIC == 0u) { let d = a - b; acc += d * d; } else { acc += a * b; }
  }
  let s = acc.x + acc.y + acc.z + acc.w;
  dist[task] = select(select(1.0 - s, -s, METRIC == 1u), s, METRIC == 0u);
  ids[task] = i32(id);
}
