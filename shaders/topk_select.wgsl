// Top-K selection: each invocation reduces one segment of one row to its K smallest
// (distance, id) pairs, sorted ascending (ties: smaller id first). Applied repeatedly, it reduces whole rows:
// pass 1 reads a distance matrix (ids implicit: id_base + column), later passes read the
// (distance, id) lists earlier passes wrote.

// Array lengths must be compile-time constants: the host rewrites this line per K.
const K: u32 = 16u;
override WG: u32 = 64;

struct Params {
  rows: u32,          // rows in this pass
  len: u32,           // valid entries per row
  seg_len: u32,       // entries per segment
  segs: u32,          // segments per row = ceil(len / seg_len)
  in_stride: u32,     // input row stride (entries)
  out_stride: u32,    // output row stride (entries)
  out_offset: u32,    // output column where this pass writes (entries)
  id_base: u32,       // added to column ids in implicit mode
  explicit_ids: u32,  // 0: id = id_base + column; 1: read ids_in
  _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dist_in: array<f32>;
@group(0) @binding(2) var<storage, read> ids_in: array<i32>;
@group(0) @binding(3) var<storage, read_write> dist_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> ids_out: array<i32>;

const FAR: f32 = 3.0e38;
// Long lists keep a heap, short ones a sorted array (measured crossover on llvmpipe: K = 32..64).
const HEAP: bool = K >= 64u;

fn worse(d1: f32, i1: i32, d2: f32, i2: i32) -> bool {
  return d1 > d2 || (d1 == d2 && i1 > i2);
}

// Places (d, id) at the root of the heap of `size` entries and sifts it down.
fn sift_down(bd: ptr<function, array<f32, K>>, bi: ptr<function, array<i32, K>>, d: f32, id: i32, size: u32) {
  var p = 0u;
  loop {
    var c = 2u * p + 1u;
    if (c >= size) { break; }
    if (c + 1u < size && worse((*bd)[c + 1u], (*bi)[c + 1u], (*bd)[c], (*bi)[c])) { c++; }
    if (!worse((*bd)[c], (*bi)[c], d, id)) { break; }
    (*bd)[p] = (*bd)[c];
    (*bi)[p] = (*bi)[c];
    p = c;
  }
  (*bd)[p] = d;
  (*bi)[p] = id;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
  let task = gid.x + gid.y * ng.x * WG;
  if (task >= params.rows * params.segs) { return; }
  let row = task / params.segs;
  let seg = task % params.segs;
  let start = seg * params.seg_len;
  let end = min(start + params.seg_len, params.len);

  var bd: array<f32, K>;
  var bi: array<i32, K>;
  for (var j = 0u; j < K; j++) { bd[j] = FAR; bi[j] = -1; }
  let ib = row * params.in_stride;

  if (HEAP) {
    // A max-heap on (distance, id): the root is the worst kept entry, so each accepted entry
    // costs log2(K) steps instead of the O(K) shifts of a sorted insert.
    for (var c = start; c < end; c++) {
      let d = dist_in[ib + c];
      // The full (distance, id) order: explicit ids (refinement, later passes) arrive in any order.
      if (d <= bd[0]) {
        var id = i32(params.id_base + c);
        if (params.explicit_ids != 0u) { id = ids_in[ib + c]; }
        if (worse(bd[0], bi[0], d, id)) { sift_down(&bd, &bi, d, id, K); }
      }
    }
    // Heap sort in place: ascending (distance, id).
    for (var size = K - 1u; size > 0u; size--) {
      let d = bd[size];
      let id = bi[size];
      bd[size] = bd[0];
      bi[size] = bi[0];
      sift_down(&bd, &bi, d, id, size);
    }
  } else {
    // Short lists: a sorted insert is cheaper than heap upkeep.
    for (var c = start; c < end; c++) {
      let d = dist_in[ib + c];
      if (d <= bd[K - 1u]) {
        var id = i32(params.id_base + c);
        if (params.explicit_ids != 0u) { id = ids_in[ib + c]; }
        if (!worse(bd[K - 1u], bi[K - 1u], d, id)) { continue; }
        var p = K - 1u;
        while (p > 0u && worse(bd[p - 1u], bi[p - 1u], d, id)) {
          bd[p] = bd[p - 1u];
          bi[p] = bi[p - 1u];
          p--;
        }
        bd[p] = d;
        bi[p] = id;
      }
    }
  }
  let ob = row * params.out_stride + params.out_offset + seg * K;
  for (var j = 0u; j < K; j++) {
    dist_out[ob + j] = bd[j];
    ids_out[ob + j] = bi[j];
  }
}
