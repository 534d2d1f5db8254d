// Base vectors stored as f32, rows padded to D4 vec4s. Concatenated after a kernel that declares D4.
@group(0) @binding(2) var<storage, read> base: array<vec4<f32>>;

fn base_vec4(row: u32, t: u32) -> vec4<f32> {
  return base[row * D4 + t];
}
