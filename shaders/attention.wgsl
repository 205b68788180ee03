// Flash attention: out = softmax(scale · q kᵀ + mask) v, with an online softmax in f32, so the (Lq, Lk)
// score matrix never exists. q (B, H, Lq, D), k (B, H, Lk, D), v (B, H, Lk, Dv), out (B, H, Lq, Dv) are each
// read through (b, h, row) strides with the head dim contiguous, so [B, L, H·D] projections are read in place
// and the output can be written straight into [B, L, H·Dv].
// Each invocation owns ROWS query rows (rows `block + r·WORKGROUP + lid`) and keeps them, their running max,
// sum and output accumulator in registers. Keys are consumed four at a time (one vec4 of scores per row).
//   STAGED:  K and V tiles of TILE_KEYS keys go through workgroup memory (real GPUs);
//   !STAGED: every invocation reads K and V from storage, no barriers (CPU adapters, where caches stage).
// Head dims, the mask kind and causality are uniforms rather than overrides: unrolling per head dim made no
// difference at run time on lavapipe but cost seconds of LLVM compile per pipeline, and one pipeline per
// variant keeps model loading short.
// Tensors are stored as `elem`: f32, or f16 in the f16 variant (shader-f16), where the tiles, the softmax and
// the accumulation stay f32, so only the inputs and the final rounding differ from the f32 kernel.

//! import "lib/grid.wgsl"
//! import "lib/attention.wgsl"

alias elem = f32;           //! elem
alias elem4 = vec4<f32>;    //! elem

override STAGED: bool = true;

const TILE_VEC4S: u32 = 512u;     // 8 KiB each for the K and V tiles

var<workgroup> k_tile: array<vec4<f32>, TILE_VEC4S>;   // (TILE_KEYS, D4)
var<workgroup> v_tile: array<vec4<f32>, TILE_VEC4S>;   // (TILE_KEYS, DV4)

// vec4 `e` of key j's K row (j < lk), from the tile or from storage.
fn key(k_base: u32, t0: u32, j: u32, e: u32, D4: u32) -> vec4<f32> {
  if (STAGED) {
    return k_tile[(j - t0) * D4 + e];
  }
  return load_k(k_base + j * params.k_str.z + e * 4u, e * 4u, params.d);
}

fn value(v_base: u32, t0: u32, j: u32, e: u32, DV4: u32) -> vec4<f32> {
  if (STAGED) {
    return v_tile[(j - t0) * DV4 + e];
  }
  return load_v(v_base + j * params.v_str.z + e * 4u, e * 4u, params.dv);
}

@compute @workgroup_size(WORKGROUP)
fn main(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let wg = workgroup_index(grid);
  if (wg >= params.units) {
    return;  // whole workgroups only, so barriers stay in uniform control flow
  }
  let D4 = (params.d + 3u) / 4u;     // vec4s per q/k row
  let DV4 = (params.dv + 3u) / 4u;
  let TILE_KEYS = TILE_VEC4S / max(D4, DV4) / 4u * 4u;
  let blk = block_of(wg);
  let lq = params.lq;
  let lk = params.lk;
  let k_base = blk.k_base;
  let v_base = blk.v_base;

  var rows: array<u32, MAX_ROWS>;
  var qr: array<array<vec4<f32>, MAX_D4>, MAX_ROWS>;   // (ROWS, D4), pre-scaled
  var acc: array<array<vec4<f32>, MAX_D4>, MAX_ROWS>;  // (ROWS, DV4)
  var row_max: array<f32, MAX_ROWS>;
  var row_sum: array<f32, MAX_ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    // Rows past lq compute on a copy of the last row and are not written.
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
  let tile = select(k_end, TILE_KEYS, STAGED);
  for (var t0 = 0u; t0 < k_end; t0 += tile) {
    let t_end = min(t0 + tile, k_end);
    if (STAGED) {
      workgroupBarrier();  // the previous tile is consumed
      for (var i = lid; i < TILE_KEYS * D4; i += WORKGROUP) {
        let j = t0 + i / D4;
        let e = i % D4;
        k_tile[i] = select(vec4<f32>(0.0), load_k(k_base + min(j, lk - 1u) * params.k_str.z + e * 4u, e * 4u, params.d), j < t_end);
      }
      for (var i = lid; i < TILE_KEYS * DV4; i += WORKGROUP) {
        let j = t0 + i / DV4;
        let e = i % DV4;
        v_tile[i] = select(vec4<f32>(0.0), load_v(v_base + min(j, lk - 1u) * params.v_str.z + e * 4u, e * 4u, params.dv), j < t_end);
      }
      workgroupBarrier();
    }
    for (var j0 = t0; j0 < t_end; j0 += 4u) {
      // Keys past t_end are clamped to a real one for loading and blocked by fold.
      let js = min(vec4<u32>(j0, j0 + 1u, j0 + 2u, j0 + 3u), vec4<u32>(t_end - 1u));
      // Zeroed explicitly: declared without an initializer, this var kept the previous iteration's values on
      // lavapipe (WGSL says each iteration gets a fresh zeroed var).
      var s = array<vec4<f32>, MAX_ROWS>();
      for (var e = 0u; e < D4; e++) {
        let k0 = key(k_base, t0, js.x, e, D4);
        let k1 = key(k_base, t0, js.y, e, D4);
        let k2 = key(k_base, t0, js.z, e, D4);
        let k3 = key(k_base, t0, js.w, e, D4);
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
        let v0 = value(v_base, t0, js.x, e, DV4);
        let v1 = value(v_base, t0, js.y, e, DV4);
        let v2 = value(v_base, t0, js.z, e, DV4);
        let v3 = value(v_base, t0, js.w, e, DV4);
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
