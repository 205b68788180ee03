// One step of a diffusers sampler, elementwise over the latents (N values), for every scheduler synthe has:
//   eps  = GUIDED ? uncond + g · (cond − uncond) : model          model (N), or (2N) = [uncond; cond]
//   x0   = x0_sample · sample + x0_model · eps                    clamped to ±clip_range when CLIP
//   prev = c_sample · sample + c_model · eps + c_x0 · x0 + c_noise · noise + c_history · history
// x0 is the predicted original sample (DPM-Solver++'s data prediction); history is the previous step's x0
// (multistep solvers). The per-step scalars are computed on the CPU in f64 from the schedule; 4 consecutive
// elements per invocation.
//! import "lib/grid.wgsl"

override WORKGROUP: u32 = 64u;
override GUIDED: bool = false;   // classifier-free guidance on a doubled batch of model outputs
override CLIP: bool = false;     // clip_sample
override NOISE: bool = false;    // the step adds noise (ancestral and stochastic samplers)
override HISTORY: bool = false;  // the step uses the previous x0 (second-order multistep)

struct Params {
  n: u32,
  guidance: f32,
  clip_range: f32,
  x0_sample: f32,
  x0_model: f32,
  c_sample: f32,
  c_model: f32,
  c_x0: f32,
  c_noise: f32,
  c_history: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> sample: array<f32>;
@group(0) @binding(2) var<storage, read> model: array<f32>;
@group(0) @binding(3) var<storage, read> noise: array<f32>;
@group(0) @binding(4) var<storage, read> history: array<f32>;
@group(0) @binding(5) var<storage, read_write> prev: array<f32>;
@group(0) @binding(6) var<storage, read_write> x0: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn main(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let base = invocation_index(grid, lid, WORKGROUP) * 4u;
  let p = params;
  for (var k = 0u; k < 4u; k++) {
    let i = base + k;
    if (i >= p.n) {
      return;
    }
    let s = sample[i];
    var eps = model[i];
    if (GUIDED) {
      eps = eps + p.guidance * (model[i + p.n] - eps);
    }
    var x = p.x0_sample * s + p.x0_model * eps;
    if (CLIP) {
      x = clamp(x, -p.clip_range, p.clip_range);
    }
    var out = p.c_sample * s + p.c_model * eps + p.c_x0 * x;
    if (NOISE) {
      out += p.c_noise * noise[i];
    }
    if (HISTORY) {
      out += p.c_history * history[i];
    }
    x0[i] = x;
    prev[i] = out;
  }
}
