// Base vectors stored as f32, rows padded to D4 vec4s. Concatenated after a kernel that
// declares D4 and the private query `qv: array<vec4<f32>, D4>`.
@group(0) @binding(2) var<storage, read> base: array<vec4<f32>>;

fn l2_partial(row: u32) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  let o = row * D4;
  for (var t = 0u; t < D4; t++) {
    let d = qv[t] - base[o + t];
    acc += d * d;
  }
  return acc;
}

fn dot_partial(row: u32) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  let o = row * D4;
  for (var t = 0u; t < D4; t++) {
    acc += qv[t] * base[o + t];
  }
  return acc;
}
