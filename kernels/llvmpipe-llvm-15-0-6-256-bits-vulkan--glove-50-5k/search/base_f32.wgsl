// Base vectors stored as f32, rows padded to D4 vec4s. Concatenated after a kernel that
// declares D4 and the private query `qv: array<vec4<f32>, D4>`, and after the harness's
// `base_at(i) -> vec4<u32>` (src/search/base-binding.ts), the only way to read the rows.

fn l2_partial(row: u32) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  let o = row * D4;
  for (var t = 0u; t < D4; t++) {
    let d = qv[t] - bitcast<vec4<f32>>(base_at(o + t));
    acc += d * d;
  }
  return acc;
}

fn dot_partial(row: u32) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  let o = row * D4;
  for (var t = 0u; t < D4; t++) {
    acc += qv[t] * bitcast<vec4<f32>>(base_at(o + t));
  }
  return acc;
}
