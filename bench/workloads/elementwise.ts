/** Bandwidth-bound elementwise ops: one flop per element, 12 bytes moved per element. */
import { randomInputs } from './data';
import type { Workload } from './types';

export function addWorkload(n: number): Workload {
  const mega = n / 2 ** 20;
  return {
    name: `add ${Number.isInteger(mega) ? `${mega}M` : n}`,
    tags: ['add', 'elementwise'],
    flops: n,
    bytes: 12 * n,
    op: 'add',
    outputShape: [n],
    inputs: () => randomInputs(2, { a: { shape: [n] }, b: { shape: [n] } }),
    synthe: (ops, t) => ops.add(t.a!, t.b!),
    tfjs: { inputs: (h) => h, run: (tf, t) => tf.add(t.a!, t.b!) },
    onnx: () => ({
      opType: 'Add',
      inputs: [{ name: 'a', shape: [n] }, { name: 'b', shape: [n] }],
      output: { name: 'c', shape: [n] },
    }),
  };
}
