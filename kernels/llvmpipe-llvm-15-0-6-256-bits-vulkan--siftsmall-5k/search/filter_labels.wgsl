// The filter predicate of the beam search, concatenated after beam_search.wgsl when a search is
// filtered (FILTER != 0): does base row `id` pass the filter of the query this invocation serves
// (cur_q, offset by params.q_base: the filter table covers the whole call, a dispatch a slice)?
// Lazy: evaluated only on rows the search reaches, never over the whole base.

// Labels: n + 1 offsets (absolute indices into this array), then each row's label ids, ascending.
@group(0) @binding(8) var<storage, read> labels: array<u32>;
// Per query 4 words: kind (0 unfiltered, 1 any-of, 2 all-of, 3 bitmap), payload offset, payload
// length, 0; then the payloads: label ids ascending, or ceil(n / 32) bitmap words.
@group(0) @binding(9) var<storage, read> filters: array<u32>;

fn passes(id: u32) -> bool {
  let h = (params.q_base + cur_q) * 4u;
  let kind = filters[h];
  let off = filters[h + 1u];
  let cnt = filters[h + 2u];
  if (kind == 0u) { return true; }
  if (kind == 3u) { return ((filters[off + (id >> 5u)] >> (id & 31u)) & 1u) != 0u; }
  // Both lists ascend: one merge walk. any-of: the first common label passes; all-of: every query
  // label must be met before the row's labels run out.
  var a = labels[id];
  let a_end = labels[id + 1u];
  var b = 0u;
  while (a < a_end && b < cnt) {
    let x = labels[a];
    let y = filters[off + b];
    if (x == y) {
      if (kind == 1u) { return true; }
      a++;
      b++;
    } else if (x < y) {
      a++;
    } else {
      if (kind == 2u) { return false; }
      b++;
    }
  }
  return kind == 2u && b == cnt;
}
