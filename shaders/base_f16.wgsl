// Base vectors stored as f16, two per u32 (unpack2x16float needs no shader-f16 feature and
// halves the bytes, and the loads, of every distance). Rows padded to D4 groups of four.
@group(0) @binding(2) var<storage, read> base: array<vec2<u32>>;

fn base_vec4(row: u32, t: u32) -> vec4<f32> {
  let w = base[row * D4 + t];
  return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
}
