// y = exp(x - max) / sum(exp(x - max)) along one dim of x viewed as (outer, size, inner); element j of row
// (o, i) sits at (o * size + j) * inner + i. Like torch, a row holding NaN or +inf, or only -inf, gives NaN
// (the max-subtraction yields NaN and the sum carries it to every element).
//   row: one row per invocation; neighbouring invocations take neighbouring i (or o when inner == 1).
//   wide: one row per workgroup, for few long rows; partial results meet in workgroup memory.
//! import "lib/grid.wgsl"

override WORKGROUP: u32 = 64u;

struct Params {
  rows: u32,   // outer * inner
  size: u32,   // length of each row (> 0)
  inner: u32,  // distance between consecutive row elements
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn row_start(r: u32) -> u32 {
  return (r / params.inner) * params.size * params.inner + r % params.inner;
}

@compute @workgroup_size(WORKGROUP)
fn row(grid: Grid, @builtin(local_invocation_id) li: vec3<u32>) {
  let r = invocation_index(grid, li.x, WORKGROUP);
  if (r >= params.rows) {
    return;
  }
  let start = row_start(r);
  let stride = params.inner;
  let end = start + params.size * stride;
  // Starting from the first element (not a large negative constant) keeps an all -inf row at max = -inf.
  var m = x[start];
  for (var i = start + stride; i < end; i += stride) {
    m = max(m, x[i]);
  }
  var sum = 0.0;
  for (var i = start; i < end; i += stride) {
    let e = exp(x[i] - m);
    y[i] = e;
    sum += e;
  }
  let inv = 1.0 / sum;
  for (var i = start; i < end; i += stride) {
    y[i] *= inv;
  }
}

var<workgroup> partial: array<f32, WORKGROUP>;

// Tree-reduces `partial` (max when `take_max`, else sum); WORKGROUP is a power of two.
fn reduce(li: u32, take_max: bool) -> f32 {
  for (var half = WORKGROUP / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (li < half) {
      let other = partial[li + half];
      partial[li] = select(partial[li] + other, max(partial[li], other), take_max);
    }
  }
  workgroupBarrier();
  let total = partial[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WORKGROUP)
fn wide(grid: Grid, @builtin(local_invocation_index) li: u32) {
  let r = workgroup_index(grid);
  if (r >= params.rows) {
    return;
  }
  let start = row_start(r);
  let stride = params.inner;
  let end = start + params.size * stride;
  let step = WORKGROUP * stride;
  var m = x[start];
  for (var i = start + li * stride; i < end; i += step) {
    m = max(m, x[i]);
  }
  partial[li] = m;
  m = reduce(li, true);
  var sum = 0.0;
  for (var i = start + li * stride; i < end; i += step) {
    let e = exp(x[i] - m);
    y[i] = e;
    sum += e;
  }
  partial[li] = sum;
  let inv = 1.0 / reduce(li, false);
  for (var i = start + li * stride; i < end; i += step) {
    y[i] *= inv;
  }
}
