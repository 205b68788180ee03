/** Kernel checks that run inside the browser page; each returns its normalized error against the reference. */
import { createEngine } from '../../src/index';
import * as ref from '../reference/elementwise';
import { scaledDotProductAttention } from '../reference/attention';
import { normalizedError } from '../reference/compare';
import { conv2d, convTranspose2d } from '../reference/conv';
import { matmul } from '../reference/matmul';
import { groupNorm } from '../reference/norm';
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

    const up = (t: { data: Float32Array; shape: readonly number[] }) => engine.tensor(t.data, t.shape);
    const x = randn([2, 5, 13, 11], rng);
    const w = randn([7, 5, 3, 3], rng);
    const bias = randn([7], rng);
    const conv = engine.ops.conv2d(up(x), up(w), up(bias), { stride: 2, padding: 1 });
    results.push({ name: 'conv2d 3x3 s2', error: normalizedError(await conv.read(), conv2d(x, w, bias, { stride: 2, padding: 1 })), tolerance: 1e-5 });
    const wt = randn([5, 3, 4, 4], rng);
    const convT = engine.ops.convTranspose2d(up(x), up(wt), null, { stride: 2, padding: 1 });
    results.push({ name: 'convTranspose2d 4x4 s2', error: normalizedError(await convT.read(), convTranspose2d(x, wt, null, { stride: 2, padding: 1 })), tolerance: 1e-5 });
    const m1 = randn([3, 37, 29], rng);
    const m2 = randn([29, 45], rng);
    results.push({ name: 'matmul (batched)', error: normalizedError(await engine.ops.matmul(up(m1), up(m2)).read(), matmul(m1, m2)), tolerance: 1e-5 });
    const [q, k, v] = [randn([1, 2, 70, 40], rng), randn([1, 2, 77, 40], rng), randn([1, 2, 77, 40], rng)];
    const attention = engine.ops.scaledDotProductAttention(up(q), up(k), up(v));
    results.push({ name: 'attention Lq≠Lk, D=40', error: normalizedError(await attention.read(), scaledDotProductAttention(q, k, v)), tolerance: 1e-5 });
    const g = randn([2, 8, 9, 7], rng);
    results.push({ name: 'groupNorm', error: normalizedError(await engine.ops.groupNorm(up(g), 4).read(), groupNorm(g, 4)), tolerance: 1e-5 });
  } finally {
    engine.dispose();
  }
  return results;
}
