// Exact distances between a block of queries and a chunk of base vectors.
// Each invocation holds RQ = 8 queries in private memory (registers or stack: far cheaper to
// re-read than storage on every adapter, by ~40x on llvmpipe) and streams a strip of STRIP base
// rows, so every base load serves eight distances. Rows are zero-padded to whole vec4s on
// upload, which changes no l2 or dot product.
// Output: dist[q * params.nb + b], in the metric's own units (squared L2, -dot, 1 - dot).

// Array lengths must be compile-time constants: the host rewrites this line per dimension.
// Loops run to the uniform params.d4 instead: with a constant bound llvmpipe unrolls 8 x D4
// private vec4s and its first-dispatch compile took 70 s (dim 128, cold shader cache) against
// 1 s now, for ~1.4x slower steady-state distances there.
const D4: u32 = 32u;

override WG: u32 = 64;
override STRIP: u32 = 16; // base rows per invocation

struct Params {
  nq: u32,      // queries in this block
  nb: u32,      // base rows in this chunk
  metric: u32,  // 0 = l2, 1 = inner product, 2 = angular (rows pre-normalised)
  d4: u32,     // vec4s per row (== D4)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> base: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dist: array<f32>;

var<private> q0: array<vec4<f32>, D4>;
var<private> q1: array<vec4<f32>, D4>;
var<private> q2: array<vec4<f32>, D4>;
var<private> q3: array<vec4<f32>, D4>;
var<private> q4: array<vec4<f32>, D4>;
var<private> q5: array<vec4<f32>, D4>;
var<private> q6: array<vec4<f32>, D4>;
var<private> q7: array<vec4<f32>, D4>;

fn l2(a: vec4<f32>, b: vec4<f32>) -> f32 {
  let d = a - b;
  return dot(d, d);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let qs = gid.y * 8u;
  let b0 = gid.x * STRIP;
  if (qs >= params.nq || b0 >= params.nb) { return; }
  let last = params.nq - 1u;
  let o0 = min(qs, last) * D4;
  let o1 = min(qs + 1u, last) * D4;
  let o2 = min(qs + 2u, last) * D4;
  let o3 = min(qs + 3u, last) * D4;
  let o4 = min(qs + 4u, last) * D4;
  let o5 = min(qs + 5u, last) * D4;
  let o6 = min(qs + 6u, last) * D4;
  let o7 = min(qs + 7u, last) * D4;
  for (var t = 0u; t < params.d4; t++) {
    q0[t] = queries[o0 + t]; q1[t] = queries[o1 + t]; q2[t] = queries[o2 + t]; q3[t] = queries[o3 + t];
    q4[t] = queries[o4 + t]; q5[t] = queries[o5 + t]; q6[t] = queries[o6 + t]; q7[t] = queries[o7 + t];
  }
  let nvalid = min(8u, params.nq - qs);
  let b1 = min(b0 + STRIP, params.nb);
  let shift = select(1.0, 0.0, params.metric == 1u); // ip: -dot; angular: 1 - dot
  for (var b = b0; b < b1; b++) {
    var lo = vec4<f32>(0.0);
    var hi = vec4<f32>(0.0);
    let bo = b * D4;
    if (params.metric == 0u) {
      for (var t = 0u; t < params.d4; t++) {
        let x = base[bo + t];
        lo += vec4<f32>(l2(q0[t], x), l2(q1[t], x), l2(q2[t], x), l2(q3[t], x));
        hi += vec4<f32>(l2(q4[t], x), l2(q5[t], x), l2(q6[t], x), l2(q7[t], x));
      }
    } else {
      for (var t = 0u; t < params.d4; t++) {
        let x = base[bo + t];
        lo += vec4<f32>(dot(q0[t], x), dot(q1[t], x), dot(q2[t], x), dot(q3[t], x));
        hi += vec4<f32>(dot(q4[t], x), dot(q5[t], x), dot(q6[t], x), dot(q7[t], x));
      }
      lo = shift - lo;
      hi = shift - hi;
    }
    let r = array<f32, 8>(lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w);
    for (var i = 0u; i < nvalid; i++) {
      dist[(qs + i) * params.nb + b] = r[i];
    }
  }
}
