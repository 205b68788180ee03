/** Kernel checks that run inside the browser page; each returns its normalized error against the reference. */
import { createEngine } from '../../src/index';
import * as ref from '../reference/elementwise';
import { normalizedError } from '../reference/compare';
import { makeRng } from '../reference/random';
import { randn } from '../reference/tensor';

export interface CheckResult {
  name: string;
  error: number;
  tolerance: number;
}

export async function runKernelChecks(): Promise<CheckResult[]> {
  const engine = await createEngine();
  const rng = makeRng(11);
  const results: CheckResult[] = [];
  try {
    const a = randn([2, 3, 17, 9], rng);
    const b = randn([1, 3, 1, 9], rng);
    const ta = engine.tensor(a.data, a.shape);
    const tb = engine.tensor(b.data, b.shape);
    results.push({ name: 'add (broadcast)', error: normalizedError(await engine.ops.add(ta, tb).read(), ref.add(a, b)), tolerance: 1e-6 });
    results.push({ name: 'gelu', error: normalizedError(await engine.ops.gelu(ta).read(), ref.gelu(a)), tolerance: 1e-5 });
    results.push({ name: 'silu', error: normalizedError(await engine.ops.silu(ta).read(), ref.silu(a)), tolerance: 1e-5 });
  } finally {
    engine.dispose();
  }
  return results;
}
