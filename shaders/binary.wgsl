// out = a (op) b with NumPy/PyTorch broadcasting up to rank 8, 4 consecutive outputs per invocation.
// Broadcast dims have stride 0; when both operands already have the output's shape, BROADCAST is off and
// no index arithmetic runs.

override OP: u32 = 0u;          // see BINARY_OPS in src/kernels/elementwise.ts
override BROADCAST: bool = true;
override WORKGROUP: u32 = 64u;

struct Params {
  n: u32,
  rank: u32,
  alpha: f32,
  shape: array<vec4<u32>, 2>,     // output dims, outermost first
  a_strides: array<vec4<u32>, 2>,
  b_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn combine(x: f32, y: f32) -> f32 {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return x / y; }
    case 4u: { return select(x * y, x, x >= 0.0); }   // prelu: y is the slope
    case 5u: { return x + params.alpha * y; }         // add with alpha (torch.add(a, b, alpha=))
    case 6u: { return max(x, y); }
    case 7u: { return min(x, y); }
    default: { return x; }
  }
}

fn dim(v: array<vec4<u32>, 2>, i: u32) -> u32 {
  return v[i / 4u][i % 4u];
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let thread = gid.x + gid.y * nwg.x * WORKGROUP + gid.z * nwg.x * nwg.y * WORKGROUP;
  let base = thread * 4u;
  for (var k = 0u; k < 4u; k++) {
    let i = base + k;
    if (i >= params.n) {
      return;
    }
    if (!BROADCAST) {
      out[i] = combine(a[i], b[i]);
      continue;
    }
    var rest = i;
    var ia = 0u;
    var ib = 0u;
    for (var d = i32(params.rank) - 1; d >= 0; d--) {
      let size = dim(params.shape, u32(d));
      let coord = rest % size;
      rest = rest / size;
      ia += coord * dim(params.a_strides, u32(d));
      ib += coord * dim(params.b_strides, u32(d));
    }
    out[i] = combine(a[ia], b[ib]);
  }
}
