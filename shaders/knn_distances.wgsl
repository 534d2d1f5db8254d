// Exact distances between a block of queries and a chunk of base vectors.
// Each invocation computes a 4 x 4 register block (4 queries x 4 base rows) so every loaded
// vec4 is reused four times. Rows are zero-padded to a multiple of 4 floats on upload, which
// leaves l2 and dot products unchanged.
// Output: dist[q * params.nb + b], in the metric's own units (squared L2, -dot, 1 - dot).

override WG_X: u32 = 16; // base-row direction
override WG_Y: u32 = 4;  // query direction

struct Params {
  nq: u32,      // queries in this block
  nb: u32,      // base rows in this chunk
  dim4: u32,    // padded row length in vec4s
  metric: u32,  // 0 = l2, 1 = inner product, 2 = angular (rows pre-normalised)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> base: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dist: array<f32>;

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b0 = gid.x * 4u;
  let q0 = gid.y * 4u;
  if (b0 >= params.nb || q0 >= params.nq) { return; }
  // Clamp rows past the end to the last valid one: the loads stay in bounds and uniform,
  // and their results are simply not written.
  let lastB = params.nb - 1u;
  let lastQ = params.nq - 1u;
  let d4 = params.dim4;
  let qo = vec4<u32>(min(q0, lastQ), min(q0 + 1u, lastQ), min(q0 + 2u, lastQ), min(q0 + 3u, lastQ)) * d4;
  let bo = vec4<u32>(min(b0, lastB), min(b0 + 1u, lastB), min(b0 + 2u, lastB), min(b0 + 3u, lastB)) * d4;

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  if (params.metric == 0u) {
    for (var t = 0u; t < d4; t++) {
      let x0 = base[bo.x + t]; let x1 = base[bo.y + t]; let x2 = base[bo.z + t]; let x3 = base[bo.w + t];
      var q = queries[qo.x + t];
      acc0 += vec4<f32>(dot(q - x0, q - x0), dot(q - x1, q - x1), dot(q - x2, q - x2), dot(q - x3, q - x3));
      q = queries[qo.y + t];
      acc1 += vec4<f32>(dot(q - x0, q - x0), dot(q - x1, q - x1), dot(q - x2, q - x2), dot(q - x3, q - x3));
      q = queries[qo.z + t];
      acc2 += vec4<f32>(dot(q - x0, q - x0), dot(q - x1, q - x1), dot(q - x2, q - x2), dot(q - x3, q - x3));
      q = queries[qo.w + t];
      acc3 += vec4<f32>(dot(q - x0, q - x0), dot(q - x1, q - x1), dot(q - x2, q - x2), dot(q - x3, q - x3));
    }
  } else {
    for (var t = 0u; t < d4; t++) {
      let x0 = base[bo.x + t]; let x1 = base[bo.y + t]; let x2 = base[bo.z + t]; let x3 = base[bo.w + t];
      var q = queries[qo.x + t];
      acc0 += vec4<f32>(dot(q, x0), dot(q, x1), dot(q, x2), dot(q, x3));
      q = queries[qo.y + t];
      acc1 += vec4<f32>(dot(q, x0), dot(q, x1), dot(q, x2), dot(q, x3));
      q = queries[qo.z + t];
      acc2 += vec4<f32>(dot(q, x0), dot(q, x1), dot(q, x2), dot(q, x3));
      q = queries[qo.w + t];
      acc3 += vec4<f32>(dot(q, x0), dot(q, x1), dot(q, x2), dot(q, x3));
    }
    // ip: -dot; angular: 1 - dot.
    let shift = select(1.0, 0.0, params.metric == 1u);
    acc0 = shift - acc0;
    acc1 = shift - acc1;
    acc2 = shift - acc2;
    acc3 = shift - acc3;
  }
  let nb = params.nb;
  let nValid = min(4u, nb - b0);
  let rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let q = q0 + i;
    if (q >= params.nq) { break; }
    let o = q * nb + b0;
    for (var j = 0u; j < nValid; j++) {
      dist[o + j] = rows[i][j];
    }
  }
}
