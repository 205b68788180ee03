/**
 * The adapter's roofline, measured with roofline.wgsl: peak multiply-add GFLOP/s from independent vec4
 * chains, and copy GB/s from a buffer far larger than any CPU cache. Workloads quote their GFLOP/s as a
 * fraction of the first; bandwidth-bound ones should approach the second.
 */
import type { Engine } from '../src/index';
import { shader } from '../src/gpu/shader';
import { stats } from './measure';
import code from './roofline.wgsl?raw';

const ROOFLINE = shader('roofline.wgsl', code);
const WORKGROUP = 64;
const FMA_INVOCATIONS = 64 * 1024;
const FLOPS_PER_TRIP = 8 * 4 * 2; // chains × lanes × (mul + add)
const COPY_VEC4S = 2 * 2 ** 20; // 32 MiB each way
const COPY_PER_THREAD = 4;
/** GPU time each timed probe aims for: long enough to swamp launch costs, short enough for a quick run. */
const TARGET_MS = 100;

export interface Roofline {
  fmaGflops: number;
  copyGBps: number;
  /** Loop trips the FMA probe settled on. */
  fmaIters: number;
  /** How the probes were timed. */
  clock: 'timestamps' | 'wall clock';
}

export async function probeRoofline(engine: Engine, runs = 5): Promise<Roofline> {
  const rt = engine.runtime;
  const src = engine.empty([COPY_VEC4S * 4]);
  const dst = engine.empty([COPY_VEC4S * 4]);
  const timestamps = engine.gpu.features['timestamp-query'];
  /** Milliseconds one dispatch takes. */
  const time = async (dispatch: () => void): Promise<number> => {
    if (timestamps) {
      const { timings } = await engine.profile(dispatch);
      return timings.reduce((sum, t) => sum + t.ns, 0) / 1e6;
    }
    await engine.sync();
    const start = performance.now();
    dispatch();
    await engine.sync();
    return performance.now() - start;
  };
  const fma = (iters: number) => () =>
    rt.dispatch({
      shader: ROOFLINE,
      entry: 'fma_peak',
      overrides: { WORKGROUP },
      uniforms: { n: FMA_INVOCATIONS, iters, mul: 0.999, add: 1e-3 },
      bindings: { dst: dst.buffer },
      workgroups: FMA_INVOCATIONS / WORKGROUP,
      label: 'roofline:fma',
    });
  const copy = () =>
    rt.dispatch({
      shader: ROOFLINE,
      entry: 'copy',
      overrides: { WORKGROUP, COPY_PER_THREAD },
      uniforms: { n: COPY_VEC4S, iters: 0, mul: 0, add: 0 },
      bindings: { src: src.buffer, dst: dst.buffer },
      workgroups: Math.ceil(COPY_VEC4S / (WORKGROUP * COPY_PER_THREAD)),
      label: 'roofline:copy',
    });
  try {
    // Calibrate the trip count on a short run (which also compiles), then time at the target length.
    await time(fma(16));
    const probeIters = 64;
    const probeMs = Math.max(0.01, await time(fma(probeIters)));
    const fmaIters = Math.max(probeIters, Math.min(1 << 16, Math.round((probeIters * TARGET_MS) / probeMs)));
    const fmaMs: number[] = [];
    for (let i = 0; i < runs; i++) fmaMs.push(await time(fma(fmaIters)));
    await time(copy);
    const copyMs: number[] = [];
    for (let i = 0; i < runs; i++) copyMs.push(await time(copy));
    const flops = FMA_INVOCATIONS * fmaIters * FLOPS_PER_TRIP;
    return {
      fmaGflops: flops / (stats(fmaMs).median * 1e6),
      copyGBps: (2 * COPY_VEC4S * 16) / (stats(copyMs).median * 1e6),
      fmaIters,
      clock: timestamps ? 'timestamps' : 'wall clock',
    };
  } finally {
    src.dispose();
    dst.dispose();
  }
}
