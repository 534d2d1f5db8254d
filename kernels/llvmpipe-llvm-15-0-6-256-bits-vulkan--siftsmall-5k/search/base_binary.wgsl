// Base vectors stored as one bit per rotated dimension (src/data/codecs/binary.ts, RaBitQ): one
// load brings 128 dimensions. The query `qv` is rotated on the host (qt = R (q - c) for l2, R q
// otherwise); its last vec4 holds [query constant, sum of qt, 0, 0]. A row: (D4 - 1) / 32 bit
// groups, then one group [bits of |r|^2, bits of f]. The estimate of <r, y> is
// f * (2 * (sum of qt over the set bits) - sum of qt); the rerank makes the results exact.
// Concatenated after a kernel that declares D4 and the private query `qv`, and after the
// harness's `base_at(i) -> vec4<u32>` (src/search/base-binding.ts).

const BIN_GROUPS: u32 = (D4 - 1u) / 32u;
const NIBBLE = vec4<u32>(1u, 2u, 4u, 8u);

// Sum of qt over the set bits of one 32-bit word whose dimensions start at qv[base4].
fn binary_word(word: u32, base4: u32) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  for (var k = 0u; k < 8u; k++) {
    let m = (vec4<u32>(word >> (4u * k)) & NIBBLE) != vec4<u32>(0u);
    acc += select(vec4<f32>(0.0), qv[base4 + k], m);
  }
  return acc;
}

// f * <sign(u), qt>: the estimate of <r, y>, as four partial sums.
fn binary_rq(o: u32) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  for (var t = 0u; t < BIN_GROUPS; t++) {
    let w = base_at(o + t);
    acc += binary_word(w.x, 32u * t) + binary_word(w.y, 32u * t + 8u) + binary_word(w.z, 32u * t + 16u) + binary_word(w.w, 32u * t + 24u);
  }
  let e = base_at(o + BIN_GROUPS);
  let f = bitcast<f32>(e.y);
  return f * (2.0 * acc - vec4<f32>(qv[D4 - 1u].y, 0.0, 0.0, 0.0));
}

fn l2_partial(row: u32) -> vec4<f32> {
  let o = row * (BIN_GROUPS + 1u);
  let norm2 = bitcast<f32>(base_at(o + BIN_GROUPS).x);
  return vec4<f32>(norm2 + qv[D4 - 1u].x, 0.0, 0.0, 0.0) - 2.0 * binary_rq(o);
}

fn dot_partial(row: u32) -> vec4<f32> {
  let o = row * (BIN_GROUPS + 1u);
  return binary_rq(o) + vec4<f32>(qv[D4 - 1u].x, 0.0, 0.0, 0.0);
}
