// Flash attention, subgroup variant (needs the 'subgroups' feature): the same computation and layout as
// attention.wgsl (read that first), but K and V are shared through registers instead of workgroup memory:
// for each tile of as many keys as the subgroup has lanes, lane l loads key t0 + l's K and V rows (coalesced)
// and every lane then takes each key's rows from its owner with subgroupShuffle. No barriers, no workgroup
// memory. Control flow around the shuffles is uniform: every lane runs the same key loop, including lanes
// whose query rows are past Lq.
enable subgroups;
//! import "lib/grid.wgsl"
//! import "lib/attention.wgsl"

alias elem = f32;           //! elem
alias elem4 = vec4<f32>;    //! elem

@compute @workgroup_size(WORKGROUP)
fn main(grid: Grid, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32,
        @builtin(subgroup_size) sg_size: u32) {
  let wg = workgroup_index(grid);
  if (wg >= params.units) {
    return;
  }
  let blk = block_of(wg);
  let lq = params.lq;
  let lk = params.lk;
  // A subgroup wider than the workgroup has lanes that do not exist.
  let tile = min(sg_size, WORKGROUP);
  let D4 = (params.d + 3u) / 4u;
  let DV4 = (params.dv + 3u) / 4u;

  var rows: array<u32, MAX_ROWS>;
  var qr: array<array<vec4<f32>, MAX_D4>, MAX_ROWS>;   // (ROWS, D4), pre-scaled
  var acc: array<array<vec4<f32>, MAX_D4>, MAX_ROWS>;  // (ROWS, DV4)
  var row_max: array<f32, MAX_ROWS>;
  var row_sum: array<f32, MAX_ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    rows[r] = blk.first + r * WORKGROUP + lid;
    for (var e = 0u; e < D4; e++) {
      qr[r][e] = load_q(blk, min(rows[r], lq - 1u), e);
    }
    for (var e = 0u; e < DV4; e++) {
      acc[r][e] = vec4<f32>(0.0);
    }
    row_max[r] = NEG;
    row_sum[r] = 0.0;
  }

  let k_end = key_end(blk);
  var kl: array<vec4<f32>, MAX_D4>;   // this lane's key row of the tile
  var vl: array<vec4<f32>, MAX_D4>;
  for (var t0 = 0u; t0 < k_end; t0 += tile) {
    let t_end = min(t0 + tile, k_end);
    let mine = min(t0 + lane, lk - 1u);
    for (var e = 0u; e < D4; e++) {
      kl[e] = load_k(blk.k_base + mine * params.k_str.z + e * 4u, e * 4u, params.d);
    }
    for (var e = 0u; e < DV4; e++) {
      vl[e] = load_v(blk.v_base + mine * params.v_str.z + e * 4u, e * 4u, params.dv);
    }
    for (var j0 = t0; j0 < t_end; j0 += 4u) {
      let js = min(vec4<u32>(j0, j0 + 1u, j0 + 2u, j0 + 3u), vec4<u32>(t_end - 1u));
      let src = js - vec4<u32>(t0);   // owning lanes
      var s = array<vec4<f32>, MAX_ROWS>();
      for (var e = 0u; e < D4; e++) {
        let k0 = subgroupShuffle(kl[e], src.x);
        let k1 = subgroupShuffle(kl[e], src.y);
        let k2 = subgroupShuffle(kl[e], src.z);
        let k3 = subgroupShuffle(kl[e], src.w);
        for (var r = 0u; r < ROWS; r++) {
          let x = qr[r][e];
          s[r] += vec4<f32>(dot(x, k0), dot(x, k1), dot(x, k2), dot(x, k3));
        }
      }
      var p: array<vec4<f32>, MAX_ROWS>;
      var corr: array<f32, MAX_ROWS>;
      for (var r = 0u; r < ROWS; r++) {
        let f = fold(s[r], rows[r], j0, js, t_end, blk, row_max[r], row_sum[r]);
        p[r] = f.p;
        corr[r] = f.corr;
        row_max[r] = f.max;
        row_sum[r] = f.sum;
      }
      for (var e = 0u; e < DV4; e++) {
        let v0 = subgroupShuffle(vl[e], src.x);
        let v1 = subgroupShuffle(vl[e], src.y);
        let v2 = subgroupShuffle(vl[e], src.z);
        let v3 = subgroupShuffle(vl[e], src.w);
        for (var r = 0u; r < ROWS; r++) {
          let pr = p[r];
          acc[r][e] = acc[r][e] * corr[r] + pr.x * v0 + pr.y * v1 + pr.z * v2 + pr.w * v3;
        }
      }
    }
  }

  for (var r = 0u; r < ROWS; r++) {
    if (rows[r] < lq) {
      for (var e = 0u; e < DV4; e++) {
        store_out(blk, rows[r], e, acc[r][e], row_sum[r]);
      }
    }
  }
}
