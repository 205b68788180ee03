// Small diffusers building blocks.
//   geglu:              GEGLU after its projection, x (rows, 2H) -> hidden · gelu(gate) (rows, H)
//   timestep_embedding: get_timestep_embedding, t (T) -> (T, dim) of [sin, cos] (or [cos, sin]) of t · freq
//! import "lib/grid.wgsl"
//! import "lib/activation.wgsl"

override WORKGROUP: u32 = 64u;
override APPROX: bool = false;   // geglu: GELU's tanh approximation instead of erf

struct GegluParams {
  n: u32,        // outputs: rows · H
  h: u32,
}

struct EmbeddingParams {
  steps: u32,          // T
  dim: u32,
  half: u32,           // dim / 2 frequencies
  flip: u32,           // 1: [cos, sin]
  int_steps: u32,      // 1: timesteps are i32
  scale: f32,
  // exp(−ln(max_period) · i / (half − shift)) rounded to f32 on the CPU as torch does; the GPU's exp is not
  // exact enough once multiplied by t ≈ 1000.
  freqs: array<vec4<f32>, 256>,
}

@group(0) @binding(0) var<uniform> geglu_params: GegluParams;
@group(0) @binding(1) var<uniform> emb_params: EmbeddingParams;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> steps: array<u32>;   // f32 or i32 bits
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn gelu(v: f32) -> f32 {
  if (APPROX) {
    return gelu_tanh(v);
  }
  return gelu_erf(v);
}

@compute @workgroup_size(WORKGROUP)
fn geglu(grid: Grid, @builtin(local_invocation_id) lid: vec3<u32>) {
  let base = invocation_index(grid, lid.x, WORKGROUP) * 4u;
  let h = geglu_params.h;
  for (var c = 0u; c < 4u; c++) {
    let o = base + c;
    if (o >= geglu_params.n) {
      return;
    }
    let row = o / h;
    let at = row * 2u * h + (o - row * h);
    y[o] = x[at] * gelu(x[at + h]);
  }
}

// sin and cos of an f32 argument, accurate to a few ulp for |a| up to 8192 (cephes' sinf/cosf): the
// builtins are only specified to 2^-11 absolute, and SwiftShader's are off by 1e-4 near 0. Quadrant
// j = round(a · 2/π), r = a − j·π/2 with π/2 split in three parts (the first two short enough that j · part
// is exact), then minimax polynomials on [−π/4, π/4].
fn sin_cos(a: f32) -> vec2<f32> {
  let j = round(a * 0.6366197723675814);
  let r = ((a - j * 1.5703125) - j * 4.837512969970703125e-4) - j * 7.54978995489188216e-8;
  let z = r * r;
  let s = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
  let c = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
  switch (i32(j) & 3) {
    case 0: { return vec2<f32>(s, c); }
    case 1: { return vec2<f32>(c, -s); }
    case 2: { return vec2<f32>(-s, -c); }
    default: { return vec2<f32>(-c, s); }
  }
}

@compute @workgroup_size(WORKGROUP)
fn timestep_embedding(grid: Grid, @builtin(local_invocation_id) lid: vec3<u32>) {
  let p = emb_params;
  let o = invocation_index(grid, lid.x, WORKGROUP);
  if (o >= p.steps * p.dim) {
    return;
  }
  let t = o / p.dim;
  let col = o - t * p.dim;
  if (col >= 2u * p.half) {
    y[o] = 0.0;   // odd dim: one zero column of padding
    return;
  }
  let i = col % p.half;
  let bits = steps[t];
  let step = select(bitcast<f32>(bits), f32(bitcast<i32>(bits)), p.int_steps != 0u);
  var arg = step * p.freqs[i / 4u][i % 4u];
  if (p.scale != 1.0) {
    arg *= p.scale;  // diffusers scales after the product; rounding in the same order matches torch
  }
  let sc = sin_cos(arg);
  let first = col < p.half;   // the first half holds sin, or cos when flipped
  y[o] = select(select(sc.x, sc.y, p.flip != 0u), select(sc.y, sc.x, p.flip != 0u), !first);
}
