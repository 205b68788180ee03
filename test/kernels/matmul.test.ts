import { expect, it } from 'vitest';
import { describeEachDevice } from '../devices';
import * as ref from '../reference/matmul';
import * as eref from '../reference/elementwise';
import { expectAllClose, normalizedError } from '../reference/compare';
import { makeRng } from '../reference/random';
import { randn, type CpuTensor } from '../reference/tensor';
import type { Engine } from '../../src/index';
import { gemm, MATMUL_VARIANTS, matmul, linear, type MatmulVariantName } from '../../src/kernels/matmul';

const VARIANTS = Object.keys(MATMUL_VARIANTS) as MatmulVariantName[];
const upload = (engine: Engine, t: CpuTensor) => engine.tensor(t.data, t.shape);

// f32 accumulation error grows like sqrt(K) against the f64 reference.
const tolerance = (k: number) => 1e-5 * Math.max(1, Math.sqrt(k));

/** [input shape, other shape]. */
const CASES: [number[], number[]][] = [
  [[1, 1], [1, 1]],
  [[1, 8], [8, 1]],
  [[1, 7], [7, 1]],
  [[5, 7], [7, 3]],
  [[5, 8], [8, 4]],
  [[33, 65], [65, 17]],
  [[64, 64], [64, 64]],
  [[127, 129], [129, 31]],
  [[3, 4, 5], [5, 6]],
  [[2, 1, 4, 5], [3, 5, 2]],
  [[2, 3, 8, 12], [1, 12, 16]],
  [[6], [6, 4]],
  [[4, 6], [6]],
  [[9], [9]],
  [[2, 3, 6], [6]],
  [[6], [2, 6, 5]],
  [[3, 0], [0, 2]],
  [[0, 4], [4, 3]],
];

describeEachDevice('matmul', (engine) => {
  const rng = makeRng(11);

  it.each(VARIANTS.flatMap((v) => CASES.map(([a, b]) => [v, a, b] as const)))('%s: %j @ %j matches torch.matmul', async (variant, sa, sb) => {
    const e = engine();
    const a = randn(sa, rng);
    const b = randn(sb, rng);
    const want = ref.matmul(a, b);
    const got = matmul(e.runtime, upload(e, a), upload(e, b), { variant });
    expect(got.shape).toEqual(want.shape);
    const k = sa[sa.length - 1]!;
    expect(normalizedError(await got.read(), want)).toBeLessThan(tolerance(k));
    got.dispose();
  });

  it.each(VARIANTS)('%s: linear on [2, 3, 7] x [5, 7], with and without bias', async (variant) => {
    const e = engine();
    const x = randn([2, 3, 7], rng);
    const w = randn([5, 7], rng);
    const bias = randn([5], rng);
    for (const withBias of [false, true]) {
      const want = ref.linear(x, w, withBias ? bias : null);
      const got = linear(e.runtime, upload(e, x), upload(e, w), withBias ? upload(e, bias) : null, { variant });
      expect(got.shape).toEqual([2, 3, 5]);
      expect(normalizedError(await got.read(), want)).toBeLessThan(tolerance(7));
    }
  });

  it('linear through the registry, on 1-D input and with aligned features', async () => {
    const e = engine();
    for (const [xs, out, inF] of [[[12], 16, 12], [[4, 32], 24, 32]] as const) {
      const x = randn(xs, rng);
      const w = randn([out, inF], rng);
      const bias = randn([out], rng);
      const got = e.ops.linear(upload(e, x), upload(e, w), upload(e, bias));
      expect(normalizedError(await got.read(), ref.linear(x, w, bias))).toBeLessThan(tolerance(inF));
    }
  });

  // The epilogue is one function both variants share: every activation on one variant, one on the other
  // (each combination is a pipeline, and SwiftShader compiles the tiled one slowly).
  const ACTIVATIONS = ['none', 'relu', 'leakyRelu', 'silu', 'gelu', 'geluTanh', 'tanh', 'sigmoid'] as const;
  const FUSED = [...ACTIVATIONS.map((act) => ['blocked', act] as const), ['tiled', 'leakyRelu'] as const];

  it.each(FUSED)('%s: gemm fuses scale, a per-row bias and %s, with A shared over the batch', async (variant, activation) => {
    const e = engine();
    // A 1x1 convolution: weight (Cout, Cin) shared over the batch, x (N, Cin, HW), bias per output channel (row).
    const [N, cout, cin, hw] = [2, 6, 5, 9];
    const w = randn([cout, cin], rng);
    const x = randn([N, cin, hw], rng);
    const bias = randn([cout], rng);
    const got = gemm(e.runtime, {
      a: upload(e, w), b: upload(e, x), m: cout, n: hw, k: cin, batch: [N], aBatchStrides: [0],
      alpha: 0.5, bias: upload(e, bias), biasAlong: 'm', activation, negativeSlope: 0.2, variant,
    });
    const product = ref.matmul(w, x); // (N, cout, hw)
    for (let i = 0; i < product.data.length; i++) {
      product.data[i] = 0.5 * product.data[i]! + bias.data[Math.floor(i / hw) % cout]!;
    }
    const want = activation === 'none' ? product
      : activation === 'leakyRelu' ? eref.leakyRelu(product, 0.2)
      : activation === 'geluTanh' ? eref.gelu(product, 'tanh')
      : eref[activation](product);
    expect(got.shape).toEqual([N, cout, hw]);
    expectAllClose(await got.read(), want, { atol: 1e-5, rtol: 1e-5 }, `${variant} ${activation}`);
  });

  it('rejects mismatched inner dims and 0-d operands, naming the shapes', () => {
    const e = engine();
    const a = e.tensor(new Float32Array(6), [2, 3]);
    const b = e.tensor(new Float32Array(8), [4, 2]);
    expect(() => e.ops.matmul(a, b)).toThrow(/\[2, 3\].*\[4, 2\]/);
    expect(() => e.ops.matmul(e.tensor([1], []), b)).toThrow(/at least 1 dim/);
    expect(() => e.ops.linear(a, b)).toThrow(/in_features=2/);
    expect(() => gemm(e.runtime, { a, b, m: 3, n: 2, k: 4 })).toThrow(/holds 6 elements/);
  });
});
