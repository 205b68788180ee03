/** Dense products: C (M, N) = A (M, K) @ B (K, N). */
import { exportedNames } from '../variants';
import { randomInputs } from './data';
import type { Workload } from './types';

export function matmulWorkload(m: number, k: number, n: number): Workload {
  return {
    name: m === k && k === n ? `matmul ${m}³` : `matmul ${m}x${k}x${n}`,
    tags: ['matmul', 'gemm'],
    flops: 2 * m * n * k,
    bytes: 4 * (m * k + k * n + m * n),
    op: 'matmul',
    variants: () => exportedNames('MATMUL_VARIANTS'),
    outputShape: [m, n],
    inputs: () => randomInputs(1, { a: { shape: [m, k] }, b: { shape: [k, n], scale: 1 / Math.sqrt(k) } }),
    synthe: (ops, t, variant) => ops.matmul(t.a!, t.b!, variant ? { variant } : {}),
    tfjs: { inputs: (h) => h, run: (tf, t) => tf.matMul(t.a!, t.b!) },
    onnx: (h) => ({
      opType: 'MatMul',
      inputs: [{ name: 'a', shape: h.a!.shape }, { name: 'b', shape: h.b!.shape }],
      output: { name: 'c', shape: [m, n] },
    }),
  };
}
