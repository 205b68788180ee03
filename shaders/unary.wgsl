// y = f(x) elementwise, 4 consecutive elements per invocation. OP picks f at pipeline creation.
// (N) -> (N)

override OP: u32 = 0u;       // see UNARY_OPS in src/kernels/elementwise.ts
override WORKGROUP: u32 = 64u;

struct Params {
  n: u32,        // elements
  alpha: f32,    // leaky slope, scale factor, clamp min, scalar operand
  beta: f32,     // clamp max
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;

// erf with |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26), enough for exact-mode GELU in f32.
fn erf_approx(v: f32) -> f32 {
  let a = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(v) * (1.0 - poly * exp(-a * a));
}

// tanh from exp, clamped so exp never overflows (WGSL's tanh is imprecise or NaN for large |v| on some drivers).
fn stable_tanh(v: f32) -> f32 {
  let c = clamp(v, -15.0, 15.0);
  let e = exp(2.0 * c);
  return (e - 1.0) / (e + 1.0);
}

fn stable_sigmoid(v: f32) -> f32 {
  if (v >= 0.0) {
    return 1.0 / (1.0 + exp(-v));
  }
  let e = exp(v);
  return e / (1.0 + e);
}

fn apply(v: f32) -> f32 {
  switch OP {
    case 0u: { return max(v, 0.0); }                                           // relu
    case 1u: { return select(v * params.alpha, v, v >= 0.0); }                 // leakyRelu
    case 2u: { return v * stable_sigmoid(v); }                                 // silu
    case 3u: { return 0.5 * v * (1.0 + erf_approx(v * 0.7071067811865476)); }  // gelu (erf)
    case 4u: { return 0.5 * v * (1.0 + stable_tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))); } // gelu (tanh)
    case 5u: { return stable_tanh(v); }                                        // tanh
    case 6u: { return stable_sigmoid(v); }                                     // sigmoid
    case 7u: { return min(max(v, params.alpha), params.beta); }                // clamp
    case 8u: { return v * params.alpha; }                                      // scale
    case 9u: { return v + params.alpha; }                                      // add scalar
    case 10u: { return params.alpha - v; }                                     // scalar - x
    case 11u: { return params.alpha / v; }                                     // scalar / x
    case 12u: { return v; }                                                    // copy
    default: { return v; }
  }
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let thread = gid.x + gid.y * nwg.x * WORKGROUP + gid.z * nwg.x * nwg.y * WORKGROUP;
  let base = thread * 4u;
  for (var k = 0u; k < 4u; k++) {
    let i = base + k;
    if (i < params.n) {
      y[i] = apply(x[i]);
    }
  }
}
