import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeEachDevice } from '../devices';
import { convTranspose2d as refConvTranspose2d } from '../reference/conv';
import * as ref from '../reference/elementwise';
import { expectAllClose } from '../reference/compare';
import { makeRng, type Rng } from '../reference/random';
import { randn, type CpuTensor } from '../reference/tensor';
import type { Engine, Tensor } from '../../src/index';
import {
  convTranspose2dPacked, convTranspose2dVariants, packConvTranspose2dWeight, tuneConvTranspose2d,
  type ConvTranspose2dGeometry, type ConvTranspose2dVariant,
} from '../../src/kernels/conv_transpose2d';
import type { Activation } from '../../src/kernels/conv2d';

const upload = (engine: Engine, t: CpuTensor) => engine.tensor(t.data, t.shape);

// Tuning persists its winners; keep this file's out of the user's cache.
process.env.SYNTHE_AUTOTUNE_CACHE = join(mkdtempSync(join(tmpdir(), 'synthe-autotune-')), 'autotune.json');
const TOL = { atol: 2e-5, rtol: 1e-4 };
/** f16 weights lose ~11 bits; everything else accumulates in f32. */
const tolerance = (variant: ConvTranspose2dVariant) => (variant.endsWith('f16') ? { atol: 4e-3, rtol: 4e-3 } : TOL);

function weight(shape: number[], rng: Rng): CpuTensor {
  const w = randn(shape, rng);
  const fanIn = shape[0]! * shape[2]! * shape[3]!;
  for (let i = 0; i < w.data.length; i++) w.data[i]! /= Math.sqrt(fanIn / 4);
  return w;
}

interface Case {
  n: number;
  cin: number;
  coutG: number;
  h: number;
  w: number;
  k: [number, number];
  options: ConvTranspose2dGeometry;
}

/** Random geometries: strides 1-3, paddings, output paddings, dilations 1-2, groups 1/2/depthwise, odd sizes. */
function randomCases(rng: Rng, count: number): Case[] {
  const kernels = [1, 2, 3, 4, 5, 7];
  const sizes: [number, number][] = [[7, 9], [13, 5], [1, 1], [4, 4], [5, 11], [3, 8]];
  const cases: Case[] = [];
  while (cases.length < count) {
    const k: [number, number] = [kernels[rng.int(kernels.length)]!, kernels[rng.int(kernels.length)]!];
    const [h, w] = sizes[rng.int(sizes.length)]!;
    const stride: [number, number] = [1 + rng.int(3), 1 + rng.int(3)];
    const dilation: [number, number] = [1 + rng.int(2), 1 + rng.int(2)];
    const padding: [number, number] = [rng.int(3), rng.int(3)];
    // outputPadding must stay below the stride or the dilation, per dim.
    const outputPadding: [number, number] = [0, 1].map((d) => rng.int(Math.max(stride[d]!, dilation[d]!))) as [number, number];
    const groupKind = rng.int(3);
    const cin = [2, 4, 6, 8][rng.int(4)]!;
    const groups = groupKind === 0 ? 1 : groupKind === 1 ? 2 : cin;
    const coutG = groups === cin ? 1 + rng.int(2) : 1 + rng.int(6);
    const ho = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (k[0] - 1) + outputPadding[0] + 1;
    const wo = (w - 1) * stride[1] - 2 * padding[1] + dilation[1] * (k[1] - 1) + outputPadding[1] + 1;
    if (ho <= 0 || wo <= 0) continue;
    cases.push({ n: 1 + rng.int(2), cin, coutG, h, w, k, options: { stride, padding, outputPadding, dilation, groups } });
  }
  return cases;
}

describeEachDevice('convTranspose2d', (engine) => {
  const rng = makeRng(4321);

  it.each(randomCases(makeRng(7), 22).map((c) => [c]))('matches F.conv_transpose2d with every variant: %j', async (tc) => {
    const e = engine();
    const x = randn([tc.n, tc.cin, tc.h, tc.w], rng);
    const wt = weight([tc.cin, tc.coutG, ...tc.k], rng);
    const b = randn([tc.coutG * (tc.options.groups ?? 1)], rng);
    const expected = refConvTranspose2d(x, wt, b, tc.options);
    const [tx, tw, tb] = [upload(e, x), upload(e, wt), upload(e, b)];
    const packed = packConvTranspose2dWeight(e.runtime, tw, { ...tc.options, bias: tb });
    const variants = convTranspose2dVariants(e.runtime, x.shape, packed);
    expect(variants).toContain('subpixel');
    expect(variants).toContain('phase-direct');
    for (const variant of variants) {
      const y = convTranspose2dPacked(e.runtime, tx, packed, { variant });
      expect(y.shape).toEqual(expected.shape);
      expectAllClose(await y.read(), expected, tolerance(variant), `${variant} ${JSON.stringify(tc)}`);
      y.dispose();
    }
    const y = e.ops.convTranspose2d(tx, tw, tb, tc.options);
    expectAllClose(await y.read(), expected, TOL, `op ${JSON.stringify(tc)}`);
    for (const t of [y, tx, tw, tb]) t.dispose();
    packed.dispose();
  });

  it('runs the DCGAN/upsampler shape (4x4, stride 2, padding 1) and a 1x1 latent', async () => {
    const e = engine();
    for (const [shape, w, options] of [
      [[2, 32, 9, 7], [32, 24, 4, 4], { stride: 2, padding: 1 }],
      [[3, 16, 1, 1], [16, 8, 4, 4], { stride: 1, padding: 0 }],
      [[1, 8, 5, 6], [8, 8, 3, 3], { stride: 2, padding: 1, outputPadding: 1 }],
    ] as [number[], number[], ConvTranspose2dGeometry][]) {
      const x = randn(shape, rng);
      const wt = weight(w, rng);
      const b = randn([w[1]!], rng);
      const y = e.ops.convTranspose2d(upload(e, x), upload(e, wt), upload(e, b), options);
      expectAllClose(await y.read(), refConvTranspose2d(x, wt, b, options), TOL, JSON.stringify({ shape, w, options }));
    }
  });

  it('fuses the epilogue: activations, prelu, residual with scales', async () => {
    const e = engine();
    const x = randn([2, 6, 5, 4], rng);
    const wt = weight([6, 10, 4, 4], rng);
    const b = randn([10], rng);
    const options: ConvTranspose2dGeometry = { stride: 2, padding: 1 };
    const conv = refConvTranspose2d(x, wt, b, options);
    const res = randn(conv.shape, rng);
    const slopes = randn([10], rng);
    const [tx, tw, tb, tres, tslopes] = [x, wt, b, res, slopes].map((t) => upload(e, t)) as Tensor[];
    const cases: [string, Activation | undefined, CpuTensor][] = [
      ['relu', { kind: 'relu' }, ref.relu(conv)],
      ['leakyRelu', { kind: 'leakyRelu', slope: 0.2 }, ref.leakyRelu(conv, 0.2)],
      ['silu', { kind: 'silu' }, ref.silu(conv)],
      ['gelu', { kind: 'gelu' }, ref.gelu(conv)],
      ['tanh', { kind: 'tanh' }, ref.tanh(conv)],
      ['sigmoid', { kind: 'sigmoid' }, ref.sigmoid(conv)],
      ['prelu', { kind: 'prelu', weight: tslopes }, ref.prelu(conv, slopes)],
    ];
    const packed = packConvTranspose2dWeight(e.runtime, tw!, { ...options, bias: tb });
    // All activations (with the residual, so each is one pipeline) on the subpixel kernel, and the epilogue's
    // bindings on every variant; the conv2d kernels' activations are tested with conv2d.
    const variants = convTranspose2dVariants(e.runtime, x.shape, packed);
    const runs = [
      ...cases.map(([name, activation, activated]) => ['subpixel', name, activation, activated] as const),
      ...variants.map((v) => [v, ...cases[6]!] as const),
    ];
    for (const [variant, name, activation, activated] of runs) {
      const tol = { atol: Math.max(1e-4, tolerance(variant).atol), rtol: Math.max(1e-4, tolerance(variant).rtol) };
      const fused = convTranspose2dPacked(e.runtime, tx!, packed, { variant, activation, residual: tres, outputScale: 0.2, residualScale: 2 });
      expectAllClose(await fused.read(), ref.add(ref.scale(activated, 0.2), ref.scale(res, 2)), tol, `${variant} ${name} + residual`);
      fused.dispose();
    }
    expect(variants).toContain(await tuneConvTranspose2d(e.runtime, x.shape, packed));
    packed.dispose();
  });

  it('accepts unbatched (C_in, H, W) input like torch', async () => {
    const e = engine();
    const x = randn([4, 5, 3], rng);
    const wt = weight([4, 3, 4, 4], rng);
    const y = e.ops.convTranspose2d(upload(e, x), upload(e, wt), null, { stride: 2, padding: 1 });
    expect(y.shape).toEqual([3, 10, 6]);
    expectAllClose(await y.read(), refConvTranspose2d(x, wt, null, { stride: 2, padding: 1 }), TOL);
  });

  it('rejects bad arguments, naming them and the shapes', () => {
    const e = engine();
    const x = e.tensor(new Float32Array(2 * 4 * 5 * 5), [2, 4, 5, 5]);
    const w = e.tensor(new Float32Array(3 * 2 * 3 * 3), [3, 2, 3, 3]);
    expect(() => e.ops.convTranspose2d(x, w)).toThrow(/input \[2, 4, 5, 5\] has 4 channels but weight \[3, 2, 3, 3\] expects 3/);
    const w4 = e.tensor(new Float32Array(4 * 2 * 3 * 3), [4, 2, 3, 3]);
    expect(() => e.ops.convTranspose2d(x, w4, null, { stride: 2, outputPadding: 2 })).toThrow(/outputPadding \[2, 2\] must be smaller than either stride \[2, 2\] or dilation \[1, 1\]/);
    expect(() => e.ops.convTranspose2d(x, w4, null, { groups: 3 })).toThrow(/in channels 4 .* not divisible by groups=3/);
    expect(() => e.ops.convTranspose2d(x, w4, null, { padding: 5 })).toThrow(/output size -3x-3 is not positive/);
    expect(() => e.ops.convTranspose2d(x, w4, e.tensor([1, 2, 3], [3]))).toThrow(/bias \[3\] must be \[2\]/);
  });
});
