// The activations kernels apply to their results, in f32, and `activation`, which picks one by its code in
// UNARY_OPS (src/kernels/elementwise.ts): the one table of codes the unary and matmul kernels share.

// erf with |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26), enough for exact-mode GELU in f32.
fn erf_approx(v: f32) -> f32 {
  let a = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(v) * (1.0 - poly * exp(-a * a));
}

// tanh from exp, clamped so exp never overflows (WGSL's tanh is imprecise or NaN for large |v| on some drivers).
fn stable_tanh(v: f32) -> f32 {
  let e = exp(2.0 * clamp(v, -15.0, 15.0));
  return (e - 1.0) / (e + 1.0);
}

// exp of −|v| only, so it never overflows; no branch, which vectorizing CPU drivers prefer.
fn stable_sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
}

fn leaky_relu(v: f32, slope: f32) -> f32 {
  return select(v * slope, v, v >= 0.0);
}

// GELU with erf, F.gelu(approximate='none').
fn gelu_erf(v: f32) -> f32 {
  return 0.5 * v * (1.0 + erf_approx(v * 0.7071067811865476));
}

// GELU's tanh approximation, F.gelu(approximate='tanh'); 0.797… is √(2/π).
fn gelu_tanh(v: f32) -> f32 {
  return 0.5 * v * (1.0 + stable_tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
}

// UNARY_OPS codes 0 to 6; any other code leaves v as it is.
fn activation(code: u32, v: f32, slope: f32) -> f32 {
  switch code {
    case 0u: { return max(v, 0.0); }               // relu
    case 1u: { return leaky_relu(v, slope); }      // leakyRelu
    case 2u: { return v * stable_sigmoid(v); }     // silu
    case 3u: { return gelu_erf(v); }               // gelu
    case 4u: { return gelu_tanh(v); }              // geluTanh
    case 5u: { return stable_tanh(v); }            // tanh
    case 6u: { return stable_sigmoid(v); }         // sigmoid
    default: { return v; }
  }
}
