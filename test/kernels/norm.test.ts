import { describe, expect, it } from 'vitest';
import type { Engine, Tensor } from '../../src/index';
import { foldBatchNorm, type NormStatsVariant } from '../../src/kernels/norm';
import { describeEachDevice } from '../devices';
import { expectAllClose } from '../reference/compare';
import { conv2d, convTranspose2d } from '../reference/conv';
import { add, silu } from '../reference/elementwise';
import * as ref from '../reference/norm';
import { makeRng } from '../reference/random';
import { randn, uniform, type CpuTensor } from '../reference/tensor';
import { torchCases } from './torch_fixtures';

const upload = (engine: Engine, t: CpuTensor) => engine.tensor(t.data, t.shape);
const VARIANTS: NormStatsVariant[] = ['group', 'row'];
const TOL = { atol: 2e-5, rtol: 2e-5 };

describeEachDevice('norm', (engine) => {
  const rng = makeRng(5);

  // [shape, groups]
  const GROUP_CASES: [number[], number][] = [
    [[2, 6, 3, 4], 3],
    [[1, 64, 1, 1], 32],
    [[3, 8, 17], 4],          // rank 3, odd spatial size
    [[2, 5, 7, 3], 5],
    [[1, 320, 64, 64], 32],   // SD's groups of 10 channels: segments of 40,960 values
  ];

  it.each(GROUP_CASES)('groupNorm %j in %i groups matches the reference with both statistics kernels', async (shape, groups) => {
    const e = engine();
    const x = randn(shape, rng);
    const w = randn([shape[1]!], rng);
    const b = randn([shape[1]!], rng);
    const want = ref.groupNorm(x, groups, w, b);
    const tx = upload(e, x);
    for (const variant of VARIANTS) {
      const y = e.ops.groupNorm(tx, groups, upload(e, w), upload(e, b), 1e-5, { variant });
      expect(y.shape).toEqual(shape);
      expectAllClose(await y.read(), want, TOL, variant);
    }
  });

  it('keeps statistics exact for large means (1e4 + noise) and long rows', async () => {
    const e = engine();
    for (const [shape, groups, noise] of [[[2, 32, 16, 16], 8, 1], [[1, 320, 32, 32], 32, 0.05]] as const) {
      const x = randn([...shape], rng);
      for (let i = 0; i < x.data.length; i++) x.data[i] = 1e4 + noise * x.data[i]!;
      const want = ref.groupNorm(x, groups);
      for (const variant of VARIANTS) {
        expectAllClose(await e.ops.groupNorm(upload(e, x), groups, null, null, 1e-5, { variant }).read(), want, { atol: 1e-4, rtol: 1e-4 }, `${JSON.stringify(shape)} ${variant}`);
      }
    }
    // Layer norm rows of 1e4 + noise too, and of -3e4 + noise.
    const rows = randn([300, 320], rng);
    for (let i = 0; i < rows.data.length; i++) rows.data[i] = (i < 160 * 320 ? 1e4 : -3e4) + rows.data[i]!;
    for (const variant of VARIANTS) {
      expectAllClose(await e.ops.layerNorm(upload(e, rows), 320, null, null, 1e-5, { variant }).read(), ref.layerNorm(rows, 320), { atol: 1e-4, rtol: 1e-4 }, `layerNorm ${variant}`);
    }
  });

  // 5x6 planes take the scalar apply kernel, 4x6 the vec4 one.
  it.each([[[2, 12, 5, 6]], [[2, 12, 4, 6]]])('fuses SiLU and a residual add into groupNorm on %j', async (shape) => {
    const e = engine();
    const x = randn(shape, rng);
    const res = randn(shape, rng);
    const w = randn([12], rng);
    const b = randn([12], rng);
    const normed = ref.groupNorm(x, 4, w, b, 1e-6);
    const tx = upload(e, x);
    const [tw, tb, tr] = [w, b, res].map((t) => upload(e, t)) as [Tensor, Tensor, Tensor];
    expectAllClose(await e.ops.groupNorm(tx, 4, tw, tb, 1e-6, { activation: 'silu' }).read(), silu(normed), TOL, 'silu');
    expectAllClose(await e.ops.groupNorm(tx, 4, tw, tb, 1e-6, { residual: tr }).read(), add(normed, res), TOL, 'residual');
    expectAllClose(await e.ops.groupNorm(tx, 4, tw, tb, 1e-6, { activation: 'silu', residual: tr }).read(), add(silu(normed), res), TOL, 'silu + residual');
    expect(() => e.ops.groupNorm(tx, 4, tw, tb, 1e-6, { residual: tw })).toThrow(/residual and input shapes differ/);
  });

  it('layerNorm over one and two trailing dims, with and without affine', async () => {
    const e = engine();
    for (const [shape, ns] of [[[2, 77, 320], [320]], [[4, 3, 8], [3, 8]], [[5, 9], [9]], [[1, 1024, 40], [40]]] as const) {
      const x = randn([...shape], rng);
      const w = randn([...ns], rng);
      const b = randn([...ns], rng);
      for (const variant of VARIANTS) {
        expectAllClose(await e.ops.layerNorm(upload(e, x), ns, upload(e, w), upload(e, b), 1e-5, { variant }).read(), ref.layerNorm(x, ns, w, b), TOL, `${JSON.stringify(shape)} ${variant}`);
        expectAllClose(await e.ops.layerNorm(upload(e, x), ns, null, null, 1e-6, { variant }).read(), ref.layerNorm(x, ns, null, null, 1e-6), TOL, `${JSON.stringify(shape)} plain ${variant}`);
      }
    }
    const x = e.tensor(new Float32Array(12), [3, 4]);
    expect(() => e.ops.layerNorm(x, [3])).toThrow(/\[3, 4\] does not end in normalizedShape \[3\]/);
  });

  it('instanceNorm and batchNorm match the reference', async () => {
    const e = engine();
    for (const shape of [[2, 3, 4, 5], [1, 16, 33], [2, 7, 9, 9]]) {
      const C = shape[1]!;
      const x = randn(shape, rng);
      const [w, b, mean] = [randn([C], rng), randn([C], rng), randn([C], rng)];
      const variance = uniform([C], rng, 0.2, 3);
      const [tx, tw, tb, tm, tv] = [x, w, b, mean, variance].map((t) => upload(e, t)) as [Tensor, Tensor, Tensor, Tensor, Tensor];
      for (const variant of VARIANTS) {
        expectAllClose(await e.ops.instanceNorm(tx, tw, tb, 1e-5, { variant }).read(), ref.instanceNorm(x, w, b), TOL, `instanceNorm ${JSON.stringify(shape)} ${variant}`);
      }
      expectAllClose(await e.ops.batchNorm(tx, tm, tv, tw, tb, 1e-3).read(), ref.batchNorm(x, mean, variance, w, b, 1e-3), TOL, `batchNorm ${JSON.stringify(shape)}`);
      expectAllClose(await e.ops.batchNorm(tx, tm, tv).read(), ref.batchNorm(x, mean, variance), TOL, `batchNorm plain ${JSON.stringify(shape)}`);
    }
    expect(() => e.ops.instanceNorm(e.tensor([1, 2], [1, 2, 1]))).toThrow(/more than 1 spatial element/);
  });

  it('matches torch on the recorded norm cases', async () => {
    const e = engine();
    for (const c of torchCases('groupNorm')) {
      const { x, w, b } = c.inputs;
      const got = e.ops.groupNorm(upload(e, x!), c.params.groups as number, w && upload(e, w), b && upload(e, b), c.params.eps as number);
      expectAllClose(await got.read(), c.expected, TOL, c.name);
    }
    for (const c of torchCases('layerNorm')) {
      const { x, w, b } = c.inputs;
      const got = e.ops.layerNorm(upload(e, x!), c.params.normalizedShape as number[], w && upload(e, w), b && upload(e, b), c.params.eps as number);
      expectAllClose(await got.read(), c.expected, TOL, c.name);
    }
    for (const c of torchCases('instanceNorm')) {
      const { x, w, b } = c.inputs;
      expectAllClose(await e.ops.instanceNorm(upload(e, x!), w && upload(e, w), b && upload(e, b), c.params.eps as number).read(), c.expected, TOL, c.name);
    }
    for (const c of torchCases('batchNorm')) {
      const { x, rm, rv, w, b } = c.inputs;
      const got = e.ops.batchNorm(upload(e, x!), upload(e, rm!), upload(e, rv!), w && upload(e, w), b && upload(e, b), c.params.eps as number);
      expectAllClose(await got.read(), c.expected, TOL, c.name);
    }
  });

  it('rejects bad groups and parameter shapes, naming them', () => {
    const e = engine();
    const x = e.tensor(new Float32Array(2 * 6 * 4), [2, 6, 2, 2]);
    expect(() => e.ops.groupNorm(x, 4)).toThrow(/channels 6 of input \[2, 6, 2, 2\] are not divisible into numGroups=4/);
    expect(() => e.ops.groupNorm(x, 3, e.tensor([1, 2, 3], [3]))).toThrow(/weight \[3\] must be \[6\]/);
  });
});

// CPU only: folding happens at model load time.
describe('foldBatchNorm', () => {
  const rng = makeRng(9);
  const bnOf = (C: number) => ({
    runningMean: randn([C], rng).data,
    runningVar: uniform([C], rng, 0.3, 2).data,
    weight: randn([C], rng).data,
    bias: randn([C], rng).data,
    eps: 1e-3,
  });
  const applyBn = (y: CpuTensor, bn: ReturnType<typeof bnOf>) =>
    ref.batchNorm(y, { data: bn.runningMean, shape: [bn.runningMean.length] }, { data: bn.runningVar, shape: [bn.runningVar.length] },
      { data: bn.weight, shape: [bn.weight.length] }, { data: bn.bias, shape: [bn.bias.length] }, bn.eps);

  it('folds into conv weights (Cout, Cin/groups, kh, kw), with and without a conv bias', () => {
    for (const [cin, cout, groups, withBias] of [[4, 6, 1, true], [4, 6, 2, false]] as const) {
      const x = randn([2, cin, 7, 6], rng);
      const w = randn([cout, cin / groups, 3, 3], rng);
      const b = withBias ? randn([cout], rng) : null;
      const bn = bnOf(cout);
      const folded = foldBatchNorm(w.data, w.shape, b?.data ?? null, bn, { groups });
      const want = applyBn(conv2d(x, w, b, { padding: 1, groups }), bn);
      const got = conv2d(x, { data: folded.weight, shape: w.shape }, { data: folded.bias, shape: [cout] }, { padding: 1, groups });
      expectAllClose(got, want, { atol: 1e-4, rtol: 1e-4 }, `groups ${groups}`);
    }
  });

  it('folds into transposed conv weights (Cin, Cout/groups, kh, kw)', () => {
    for (const [cin, cout, groups] of [[4, 6, 1], [4, 6, 2]] as const) {
      const x = randn([1, cin, 5, 4], rng);
      const w = randn([cin, cout / groups, 4, 4], rng);
      const b = randn([cout], rng);
      const bn = bnOf(cout);
      const folded = foldBatchNorm(w.data, w.shape, b.data, bn, { transposed: true, groups });
      const opts = { stride: 2, padding: 1, groups };
      const want = applyBn(convTranspose2d(x, w, b, opts), bn);
      const got = convTranspose2d(x, { data: folded.weight, shape: w.shape }, { data: folded.bias, shape: [cout] }, opts);
      expectAllClose(got, want, { atol: 1e-4, rtol: 1e-4 }, `groups ${groups}`);
    }
    expect(() => foldBatchNorm(new Float32Array(8), [2, 2, 2], null, bnOf(3))).toThrow(/3 values, the conv \[2, 2, 2\] has 2 output channels/);
  });
});
