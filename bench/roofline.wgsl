// The adapter's roofline: peak multiply-add throughput and copy bandwidth, the two numbers every kernel is
// judged against. `fma_peak` keeps CHAINS independent vec4 accumulators per invocation so no result waits on
// the previous one (latency hidden, only throughput left); `copy` streams vec4s from one buffer to another.
// Written as a * m + c, not fma(): the compiler fuses it where the hardware can, and a software fma()
// would measure the emulation instead.

override WORKGROUP: u32 = 64u;
override COPY_PER_THREAD: u32 = 4u;   // vec4s each copy invocation moves

struct Params {
  n: u32,        // invocations (fma_peak) or vec4s (copy)
  iters: u32,    // loop trips of fma_peak; each is 8 chains × 4 lanes × 2 flops
  mul: f32,      // from the host so nothing folds at compile time
  add: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP)
fn fma_peak(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y) * WORKGROUP + lid;
  if (i >= params.n) {
    return;
  }
  let m = vec4<f32>(params.mul);
  let c = vec4<f32>(params.add);
  let seed = f32(i & 1023u) * 1e-3;
  var a0 = vec4<f32>(seed, seed + 0.1, seed + 0.2, seed + 0.3);
  var a1 = a0 + 1.0;
  var a2 = a0 + 2.0;
  var a3 = a0 + 3.0;
  var a4 = a0 + 4.0;
  var a5 = a0 + 5.0;
  var a6 = a0 + 6.0;
  var a7 = a0 + 7.0;
  for (var k = 0u; k < params.iters; k++) {
    a0 = a0 * m + c;
    a1 = a1 * m + c;
    a2 = a2 * m + c;
    a3 = a3 * m + c;
    a4 = a4 * m + c;
    a5 = a5 * m + c;
    a6 = a6 * m + c;
    a7 = a7 * m + c;
  }
  dst[i] = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
}

@compute @workgroup_size(WORKGROUP)
fn copy(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let thread = (wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y) * WORKGROUP + lid;
  // Consecutive invocations take consecutive vec4s on each trip, as a GPU coalesces them.
  let stride = nwg.x * nwg.y * nwg.z * WORKGROUP;
  for (var j = 0u; j < COPY_PER_THREAD; j++) {
    let v = thread + j * stride;
    if (v < params.n) {
      dst[v] = src[v];
    }
  }
}
