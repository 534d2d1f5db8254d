// Between the passes of a rerank whose f32 rows need more bindings than one refine kernel has
// (src/search/base-binding.ts rowWindows): each pass binds a window of the row chunks and scores
// only the rows [lo, hi) it holds whole. This kernel keeps the finished pass's scored candidates
// (merge = 1; merge = 0 starts every result at +inf / -1) and gives the next pass its candidates:
// those in its rows, every other one as NONE, which the refine kernel scores +inf / -1.
// The host's, not a variant's: the refine kernel it drives is unchanged.

override WG: u32 = 64;

struct Params {
  total: u32, // queries x candidates
  lo: u32,    // the next pass's rows [lo, hi); lo = hi = 0 after the last
  hi: u32,
  merge: u32,
}

const NONE: u32 = 0xffffffffu;
const FAR: f32 = 3.0e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> cand: array<u32>;
@group(0) @binding(2) var<storage, read> pass_dist: array<f32>;
@group(0) @binding(3) var<storage, read> pass_ids: array<i32>;
@group(0) @binding(4) var<storage, read_write> pass_cand: array<u32>;
@group(0) @binding(5) var<storage, read_write> dist: array<f32>;
@group(0) @binding(6) var<storage, read_write> ids: array<i32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= params.total) { return; }
  if (params.merge == 0u) {
    dist[t] = FAR;
    ids[t] = -1;
  } else if (pass_ids[t] >= 0) {
    dist[t] = pass_dist[t];
    ids[t] = pass_ids[t];
  }
  let c = cand[t];
  pass_cand[t] = select(NONE, c, c >= params.lo && c < params.hi);
}
