// Normalization in two passes: statistics per segment, then an elementwise apply.
// A segment is `len` consecutive elements: one (n, group) of group norm, one (n, c) plane of instance norm,
// one row of layer norm. Statistics are Welford/Chan merges of (count, mean, M2) in f32, never E[x²] − E[x]²,
// taken on x − shift where shift is the segment's first element: with data like 1e4 + noise the running
// means stay small and exact. Each stats entry writes vec4 (shift, mean of x − shift, 1/√(var + eps), 0),
// and apply computes ((x − shift) − mean) · rstd, so the large common part cancels exactly.
//   stats_group: one workgroup per segment, WORKGROUP partial merges then a tree (long segments);
//   stats_row:   one invocation per segment, no barriers (many short segments, e.g. layer norm rows);
//   stats_running: batch norm's running statistics, per channel.
//! import "lib/grid.wgsl"
//! import "lib/activation.wgsl"

override WORKGROUP: u32 = 64u;
override AFFINE_W: bool = false;
override AFFINE_B: bool = false;
override ACT: u32 = 0u;            // 0 none, 1 SiLU
override RESIDUAL: bool = false;   // add `residual` after the activation

struct StatsParams {
  segments: u32,
  len: u32,
  eps: f32,
}

struct ApplyParams {
  n: u32,              // elements
  stat_inner: u32,     // element i uses stats[(i / stat_inner) % stat_count]
  stat_count: u32,
  aff_inner: u32,      // and weight/bias[(i / aff_inner) % aff_count]
  aff_count: u32,
}

struct RunningParams {
  channels: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> stats_params: StatsParams;
@group(0) @binding(1) var<uniform> apply_params: ApplyParams;
@group(0) @binding(2) var<uniform> running_params: RunningParams;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats_out: array<vec4<f32>>;   // (segments) or (channels)
@group(0) @binding(5) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> weight: array<f32>;    // any buffer without AFFINE_W
@group(0) @binding(7) var<storage, read> bias: array<f32>;      // any buffer without AFFINE_B
@group(0) @binding(8) var<storage, read> residual: array<f32>;  // any buffer without RESIDUAL
@group(0) @binding(9) var<storage, read_write> y: array<f32>;
@group(0) @binding(10) var<storage, read> running_mean: array<f32>;
@group(0) @binding(11) var<storage, read> running_var: array<f32>;
@group(0) @binding(12) var<storage, read> x4: array<vec4<f32>>;          // apply_vec4's views of x, residual, y
@group(0) @binding(13) var<storage, read> residual4: array<vec4<f32>>;
@group(0) @binding(14) var<storage, read_write> y4: array<vec4<f32>>;

// (count, mean, M2) of a partial; count as f32 is exact up to 2^24 elements per segment.
struct Moments {
  n: f32,
  mean: f32,
  m2: f32,
}

// Chan et al.'s parallel merge.
fn merge(a: Moments, b: Moments) -> Moments {
  let n = a.n + b.n;
  if (n == 0.0) {
    return a;
  }
  let delta = b.mean - a.mean;
  let wb = b.n / n;
  return Moments(n, a.mean + delta * wb, a.m2 + b.m2 + delta * delta * a.n * wb);
}

// Moments of the up to four elements of a segment at offsets i..i+3 (those below len), shifted.
fn quad(base: u32, i: u32, len: u32, shift: f32) -> Moments {
  var v = vec4<f32>(0.0);
  var cnt = 0.0;
  for (var c = 0u; c < 4u; c++) {
    if (i + c < len) {
      v[c] = x[base + i + c] - shift;
      cnt += 1.0;
    }
  }
  if (cnt == 0.0) {
    return Moments(0.0, 0.0, 0.0);
  }
  let mean = (v.x + v.y + v.z + v.w) / cnt;
  let live = vec4<f32>(vec4<u32>(i, i + 1u, i + 2u, i + 3u) < vec4<u32>(len));
  let d = (v - vec4<f32>(mean)) * live;
  return Moments(cnt, mean, dot(d, d));
}

fn finish(seg: u32, shift: f32, m: Moments) {
  let variance = select(0.0, m.m2 / m.n, m.n > 0.0);   // biased, as torch normalizes
  stats_out[seg] = vec4<f32>(shift, m.mean, inverseSqrt(variance + stats_params.eps), 0.0);
}

var<workgroup> part_n: array<f32, WORKGROUP>;
var<workgroup> part_mean: array<f32, WORKGROUP>;
var<workgroup> part_m2: array<f32, WORKGROUP>;

@compute @workgroup_size(WORKGROUP)
fn stats_group(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let seg = workgroup_index(grid);
  if (seg >= stats_params.segments) {
    return;
  }
  let len = stats_params.len;
  let base = seg * len;
  let shift = x[base];
  var m = Moments(0.0, 0.0, 0.0);
  for (var i = lid * 4u; i < len; i += WORKGROUP * 4u) {
    m = merge(m, quad(base, i, len, shift));
  }
  part_n[lid] = m.n;
  part_mean[lid] = m.mean;
  part_m2[lid] = m.m2;
  for (var half = WORKGROUP / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (lid < half) {
      let merged = merge(Moments(part_n[lid], part_mean[lid], part_m2[lid]),
                         Moments(part_n[lid + half], part_mean[lid + half], part_m2[lid + half]));
      part_n[lid] = merged.n;
      part_mean[lid] = merged.mean;
      part_m2[lid] = merged.m2;
    }
  }
  if (lid == 0u) {
    finish(seg, shift, Moments(part_n[0], part_mean[0], part_m2[0]));
  }
}

@compute @workgroup_size(WORKGROUP)
fn stats_row(grid: Grid, @builtin(local_invocation_id) lid: vec3<u32>) {
  let seg = invocation_index(grid, lid.x, WORKGROUP);
  if (seg >= stats_params.segments) {
    return;
  }
  let len = stats_params.len;
  let base = seg * len;
  let shift = x[base];
  var m = Moments(0.0, 0.0, 0.0);
  for (var i = 0u; i < len; i += 4u) {
    m = merge(m, quad(base, i, len, shift));
  }
  finish(seg, shift, m);
}

@compute @workgroup_size(WORKGROUP)
fn stats_running(grid: Grid, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = invocation_index(grid, lid.x, WORKGROUP);
  if (c < running_params.channels) {
    stats_out[c] = vec4<f32>(0.0, running_mean[c], inverseSqrt(running_var[c] + running_params.eps), 0.0);
  }
}

fn silu4(v: vec4<f32>) -> vec4<f32> {
  let e = exp(-abs(v));
  return v * select(e / (1.0 + e), 1.0 / (1.0 + e), v >= vec4<f32>(0.0));
}

// y = act(((x − shift) − mean) · rstd · w + b) (+ residual), four consecutive elements per invocation.
@compute @workgroup_size(WORKGROUP)
fn apply(grid: Grid, @builtin(local_invocation_id) lid: vec3<u32>) {
  let p = apply_params;
  let i0 = invocation_index(grid, lid.x, WORKGROUP) * 4u;
  if (i0 >= p.n) {
    return;
  }
  // Divide once, then step the two indices along with the element (they wrap at inner and count).
  var s_idx = (i0 / p.stat_inner) % p.stat_count;
  var s_rem = i0 % p.stat_inner;
  var a_idx = (i0 / p.aff_inner) % p.aff_count;
  var a_rem = i0 % p.aff_inner;
  for (var c = 0u; c < 4u; c++) {
    let i = i0 + c;
    if (i >= p.n) {
      return;
    }
    let st = stats[s_idx];
    var v = ((x[i] - st.x) - st.y) * st.z;
    if (AFFINE_W) {
      v *= weight[a_idx];
    }
    if (AFFINE_B) {
      v += bias[a_idx];
    }
    if (ACT == 1u) {
      v *= stable_sigmoid(v);
    }
    if (RESIDUAL) {
      v += residual[i];
    }
    y[i] = v;
    s_rem += 1u;
    if (s_rem == p.stat_inner) {
      s_rem = 0u;
      s_idx = select(s_idx + 1u, 0u, s_idx + 1u == p.stat_count);
    }
    a_rem += 1u;
    if (a_rem == p.aff_inner) {
      a_rem = 0u;
      a_idx = select(a_idx + 1u, 0u, a_idx + 1u == p.aff_count);
    }
  }
}

// apply for the common layouts, four vec4s per invocation: n, stat_inner and aff_inner are multiples of 4
// (so each vec4 shares its statistics and, unless aff_inner is 1, its weight and bias), or aff_inner is 1
// and aff_count a multiple of 4 (layer norm: four consecutive weights). Indices are divided once, then stepped.
@compute @workgroup_size(WORKGROUP)
fn apply_vec4(grid: Grid, @builtin(local_invocation_id) lid: vec3<u32>) {
  let p = apply_params;
  let q0 = invocation_index(grid, lid.x, WORKGROUP) * 4u;
  let i0 = q0 * 4u;
  if (i0 >= p.n) {
    return;
  }
  var s_idx = (i0 / p.stat_inner) % p.stat_count;
  var s_rem = i0 % p.stat_inner;
  var a_idx = (i0 / p.aff_inner) % p.aff_count;
  var a_rem = i0 % p.aff_inner;
  let per_element = p.aff_inner == 1u;
  for (var j = 0u; j < 4u; j++) {
    let q = q0 + j;
    if (q * 4u >= p.n) {
      return;
    }
    let st = stats[s_idx];
    var v = ((x4[q] - vec4<f32>(st.x)) - vec4<f32>(st.y)) * st.z;
    let a = a_idx;
    if (AFFINE_W) {
      v *= select(vec4<f32>(weight[a]), vec4<f32>(weight[a], weight[a + 1u], weight[a + 2u], weight[a + 3u]), per_element);
    }
    if (AFFINE_B) {
      v += select(vec4<f32>(bias[a]), vec4<f32>(bias[a], bias[a + 1u], bias[a + 2u], bias[a + 3u]), per_element);
    }
    if (ACT == 1u) {
      v = silu4(v);
    }
    if (RESIDUAL) {
      v += residual4[q];
    }
    y4[q] = v;
    s_rem += 4u;
    if (s_rem == p.stat_inner) {
      s_rem = 0u;
      s_idx = select(s_idx + 1u, 0u, s_idx + 1u == p.stat_count);
    }
    if (per_element) {
      a_idx = select(a_idx + 4u, 0u, a_idx + 4u == p.aff_count);
    } else {
      a_rem += 4u;
      if (a_rem == p.aff_inner) {
        a_rem = 0u;
        a_idx = select(a_idx + 1u, 0u, a_idx + 1u == p.aff_count);
      }
    }
  }
}
