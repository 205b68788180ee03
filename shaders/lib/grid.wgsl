// Where a workgroup stands in a launch. A launch is ONE number of workgroups, which the runtime folds over y
// and z beyond 65,535 (src/gpu/runtime.ts); kernels take these builtins as `grid: Grid` and undo the fold
// here. The fold may launch a few workgroups past the count: every kernel bound-checks the index it derives.
// Grid holds only builtins that are the same across a workgroup, so what derives from it stays uniform (as
// barriers and subgroup operations require); an invocation's own index comes as a separate builtin.

struct Grid {
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
}

// The workgroup's index in the launch.
fn workgroup_index(grid: Grid) -> u32 {
  return grid.wid.x + grid.wid.y * grid.nwg.x + grid.wid.z * grid.nwg.x * grid.nwg.y;
}

// The index in the launch of the invocation `lid` of a 1-D workgroup of `size` invocations. Pass
// local_invocation_id.x: local_invocation_index, the same number, made elementwise kernels 1.3-2x slower on
// lavapipe.
fn invocation_index(grid: Grid, lid: u32, size: u32) -> u32 {
  return workgroup_index(grid) * size + lid;
}
