/** synthe's side of a workload: the production op through `engine.ops`, optionally forced to one variant. */
import type { Engine, KernelTiming, Tensor } from '../src/index';
import { elapsed } from './measure';
import type { Runner } from './runner';
import { benchOps, type BenchOps, type HostInputs, type Workload } from './workloads/types';

export interface SyntheRunner extends Runner {
  /** One run with every dispatch timed by timestamp queries. */
  profile(): Promise<KernelTiming[]>;
}

/** Whether the engine has the workload's op registered. */
export function hasOp(engine: Engine, w: Workload): boolean {
  return typeof benchOps(engine)[w.op] === 'function';
}

/** The host inputs uploaded once, shared by the default call and every variant. */
export async function syntheInputs(engine: Engine, host: HostInputs): Promise<{ tensors: Record<string, Tensor>; setupMs: number; dispose(): void }> {
  const tensors: Record<string, Tensor> = {};
  const setupMs = await elapsed(async () => {
    for (const [name, t] of Object.entries(host)) tensors[name] = engine.tensor(t.data, t.shape);
    await engine.sync();
  });
  return {
    tensors,
    setupMs,
    dispose() {
      for (const t of Object.values(tensors)) t.dispose();
    },
  };
}

/** Runs the workload on already uploaded inputs; disposing the runner leaves them alone. */
export function syntheRunner(engine: Engine, w: Workload, tensors: Record<string, Tensor>, variant?: string): SyntheRunner {
  const ops = benchOps(engine) as BenchOps;
  const run = (): Tensor => w.synthe(ops, tensors, variant);
  return {
    setupMs: 0,
    async step() {
      const y = run();
      await engine.sync();
      y.dispose();
    },
    async result() {
      const y = run();
      try {
        return await y.read();
      } finally {
        y.dispose();
      }
    },
    async profile() {
      const { result, timings } = await engine.profile(run);
      result.dispose();
      return timings;
    },
    peakBytes: () => engine.memory().peakBytes,
    dispose() {},
  };
}
