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

override WORKGROUP: u32 = 64u;
override ROWS: u32 = 2u;          // query rows per invocation, <= MAX_ROWS
override STAGED: bool = true;

const MAX_ROWS: u32 = 8u;
const MAX_D4: u32 = 32u;          // head dims up to 128 (MAX_HEAD_DIM in src/kernels/attention.ts)
const TILE_VEC4S: u32 = 512u;     // 8 KiB each for the K and V tiles
const NEG: f32 = -3.4028234e38;   // below every finite score; the running max starts here

struct Params {
  lq: u32,
  lk: u32,
  d: u32,
  dv: u32,
  heads: u32,             // H, to split the (b, h) index
  blocks: u32,            // query blocks of ROWS·WORKGROUP rows per (b, h)
  units: u32,             // B · H · blocks: workgroups that do work
  scale: f32,
  mask_kind: u32,         // 0 none, 1 additive f32, 2 bool from i32 (nonzero attends), 3 bool from f32
  causal: u32,            // 1: key j is visible to query i iff j <= i (top-left aligned, like torch)
  vec: u32,               // 1: k and v read as vec4 (D, Dv, k/v strides and offsets are multiples of 4)
  q_str: vec4<u32>,       // (b, h, row, offset) in elements; the head dim has stride 1
  k_str: vec4<u32>,
  v_str: vec4<u32>,
  o_str: vec4<u32>,
  mask_str: vec4<u32>,    // (b, h, query, key); 0 where the mask broadcasts
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> k4: array<vec4<f32>>;   // the buffer of k again, for vec4 loads
@group(0) @binding(5) var<storage, read> v4: array<vec4<f32>>;   // the buffer of v again
@group(0) @binding(6) var<storage, read> mask: array<u32>;       // any buffer when mask_kind == 0
@group(0) @binding(7) var<storage, read_write> out: array<f32>;

var<workgroup> k_tile: array<vec4<f32>, TILE_VEC4S>;   // (TILE_KEYS, D4)
var<workgroup> v_tile: array<vec4<f32>, TILE_VEC4S>;   // (TILE_KEYS, DV4)

// Four consecutive elements of a row starting at `at`, zero past `len` (the row's end).
fn load_k(at: u32, i: u32, len: u32) -> vec4<f32> {
  if (params.vec != 0u) {
    return k4[at / 4u];
  }
  var r = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (i + c < len) {
      r[c] = k[at + c];
    }
  }
  return r;
}

fn load_v(at: u32, i: u32, len: u32) -> vec4<f32> {
  if (params.vec != 0u) {
    return v4[at / 4u];
  }
  var r = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (i + c < len) {
      r[c] = v[at + c];
    }
  }
  return r;
}

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
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let wg = wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y;
  if (wg >= params.units) {
    return;  // whole workgroups only, so barriers stay in uniform control flow
  }
  let D4 = (params.d + 3u) / 4u;     // vec4s per q/k row
  let DV4 = (params.dv + 3u) / 4u;
  let TILE_KEYS = TILE_VEC4S / max(D4, DV4) / 4u * 4u;
  let bh = wg / params.blocks;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let first = (wg % params.blocks) * ROWS * WORKGROUP;
  let lq = params.lq;
  let lk = params.lk;
  let k_base = b * params.k_str.x + h * params.k_str.y + params.k_str.w;
  let v_base = b * params.v_str.x + h * params.v_str.y + params.v_str.w;
  let m_base = b * params.mask_str.x + h * params.mask_str.y;

  var rows: array<u32, MAX_ROWS>;
  var qr: array<array<vec4<f32>, MAX_D4>, MAX_ROWS>;   // (ROWS, D4), pre-scaled
  var acc: array<array<vec4<f32>, MAX_D4>, MAX_ROWS>;  // (ROWS, DV4)
  var row_max: array<f32, MAX_ROWS>;
  var row_sum: array<f32, MAX_ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    // Rows past lq compute on a copy of the last row and are not written.
    rows[r] = first + r * WORKGROUP + lid;
    let qi = min(rows[r], lq - 1u);
    let q_base = b * params.q_str.x + h * params.q_str.y + qi * params.q_str.z + params.q_str.w;
    for (var e = 0u; e < D4; e++) {
      var x = vec4<f32>(0.0);
      for (var c = 0u; c < 4u; c++) {
        if (e * 4u + c < params.d) {
          x[c] = q[q_base + e * 4u + c];
        }
      }
      qr[r][e] = x * params.scale;
    }
    for (var e = 0u; e < DV4; e++) {
      acc[r][e] = vec4<f32>(0.0);
    }
    row_max[r] = NEG;
    row_sum[r] = 0.0;
  }

  // A causal block sees no key past its last row.
  var k_end = lk;
  if (params.causal != 0u) {
    k_end = min(lk, min(first + ROWS * WORKGROUP, lq));
  }
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
      // Keys past t_end are clamped to a real one for loading and blocked below.
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
        var sr = s[r];
        var ok = vec4<u32>(j0, j0 + 1u, j0 + 2u, j0 + 3u) < vec4<u32>(t_end);
        if (params.causal != 0u) {
          ok = ok & (js <= vec4<u32>(rows[r]));
        }
        if (params.mask_kind != 0u) {
          let mrow = m_base + min(rows[r], lq - 1u) * params.mask_str.z;
          let bits = vec4<u32>(mask[mrow + js.x * params.mask_str.w], mask[mrow + js.y * params.mask_str.w],
                               mask[mrow + js.z * params.mask_str.w], mask[mrow + js.w * params.mask_str.w]);
          if (params.mask_kind == 1u) {
            sr += bitcast<vec4<f32>>(bits);
            ok = ok & (sr >= vec4<f32>(NEG));  // −inf (and NaN) block the key
          } else if (params.mask_kind == 2u) {
            ok = ok & (bits != vec4<u32>(0u));
          } else {
            ok = ok & ((bits & vec4<u32>(0x7fffffffu)) != vec4<u32>(0u));
          }
        }
        let live = select(vec4<f32>(NEG), sr, ok);
        let m_new = max(row_max[r], max(max(live.x, live.y), max(live.z, live.w)));
        p[r] = select(vec4<f32>(0.0), exp(sr - m_new), ok);
        corr[r] = exp(row_max[r] - m_new);
        row_sum[r] = row_sum[r] * corr[r] + (p[r].x + p[r].y + p[r].z + p[r].w);
        row_max[r] = m_new;
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
    if (rows[r] >= lq) {
      continue;
    }
    // A row with every key masked has sum 0: zeros, where torch gives NaN.
    let inv = select(0.0, 1.0 / row_sum[r], row_sum[r] > 0.0);
    let o_base = b * params.o_str.x + h * params.o_str.y + rows[r] * params.o_str.z + params.o_str.w;
    for (var e = 0u; e < DV4; e++) {
      let y = acc[r][e] * inv;
      for (var c = 0u; c < 4u; c++) {
        if (e * 4u + c < params.dv) {
          out[o_base + e * 4u + c] = y[c];
        }
      }
    }
  }
}
