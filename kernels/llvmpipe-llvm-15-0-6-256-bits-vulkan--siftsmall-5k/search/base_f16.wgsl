// Base vectors stored as f16, eight per vec4<u32> (unpack2x16float needs no shader-f16 feature).
// One load brings eight dimensions: half the load instructions of f32, which is what a load
// costs on adapters that issue one per lane (llvmpipe). Rows are padded to D4 / 2 such groups,
// so D4 is even. Concatenated after a kernel that declares D4 and the private query `qv`, and
// after the harness's `base_at(i) -> vec4<u32>` (src/search/base-binding.ts).

fn l2_partial(row: u32) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  let o = row * (D4 / 2u);
  for (var t = 0u; t < D4 / 2u; t++) {
    let w = base_at(o + t);
    let d0 = qv[2u * t] - vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
    let d1 = qv[2u * t + 1u] - vec4<f32>(unpack2x16float(w.z), unpack2x16float(w.w));
    acc += d0 * d0 + d1 * d1;
  }
  return acc;
}

fn dot_partial(row: u32) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  let o = row * (D4 / 2u);
  for (var t = 0u; t < D4 / 2u; t++) {
    let w = base_at(o + t);
    acc += qv[2u * t] * vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
    acc += qv[2u * t + 1u] * vec4<f32>(unpack2x16float(w.z), unpack2x16float(w.w));
  }
  return acc;
}
