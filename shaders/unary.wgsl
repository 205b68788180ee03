// y = f(x) elementwise, 4 consecutive elements per invocation. OP picks f at pipeline creation.
// (N) -> (N)
//! import "lib/grid.wgsl"
//! import "lib/activation.wgsl"

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

fn apply(v: f32) -> f32 {
  switch OP {
    case 7u: { return min(max(v, params.alpha), params.beta); }    // clamp
    case 8u: { return v * params.alpha; }                          // scale
    case 9u: { return v + params.alpha; }                          // add scalar
    case 10u: { return params.alpha - v; }                         // scalar - x
    case 11u: { return params.alpha / v; }                         // scalar / x
    case 13u: { return exp(v); }                                   // exp
    default: { return activation(OP, v, params.alpha); }           // relu … sigmoid; copy (12) is the identity
  }
}

@compute @workgroup_size(WORKGROUP)
fn main(grid: Grid, @builtin(local_invocation_id) lid: vec3<u32>) {
  let base = invocation_index(grid, lid.x, WORKGROUP) * 4u;
  for (var k = 0u; k < 4u; k++) {
    let i = base + k;
    if (i < params.n) {
      y[i] = apply(x[i]);
    }
  }
}
