// F.embedding: rows of a table picked by index. index (N) into weight (num, dim) -> (N, dim).
// An index that is not an integer in 0..num-1 gives a row of NaN: torch raises there and a GPU op cannot, so
// the bad row poisons whatever is computed from it instead of passing for a valid one.

override WORKGROUP: u32 = 64u;
override FLOAT_INDEX: bool = true;   // indices are f32 holding integers (class labels); else i32

struct Params {
  n: u32,          // outputs: N · dim
  dim: u32,
  num: u32,        // rows of the table
  nan_bits: u32,   // a quiet NaN's bits, passed in because a NaN constant is a WGSL compile error
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> index: array<u32>;   // f32 or i32 bits
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// The row an index names, or num when it names none (NaN fails every comparison, infinities the bound).
fn row_of(bits: u32) -> u32 {
  if (FLOAT_INDEX) {
    let v = bitcast<f32>(bits);
    if (v >= 0.0 && v < f32(params.num) && floor(v) == v) {
      return u32(v);
    }
    return params.num;
  }
  let v = bitcast<i32>(bits);
  if (v >= 0 && v < i32(params.num)) {
    return u32(v);
  }
  return params.num;
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * WORKGROUP + gid.z * nwg.x * nwg.y * WORKGROUP;
  if (o >= params.n) {
    return;
  }
  let i = o / params.dim;
  let row = row_of(index[i]);
  if (row < params.num) {
    y[o] = weight[row * params.dim + (o - i * params.dim)];
  } else {
    y[o] = bitcast<f32>(params.nan_bits);
  }
}
