// Base vectors stored as int8 codes (src/data/codecs/int8.ts), sixteen per vec4<u32>: one load
// brings sixteen dimensions (a quarter of f32's loads), unpack4x8snorm turns four codes into
// c / 127. The query `qv` is already in code space (qt = (q - o) * a for l2, q * a otherwise) with
// its constant in the last vec4 (.x), so the row loop is one multiply-add per dimension.
// A row: (D4 - 1) / 4 code groups, then one group whose .x holds the bits of |a * c / 127|^2.
// Concatenated after a kernel that declares D4 and the private query `qv`, and after the
// harness's `base_at(i) -> vec4<u32>` (src/search/base-binding.ts).

const I8_GROUPS: u32 = (D4 - 1u) / 4u;

// <qt, c / 127> of the row starting at group o, as four partial sums.
fn int8_dot(o: u32) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  for (var t = 0u; t < I8_GROUPS; t++) {
    let w = base_at(o + t);
    acc += qv[4u * t] * unpack4x8snorm(w.x);
    acc += qv[4u * t + 1u] * unpack4x8snorm(w.y);
    acc += qv[4u * t + 2u] * unpack4x8snorm(w.z);
    acc += qv[4u * t + 3u] * unpack4x8snorm(w.w);
  }
  return acc;
}

fn l2_partial(row: u32) -> vec4<f32> {
  let o = row * (I8_GROUPS + 1u);
  let norm = bitcast<f32>(base_at(o + I8_GROUPS).x);
  return vec4<f32>(qv[D4 - 1u].x + norm, 0.0, 0.0, 0.0) - 2.0 * int8_dot(o);
}

fn dot_partial(row: u32) -> vec4<f32> {
  let o = row * (I8_GROUPS + 1u);
  return int8_dot(o) + vec4<f32>(qv[D4 - 1u].x, 0.0, 0.0, 0.0);
}
