// Flash attention, subgroup variant (needs the 'subgroups' feature): the same computation and layout as
// attention.wgsl (read that first), but K and V are shared through registers instead of workgroup memory:
// for each tile of as many keys as the subgroup has lanes, lane l loads key t0 + l's K and V rows (coalesced)
// and every lane then takes each key's rows from its owner with subgroupShuffle. No barriers, no workgroup
// memory. Control flow around the shuffles is uniform: every lane runs the same key loop, including lanes
// whose query rows are past Lq.
enable subgroups;

override WORKGROUP: u32 = 64u;
override ROWS: u32 = 2u;          // query rows per invocation, <= MAX_ROWS

const MAX_ROWS: u32 = 8u;
const MAX_D4: u32 = 32u;          // head dims up to 128
const NEG: f32 = -3.4028234e38;

struct Params {
  lq: u32,
  lk: u32,
  d: u32,
  dv: u32,
  heads: u32,
  blocks: u32,
  units: u32,
  scale: f32,
  mask_kind: u32,         // 0 none, 1 additive f32, 2 bool from i32, 3 bool from f32
  causal: u32,
  vec: u32,               // k and v read as vec4
  q_str: vec4<u32>,       // (b, h, row, offset) in elements
  k_str: vec4<u32>,
  v_str: vec4<u32>,
  o_str: vec4<u32>,
  mask_str: vec4<u32>,    // (b, h, query, key)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> k4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> v4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> mask: array<u32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;

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

@compute @workgroup_size(WORKGROUP)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) sg_size: u32,
) {
  let wg = wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y;
  if (wg >= params.units) {
    return;
  }
  let bh = wg / params.blocks;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let first = (wg % params.blocks) * ROWS * WORKGROUP;
  let lq = params.lq;
  let lk = params.lk;
  let k_base = b * params.k_str.x + h * params.k_str.y + params.k_str.w;
  let v_base = b * params.v_str.x + h * params.v_str.y + params.v_str.w;
  let m_base = b * params.mask_str.x + h * params.mask_str.y;
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

  var k_end = lk;
  if (params.causal != 0u) {
    k_end = min(lk, min(first + ROWS * WORKGROUP, lq));
  }
  var kl: array<vec4<f32>, MAX_D4>;   // this lane's key row of the tile
  var vl: array<vec4<f32>, MAX_D4>;
  for (var t0 = 0u; t0 < k_end; t0 += tile) {
    let t_end = min(t0 + tile, k_end);
    let mine = min(t0 + lane, lk - 1u);
    for (var e = 0u; e < D4; e++) {
      kl[e] = load_k(k_base + mine * params.k_str.z + e * 4u, e * 4u, params.d);
    }
    for (var e = 0u; e < DV4; e++) {
      vl[e] = load_v(v_base + mine * params.v_str.z + e * 4u, e * 4u, params.dv);
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
            ok = ok & (sr >= vec4<f32>(NEG));
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
    if (rows[r] >= lq) {
      continue;
    }
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
