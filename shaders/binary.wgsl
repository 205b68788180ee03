// out = a (op) b with NumPy/PyTorch broadcasting, rank ≤ 8 after merging dims.
// Same-shape operands (BROADCAST off) take 4 consecutive elements per invocation with no index arithmetic.
// Broadcast operands go row by row like strided_copy.wgsl: each invocation finds the offsets of one run of
// up to PER_THREAD elements of the last dim once, then steps by that dim's strides (0 for a broadcast dim).
// RANK is an override so the dim loop unrolls: indexing the uniform arrays dynamically was ~10× slower on
// the CPU-emulated drivers.

override OP: u32 = 0u;          // see BINARY_OPS in src/kernels/elementwise.ts
override BROADCAST: bool = true;
override RANK: u32 = 1u;
override PER_THREAD: u32 = 64u;
override WORKGROUP: u32 = 64u;

struct Params {
  n: u32,
  rows: u32,                      // product of all dims but the last
  row_blocks: u32,                // ceil(last dim / PER_THREAD)
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

@compute @workgroup_size(WORKGROUP)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let thread = (wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y) * WORKGROUP + lid;
  if (!BROADCAST) {
    let base = thread * 4u;
    for (var k = 0u; k < 4u; k++) {
      let i = base + k;
      if (i < params.n) {
        out[i] = combine(a[i], b[i]);
      }
    }
    return;
  }
  var row = thread / params.row_blocks;
  if (row >= params.rows) {
    return;
  }
  let last = RANK - 1u;
  let row_length = params.shape[last / 4u][last % 4u];
  let a_step = params.a_strides[last / 4u][last % 4u];
  let b_step = params.b_strides[last / 4u][last % 4u];
  let start = (thread % params.row_blocks) * PER_THREAD;
  var o = row * row_length + start;
  var ia = start * a_step;
  var ib = start * b_step;
  for (var k = 1u; k < RANK; k++) {
    let j = last - k;
    let size = params.shape[j / 4u][j % 4u];
    let c = row % size;
    row = row / size;
    ia += c * params.a_strides[j / 4u][j % 4u];
    ib += c * params.b_strides[j / 4u][j % 4u];
  }
  let count = min(PER_THREAD, row_length - start);
  for (var e = 0u; e < count; e++) {
    out[o] = combine(a[ia], b[ib]);
    o += 1u;
    ia += a_step;
    ib += b_step;
  }
}
