// The epilogue of every convolution kernel, applied to each output's sum in this order:
//   y = activation(sum + bias) · out_scale + res_scale · residual
// The kernel declares the uniform `p` (with alpha, out_scale, res_scale, slopes) and the storage buffers
// `bias` (O), `slope` (1 or O prelu slopes; any buffer unless ACT is prelu) and `residual` (the output's
// shape; any buffer unless HAS_RESIDUAL). src/kernels/conv_kernels.ts (epilogueArgs) fills them all.
//! import "lib/activation.wgsl"

override ACT: u32 = 0u;              // CONV_ACTIVATIONS in src/kernels/conv_kernels.ts
override HAS_RESIDUAL: bool = false;

// Output channel oc's value, stored at y[at].
fn finish(acc: f32, oc: u32, at: u32) -> f32 {
  var v = acc + bias[oc];
  switch ACT {
    case 1u: { v = max(v, 0.0); }
    case 2u: { v = leaky_relu(v, p.alpha); }
    case 3u: { v = v * stable_sigmoid(v); }
    case 4u: { v = gelu_erf(v); }
    case 5u: { v = gelu_tanh(v); }
    case 6u: { v = stable_tanh(v); }
    case 7u: { v = stable_sigmoid(v); }
    case 8u: { v = leaky_relu(v, slope[min(oc, p.slopes - 1u)]); }   // prelu
    default: {}
  }
  v = v * p.out_scale;
  if (HAS_RESIDUAL) {
    v = v + p.res_scale * residual[at];
  }
  return v;
}
