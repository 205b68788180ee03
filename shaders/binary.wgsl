// out = a (op) b with NumPy/PyTorch broadcasting, rank ≤ 8 after merging dims.
// `same_shape` (operands of the output's shape, a multiple of 4 elements) is a plain vec4 loop: each workgroup
// owns one contiguous block of WORKGROUP·run vec4s that its invocations step through side by side. The CPU
// adapters pay per workgroup and per scalar load: 4 scalars per invocation over 16,384 workgroups ran 2-3×
// slower on lavapipe and SwiftShader than ~256 blocks of vec4s; side-by-side invocations keep GPU loads coalesced.
// `main` handles every other case row by row like strided_copy.wgsl: each invocation finds the offsets of one
// run of up to PER_THREAD elements of the last dim once, then steps by that dim's strides (0 for a broadcast
// dim). RANK is an override so the dim loop unrolls: indexing the uniform arrays dynamically was ~10× slower on
// the CPU-emulated drivers.
//! import "lib/grid.wgsl"

override OP: u32 = 0u;          // see BINARY_OPS in src/kernels/elementwise.ts
override RANK: u32 = 1u;
override PER_THREAD: u32 = 64u;
override WORKGROUP: u32 = 64u;

struct Params {
  rows: u32,                      // product of all dims but the last
  row_blocks: u32,                // ceil(last dim / PER_THREAD)
  alpha: f32,
  shape: array<vec4<u32>, 2>,     // output dims, outermost first
  a_strides: array<vec4<u32>, 2>,
  b_strides: array<vec4<u32>, 2>,
}

struct VecParams {
  n4: u32,                        // vec4s
  run: u32,                       // vec4s each invocation handles
  alpha: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> vparams: VecParams;
@group(0) @binding(5) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> out4: array<vec4<f32>>;

fn combine(x: vec4<f32>, y: vec4<f32>, alpha: f32) -> vec4<f32> {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return x / y; }
    case 4u: { return select(x * y, x, x >= vec4<f32>(0.0)); }   // prelu: y is the slope
    case 5u: { return x + alpha * y; }                            // add with alpha (torch.add(a, b, alpha=))
    case 6u: { return max(x, y); }
    case 7u: { return min(x, y); }
    default: { return x; }
  }
}

@compute @workgroup_size(WORKGROUP)
fn same_shape(g: Grid, @builtin(local_invocation_index) lid: u32) {
  let size = WORKGROUP * vparams.run;
  let start = workgroup_index(g) * size;
  let end = min(start + size, vparams.n4);
  for (var i = start + lid; i < end; i += WORKGROUP) {
    out4[i] = combine(a4[i], b4[i], vparams.alpha);
  }
}

@compute @workgroup_size(WORKGROUP)
fn main(g: Grid, @builtin(local_invocation_index) lid: u32) {
  let thread = invocation_index(g, lid, WORKGROUP);
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
    out[o] = combine(vec4<f32>(a[ia]), vec4<f32>(b[ib]), params.alpha).x;
    o += 1u;
    ia += a_step;
    ib += b_step;
  }
}
